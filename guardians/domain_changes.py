"""Guardians hear about every change to their family's domains, however it was written.

A change is read from a row's values before and after the write (column name → value), so
both write paths share one description of it:

* ORM writes: ``guardians.receivers`` reads the stored row before the save and compares;
* writes outside Django (raw SQL): the NOTIFY triggers queue the old row with the change and
  ``manage.py pubky_listen`` compares it with the row now (``realtime.services``).

What is notified (the notification ``kind``):

======================================  ==========================================================
``dns_record_added`` / ``_changed`` /   a DNS record of the domain was added, changed or removed
``_removed``
``domain_edited``                       the domain's name, visibility, registrar, DNS provider or
                                        homeserver facts changed
``pubky_domain_registered``             a Pubky domain went live for the first time
``pubky_domain_suspended``              an active Pubky domain stopped being active
``pubky_domain_republished``            a suspended Pubky domain is active again, or the family
                                        republished it (``pubky_domain_publish``)
``key_rotated``                         a Pubky domain's key, or the family's own key, changed
``family_identity_removed``             the family's own Pubky key was taken away (e.g. its holder
                                        proved it for another family)
``key_proven`` / ``key_proof_lost``     a self-held key (a Pubky domain's, or the family's own)
                                        was proven by its holder, or is no longer proven
======================================  ==========================================================

The hourly keep-alive republish of unchanged packets notifies nobody. Changes no row shows (a
republish the family asked for) are announced by domain code (``domains.signals``) and
notified by ``guardians.notifications`` through
:func:`guardians.services.guardian_domain_change_notify`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domains.models import DomainRecord

# Columns of domain_records whose change is an edit the guardians hear about.
EDIT_COLUMNS = (
    "name",
    "visibility",
    "registrar",
    "dns_provider",
    "self_hosted_homeserver",
    "pubky_homeserver_url",
)

WATCHED_TABLES = ("domain_records", "dns_records", "pubky_domains", "families")

Row = dict[str, Any]


@dataclass(frozen=True)
class DomainChange:
    """One change guardians are told about."""

    kind: str
    family_id: int
    domain_id: int | None
    domain_name: str
    title: str
    detail: dict[str, Any] = field(default_factory=dict)
    message: str = ""  # the why, where the row says it (a suspension's reason)


def _record(row: Row) -> dict[str, Any]:
    return {c: row.get(c) for c in ("id", "name", "rtype", "value", "ttl")}


def _record_text(row: Row) -> str:
    return f"{row.get('name')} {row.get('rtype')} {row.get('value')}"


def _dns_changes(old: Row | None, new: Row | None) -> list[tuple[str, str, dict[str, Any]]]:
    if old is None and new is not None:
        return [
            ("dns_record_added", f"DNS record added: {_record_text(new)}", {"record": _record(new)})
        ]
    if new is None and old is not None:
        return [
            (
                "dns_record_removed",
                f"DNS record removed: {_record_text(old)}",
                {"record": _record(old)},
            )
        ]
    if old is None or new is None:
        return []
    columns = ("domain_id", "name", "rtype", "value", "ttl")
    if all(old.get(c) == new.get(c) for c in columns):
        return []
    return [
        (
            "dns_record_changed",
            f"DNS record changed: {_record_text(old)} → {_record_text(new)}",
            {"before": _record(old), "record": _record(new)},
        )
    ]


def _domain_changes(old: Row | None, new: Row | None) -> list[tuple[str, str, dict[str, Any]]]:
    if old is None or new is None:
        return []  # a new domain shows up with its records / Pubky registration
    changed = {c: [old.get(c), new.get(c)] for c in EDIT_COLUMNS if old.get(c) != new.get(c)}
    if not changed:
        return []
    return [("domain_edited", f"Domain edited: {', '.join(changed)}", {"changes": changed})]


def _pubky_changes(old: Row | None, new: Row | None) -> list[tuple[str, str, dict[str, Any]]]:
    if new is None:
        return []
    name = new.get("name")
    changes: list[tuple[str, str, dict[str, Any]]] = []
    was_active = old is not None and old.get("status") == "active"
    is_active = new.get("status") == "active"
    detail = {"public_key": new.get("public_key"), "status": new.get("status")}
    if is_active and not was_active:
        if (old or {}).get("last_published_at") is None and (old or {}).get("status") in (
            None,
            "draft",
        ):
            changes.append(("pubky_domain_registered", f"{name} is on Pubky", detail))
        else:
            changes.append(("pubky_domain_republished", f"{name} is on Pubky again", detail))
    elif was_active and not is_active:
        reason = new.get("suspended_reason") or ""
        changes.append(
            (
                "pubky_domain_suspended",
                f"{name} is no longer on Pubky ({new.get('status')})",
                {**detail, "reason": reason} if reason else detail,
            )
        )
    changes.extend(_proof_changes(old, new, "key_verification", f"the key of {name}"))
    if old is not None and old.get("public_key") != new.get("public_key"):
        changes.append(
            (
                "key_rotated",
                f"The key of {name} changed",
                {"before": old.get("public_key"), "public_key": new.get("public_key")},
            )
        )
    return changes


def _proof_changes(
    old: Row | None, new: Row, column: str, what: str
) -> list[tuple[str, str, dict[str, Any]]]:
    """A key's proof of possession made (``proven``) or lost (from ``proven`` to anything)."""
    before = (old or {}).get(column)
    after = new.get(column)
    if before == after or "proven" not in (before, after):
        return []
    public_key = new.get("public_key", new.get("pubky_public_key"))
    detail = {"public_key": public_key, "before": before, "verification": after}
    if after == "proven":
        return [("key_proven", f"Its holder proved {what}", detail)]
    return [("key_proof_lost", f"{what[0].upper()}{what[1:]} is no longer proven", detail)]


