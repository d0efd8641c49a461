"""Thin signal receivers: what happens to a family's domains reaches its guardians.

* ORM writes to domains, their records and Pubky domains notify the family's guardians
  (``guardians.domain_changes`` says what counts as a change);
* what domain code announces (``domains.signals``: migrations opened, failed or cancelled,
  claims suspended, domains republished, relays down or up) becomes the notifications of
  ``guardians.notifications``.

``pre_save`` keeps the stored row (one query, only for rows already saved and only when the
save can touch a watched column); ``post_save``/``post_delete`` hand old and new to the one
service (a deletion once it is committed). Writes outside Django take the NOTIFY path instead
(``realtime.services``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save, pre_save

from domains import signals as domain_signals
from domains.models import DnsRecord, DomainMigration, DomainRecord, PubkyDomain
from families.models import Family
from guardians import notifications
from guardians.domain_changes import EDIT_COLUMNS
from guardians.services import guardian_domain_changes_notify
from pubky.relay_client import RelayResult

_OLD = "_guardians_stored_row"
# Saves that write only these columns of a domain are no edit (scores, status, timestamps).
_NOT_EDITS = {"sovereignty_score", "updated_at", "status", "pubky_enabled", "pubky_relay_url"}


def row_of(instance: Model) -> dict[str, Any]:
    """The instance's columns as the database stores them (column name → value)."""
    return {f.column: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def _watched(sender: type[Model], update_fields: Any) -> bool:
    if update_fields is None:
        return True
    if sender._meta.db_table == "domain_records":
        return bool(set(update_fields) & set(EDIT_COLUMNS))
    return True


def on_pre_save(
    sender: type[Model], instance: Model, raw: bool = False, update_fields: Any = None, **_: Any
) -> None:
    if raw or instance.pk is None or not _watched(sender, update_fields):
        setattr(instance, _OLD, None)
        return
    stored = sender._default_manager.filter(pk=instance.pk).first()
    setattr(instance, _OLD, row_of(stored) if stored is not None else None)


def on_post_save(
    sender: type[Model],
    instance: Model,
    created: bool,
    raw: bool = False,
    update_fields: Any = None,
    **_: Any,
) -> None:
    if raw:
        return
    old = getattr(instance, _OLD, None)
    if not created and old is None:
        return  # nothing watched was written
    guardian_domain_changes_notify(table=sender._meta.db_table, old=old, new=row_of(instance))
    setattr(instance, _OLD, None)


def on_post_delete(sender: type[Model], instance: Model, **_: Any) -> None:
    # After the commit: a record deleted with its domain (or family) is no news, and a
    # notification written in the middle of that cascade would reference a family being
    # deleted. By then the domain is gone and nothing is stored.
    table, old = sender._meta.db_table, row_of(instance)
    transaction.on_commit(
        lambda: guardian_domain_changes_notify(table=table, old=old, new=None), robust=True
    )


def on_migration_opened(sender: Any, *, migration: DomainMigration, **_: Any) -> None:
    notifications.migration_opened_notify(migration=migration)


def on_migration_failed(sender: Any, *, migration: DomainMigration, reason: str, **_: Any) -> None:
    notifications.migration_failed_notify(migration=migration, reason=reason)


def on_migration_cancelled(
    sender: Any, *, migration: DomainMigration, reason: str, **_: Any
) -> None:
    notifications.migration_cancelled_notify(migration=migration, reason=reason)


def on_pubky_domain_suspended(
    sender: Any, *, pubky_domain: PubkyDomain, reason: str, was_active: bool, **_: Any
) -> None:
    notifications.pubky_domain_suspended_notify(
        pubky_domain=pubky_domain, reason=reason, was_active=was_active
    )


def on_pubky_domain_republished(
    sender: Any, *, pubky_domain: PubkyDomain, relays: list[str], **_: Any
) -> None:
    notifications.pubky_domain_republished_notify(pubky_domain=pubky_domain, relays=relays)


def on_relay_transition(
    sender: Any,
    *,
    url: str,
    transition: str,
    result: RelayResult,
    affected: Mapping[int, Sequence[str]],
    **_: Any,
) -> None:
    notifications.relay_transition_notify(
        url=url, transition=transition, result=result, affected=affected
    )


_ANNOUNCEMENTS = (
    (domain_signals.migration_opened, on_migration_opened),
    (domain_signals.migration_failed, on_migration_failed),
    (domain_signals.migration_cancelled, on_migration_cancelled),
    (domain_signals.pubky_domain_suspended, on_pubky_domain_suspended),
    (domain_signals.pubky_domain_republished, on_pubky_domain_republished),
    (domain_signals.relay_transition, on_relay_transition),
)


def connect() -> None:
    for signal, receiver in _ANNOUNCEMENTS:
        signal.connect(receiver, dispatch_uid=f"guardians-{receiver.__name__}")
    for model in (DomainRecord, DnsRecord, PubkyDomain, Family):
        uid = f"guardians-domain-change-{model.__name__}"
        pre_save.connect(on_pre_save, sender=model, dispatch_uid=f"{uid}-pre")
        post_save.connect(on_post_save, sender=model, dispatch_uid=f"{uid}-post")
    post_delete.connect(on_post_delete, sender=DnsRecord, dispatch_uid="guardians-dns-delete")