def _family_changes(old: Row | None, new: Row | None) -> list[tuple[str, str, dict[str, Any]]]:
    if old is None or new is None:
        return []
    changes = _proof_changes(old, new, "pubky_key_verification", "the family's Pubky key")
    before, after = old.get("pubky_public_key"), new.get("pubky_public_key")
    if before and not after:
        changes.append(
            (
                "family_identity_removed",
                "The family's Pubky identity was removed",
                {
                    "before": before,
                    "reason": "The family no longer has a Pubky identity key. To attach one the "
                    "family holds itself, prove it (POST /api/key-proofs/) and attach it "
                    "(POST /api/families/<id>/pubky/attach/).",
                },
            )
        )
    elif before and before != after:
        changes.append(
            (
                "key_rotated",
                "The family's Pubky key changed",
                {"before": before, "public_key": after},
            )
        )
    return changes


def domain_changes(table: str, old: Row | None, new: Row | None) -> list[DomainChange]:
    """What guardians should hear about a write to ``table`` (``old``/``new`` are ``None``
    for an insert/delete). Reads the domain's family and name when the row has no family."""
    if table == "dns_records":
        described = _dns_changes(old, new)
    elif table == "domain_records":
        described = _domain_changes(old, new)
    elif table == "pubky_domains":
        described = _pubky_changes(old, new)
    elif table == "families":
        described = _family_changes(old, new)
    else:
        return []
    if not described:
        return []
    row = new if new is not None else old
    assert row is not None
    if table == "families":
        family_id, domain_id, domain_name = row["id"], None, ""
    elif table == "domain_records":
        family_id, domain_id, domain_name = row["family_id"], row["id"], row["name"]
    elif table == "pubky_domains":
        family_id, domain_id, domain_name = row["family_id"], row.get("domain_id"), row["name"]
    else:
        found = (
            DomainRecord.objects.filter(pk=row["domain_id"])
            .values_list("family_id", "name")
            .first()
        )
        if found is None:
            return []  # the domain itself is being deleted
        family_id, domain_name = found
        domain_id = row["domain_id"]
    return [
        DomainChange(
            kind=kind,
            family_id=family_id,
            domain_id=domain_id,
            domain_name=domain_name,
            title=title[:200],
            detail=_jsonable(detail),
            message=str(detail.get("reason") or ""),
        )
        for kind, title, detail in described
    ]


def _jsonable(value: Any) -> Any:
    """Row values as JSON can hold them (datetimes as ISO text, bytes left out)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if not isinstance(v, bytes | memoryview)}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
