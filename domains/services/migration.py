"""Moving a domain between registrar DNS and Pubky, as a state machine on ``DomainMigration``.

::

    pending ──verify──▶ verifying ──verify──▶ verified ──execute──▶ publishing ──▶ completed
       │                   │  ▲ (no match yet)    │                     │              │
       └──────fail─────────┴──┴───────fail────────┴────────fail─────────┘          rollback
                                     ▼  ──retry──▶ (the step that failed)              ▼
                                   failed ──cancel──▶ cancelled                   rolled_back

* **Ownership** is proven with a DNS TXT record ``_pubky-challenge.<domain>`` holding the
  random token stored on the migration, looked up with dnspython against
  ``PUBKY_DNS_RESOLVERS`` (the system resolver when empty). A lookup that finds no match
  moves the migration to ``verifying`` with the reason in ``error`` and raises
  :class:`ChallengeMismatch`; DNS changes take time, so the caller simply verifies again.
* **Guardians**: when the family requires it, active guardians must approve before
  :func:`domain_migration_execute` runs; one rejection fails the migration (see
  ``guardians.services``). How many is decided when it counts, at each decision and at
  execution: the family's policy *then*, never fewer than ``approvals_required`` (the policy
  when the migration was created), so raising the threshold later holds and lowering it, or
  switching approval off, does not let a migration through with fewer approvals. A guardian
  who leaves the family (revoked or removed) loses their votes on unfinished migrations.
* **Retry and cancel**: a failed migration remembers the step that failed (``failed_step``);
  :func:`domain_migration_retry` reopens it there (a failed publish is retried from
  ``verified``, approvals re-checked), unless a guardian rejected it.
  :func:`domain_migration_cancel` ends an open or failed migration for good (``cancelled``).
* **Execute** snapshots the domain into ``previous_state``, then does the network work with no
  transaction open: DNS → Pubky signs the domain's DNS records into a PKARR packet and puts it
  on every relay; Pubky → DNS reads the packet back into DNS records and retires the key. The
  result is written in one transaction; any failure marks the migration ``failed`` and
  restores the domain's status, writing nothing else.
* **Rollback** restores the snapshot: domain fields, the exact DNS record set and the Pubky
  domain's status. A retired Pubky domain is no longer republished, so its relay copies
  lapse within two hours (the DHT's retention).

Every transition is checked: anything else raises :class:`InvalidTransition` naming the state.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import Any

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from domains.models import (
    OPEN_MIGRATION_STATES,
    DnsRecord,
    DnsRecordType,
    DomainMigration,
    DomainRecord,
    DomainStatus,
    KeyCustody,
    MigrationDirection,
    MigrationState,
    PubkyDomain,
    PubkyDomainStatus,
)
from domains.services.publishing import (
    PublishOutcome,
    _apply_publish_to_domain,
    _open_keypair,
    packet_publish,
    packet_records_for,
    packet_sign,
)
from domains.services.registration import domain_homeserver_account, pubky_domain_create
from domains.services.scoring import sovereignty_score_calculate
from domains.services.wording import migration_problem
from families.models import User
from pubky.keys import Keypair
from pubky.packet import SignedPacket
from pubkyproject.pubky_client import PubkyClient, PubkyServiceError, pubky_client

__all__ = [
    "CHALLENGE_LABEL",
    "ApprovalRequired",
    "ChallengeMismatch",
    "DnsLookupFailed",
    "InvalidTransition",
    "MigrationConflict",
    "MigrationError",
    "create_domain_migration",
    "dns_records_import",
    "dns_resolver",
    "dns_txt_lookup",
    "domain_migration_approvals",
    "domain_migration_approvals_required",
    "domain_migration_cancel",
    "domain_migration_create",
    "domain_migration_execute",
    "domain_migration_fail",
    "domain_migration_retry",
    "domain_migration_rollback",
    "domain_migration_verify",
]

CHALLENGE_LABEL = "_pubky-challenge"
IMPORT_TYPES = (
    DnsRecordType.A,
    DnsRecordType.AAAA,
    DnsRecordType.MX,
    DnsRecordType.TXT,
    DnsRecordType.CNAME,
)


class MigrationError(PubkyServiceError):
    """Base of the migration errors."""

    code = "migration_error"


class InvalidTransition(MigrationError):
    """The migration is not in a state that allows the requested step."""

    code = "invalid_transition"


class MigrationConflict(MigrationError):
    """The domain cannot start this migration (another is open, or it is already there)."""

    code = "migration_conflict"


class ChallengeMismatch(MigrationError):
    """The ``_pubky-challenge`` TXT record is missing or holds another value."""

    code = "challenge_mismatch"


class DnsLookupFailed(MigrationError):
    """The resolvers could not answer (timeout, SERVFAIL, no reachable server)."""

    code = "dns_lookup_failed"


class ApprovalRequired(MigrationError):
    """Guardian approval is required and not (yet) given."""

    code = "approval_required"


# --- DNS ---------------------------------------------------------------------------------------


def _nameserver(spec: str) -> dns.nameserver.Do53Nameserver:
    """``ip``, ``ip:port`` or ``[ipv6]:port`` → a dnspython nameserver."""
    text = spec.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = int(rest.removeprefix(":"))
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    if not host or not 0 < port < 65536:
        raise ValueError(spec)
    return dns.nameserver.Do53Nameserver(host, port)


def dns_resolver(resolvers: Sequence[str] | None = None) -> dns.resolver.Resolver:
    """A dnspython resolver for ``resolvers`` (default ``PUBKY_DNS_RESOLVERS``), uncached.

    With no resolvers configured the system's (``/etc/resolv.conf``) are used.
    """
    specs = list(resolvers if resolvers is not None else settings.PUBKY_DNS_RESOLVERS)
    if specs:
        resolver = dns.resolver.Resolver(configure=False)
        try:
            resolver.nameservers = [_nameserver(spec) for spec in specs]
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"PUBKY_DNS_RESOLVERS entries must be ip, ip:port or [ipv6]:port; got {exc}"
            ) from exc
    else:
        resolver = dns.resolver.Resolver()
    timeout = float(settings.PUBKY_HTTP_TIMEOUT)
    resolver.timeout = timeout
    resolver.lifetime = timeout * 2
    resolver.cache = None  # a challenge must be seen as soon as it is published
    return resolver


def _lookup(resolver: dns.resolver.Resolver, name: str, rtype: str) -> dns.resolver.Answer | None:
    """An answer, or ``None`` for NXDOMAIN/NODATA; raises :class:`DnsLookupFailed` otherwise."""
    try:
        return resolver.resolve(name, rtype, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    except dns.resolver.NoNameservers as exc:
        raise DnsLookupFailed(f"no resolver could answer {name} {rtype}: {exc}") from exc
    except dns.exception.Timeout as exc:
        raise DnsLookupFailed(f"DNS lookup of {name} {rtype} timed out") from exc
    except dns.exception.DNSException as exc:
        raise DnsLookupFailed(f"DNS lookup of {name} {rtype} failed: {exc}") from exc


def dns_txt_lookup(name: str, *, resolvers: Sequence[str] | None = None) -> list[str]:
    """The TXT strings at ``name`` (each record's strings joined), ``[]`` when there are none."""
    answer = _lookup(dns_resolver(resolvers), name, "TXT")
    if answer is None:
        return []
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]


# --- state machine helpers ---------------------------------------------------------------------


# What can be done with a migration in each final state, for error messages.
_NEXT_STEPS: dict[str, str] = {
    MigrationState.FAILED: "retry it (from the step that failed) or cancel it",
    MigrationState.COMPLETED: "roll it back to undo it",
    MigrationState.CANCELLED: "open a new migration",
    MigrationState.ROLLED_BACK: "open a new migration",
}


def _describe(migration: DomainMigration) -> str:
    """``failed at publishing (reason)``, ``completed``, … : the real state, for messages."""
    if migration.state == MigrationState.FAILED:
        where = f" at {migration.failed_step}" if migration.failed_step else ""
        error = f" ({migration.error[:200]})" if migration.error else ""
        return f"failed{where}{error}"
    return str(migration.state)


def _require_state(migration: DomainMigration, step: str, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if migration.state not in allowed:
        hint = _NEXT_STEPS.get(migration.state)
        raise InvalidTransition(
            f"migration {migration.pk} of {migration.domain.name} is {_describe(migration)}; "
            f"cannot {step} it (only from {', '.join(allowed)})" + (f"; {hint}" if hint else "")
        )


def _locked(migration: DomainMigration) -> DomainMigration:
    return DomainMigration.objects.select_for_update().select_related("domain").get(pk=migration.pk)


def _sync(target: DomainMigration, source: DomainMigration) -> DomainMigration:
    """Bring the caller's instance up to date with the row ``source`` saved.

    Services work on a locked copy but return the caller's object, so callers keep one
    instance; reloading (rather than copying fields) also drops stale cached relations.
    """
    if target is not source:
        target.refresh_from_db()
    return target


def _notify(migration: DomainMigration, kind: str, title: str, message: str = "") -> None:
    from guardians.services import guardian_notification_create

    guardian_notification_create(
        family=migration.domain.family,
        kind=kind,
        title=title,
        message=message,
        payload={
            "migration_id": migration.pk,
            "domain": migration.domain.name,
            "direction": migration.direction,
            "state": migration.state,
        },
    )


def _family_requires(family: Any) -> int:
    return family.guardian_threshold if family.guardian_approval_required else 0


def domain_migration_approvals_required(migration: DomainMigration) -> int:
    """How many approvals the migration needs now: the family's policy at this moment, never
    fewer than when the migration was created (``approvals_required``)."""
    from families.models import Family

    family = Family.objects.get(pk=migration.domain.family_id)
    return max(migration.approvals_required, _family_requires(family))


def domain_migration_approvals(migration: DomainMigration) -> int:
    """How many *active* guardians approved (a revoked guardian's approval no longer counts)."""
    from guardians.models import ApprovalDecision, GuardianStatus

    return migration.approvals.filter(
        decision=ApprovalDecision.APPROVED, guardian__status=GuardianStatus.ACTIVE
    ).count()


# --- create ------------------------------------------------------------------------------------


@transaction.atomic
def domain_migration_create(
    *,
    domain: DomainRecord,
    direction: str,
    created_by: User | None = None,
) -> DomainMigration:
    """Open a migration of ``domain`` and issue its DNS challenge token.

    The domain goes to ``migrating``. When the family requires guardian approval, the
    required count is fixed now (the family's threshold) and the guardians are notified.
    """
    from guardians.models import FederationGuardian

    if direction not in MigrationDirection.values:
        raise MigrationConflict(
            f"unknown direction {direction!r} (use {', '.join(MigrationDirection.values)})",
            code="invalid_direction",
        )
    domain = DomainRecord.objects.select_for_update().select_related("family").get(pk=domain.pk)
    if domain.migrations.filter(state__in=OPEN_MIGRATION_STATES).exists():
        raise MigrationConflict(f"{domain.name} already has a migration in progress")
    pubky_domain = PubkyDomain.objects.filter(domain=domain).first()
    on_pubky = pubky_domain is not None and pubky_domain.status == PubkyDomainStatus.ACTIVE
    if direction == MigrationDirection.DNS_TO_PUBKY and on_pubky:
        raise MigrationConflict(f"{domain.name} is already on Pubky")
    if direction == MigrationDirection.PUBKY_TO_DNS and not on_pubky:
        raise MigrationConflict(f"{domain.name} is not on Pubky; nothing to move back")
    family = domain.family
    required = _family_requires(family)
    if required:
        active = FederationGuardian.objects.active().filter(family=family).count()
        if active < required:
            raise MigrationConflict(
                f"{family.name} requires {required} guardian approval(s) but has only "
                f"{active} active guardian(s)",
                code="not_enough_guardians",
            )
    migration = DomainMigration(
        domain=domain,
        pubky_domain=pubky_domain,
        direction=direction,
        state=MigrationState.PENDING,
        challenge_name=f"{CHALLENGE_LABEL}.{domain.name}",
        challenge_value=secrets.token_urlsafe(32),
        approvals_required=required,
        previous_state={"domain": {"status": domain.status}},
        created_by=created_by,
    )
    migration.full_clean()
    try:
        with transaction.atomic():
            migration.save()
    except IntegrityError as exc:  # one_open_migration_per_domain, lost a race
        raise MigrationConflict(f"{domain.name} already has a migration in progress") from exc
    domain.status = DomainStatus.MIGRATING
    domain.full_clean()
    domain.save()
    if required:
        _notify(
            migration,
            "migration_approval_requested",
            f"Approve moving {domain.name}",
            f"{required} guardian approval(s) needed to move {domain.name} "
            f"({migration.get_direction_display()}).",
        )
    return migration


# --- verify ------------------------------------------------------------------------------------


def domain_migration_verify(
    *,
    migration: DomainMigration,
    resolvers: Sequence[str] | None = None,
    import_records: bool = False,
) -> DomainMigration:
    """Check the ``_pubky-challenge`` TXT record; on a match the migration is ``verified``.

    No match (or no record) leaves it ``verifying`` with the reason in ``error`` and raises
    :class:`ChallengeMismatch`; unreachable resolvers raise :class:`DnsLookupFailed`. With
    ``import_records`` the domain's live apex and ``www`` records are then copied into its
    stored DNS records (see :func:`dns_records_import`).
    """
    _require_state(migration, "verify", (MigrationState.PENDING, MigrationState.VERIFYING))
    error: MigrationError | None = None
    try:
        found = dns_txt_lookup(migration.challenge_name, resolvers=resolvers)
    except DnsLookupFailed as exc:
        error, found = exc, []
    if error is None and migration.challenge_value not in found:
        shown = ", ".join(repr(v[:80]) for v in found) if found else "no TXT record"
        error = ChallengeMismatch(
            f"{migration.challenge_name} TXT does not hold the challenge token of migration "
            f'{migration.pk} (found {shown}); publish TXT "{migration.challenge_value}" '
            "there and verify again"
        )
    with transaction.atomic():
        locked = _locked(migration)
        _require_state(locked, "verify", (MigrationState.PENDING, MigrationState.VERIFYING))
        if error is None:
            locked.state = MigrationState.VERIFIED
            locked.verified_at = timezone.now()
            locked.error = ""
        else:
            locked.state = MigrationState.VERIFYING
            locked.error = str(error)
        locked.full_clean()
        locked.save()
    _sync(migration, locked)
    if error is not None:
        raise error
    if import_records:
        dns_records_import(domain=migration.domain, resolvers=resolvers)
    return migration


def dns_records_import(
    *,
    domain: DomainRecord,
    names: Sequence[str] = ("@", "www"),
    types: Sequence[str] = IMPORT_TYPES,
    resolvers: Sequence[str] | None = None,
) -> list[DnsRecord]:
    """Copy the live DNS records of the domain (``types`` at ``names``) into its stored ones.

    Registrars offer no zone transfer, so the common names are queried one by one. Records
    already stored are kept; only missing ones are added (in one transaction, after all the
    lookups). CNAMEs are imported for non-apex names only, as the apex cannot have one.
    """
    resolver = dns_resolver(resolvers)
    found: list[tuple[str, str, str, int]] = []
    for name in names:
        fqdn = domain.name if name == "@" else f"{name}.{domain.name}"
        for rtype in types:
            if rtype == DnsRecordType.CNAME and name == "@":
                continue
            answer = _lookup(resolver, fqdn, rtype)
            if answer is None or answer.rrset is None:
                continue
            if dns.rdatatype.to_text(answer.rrset.rdtype) != rtype:
                continue  # a CNAME answered for the name; imported as CNAME on its own
            owner = answer.rrset.name.to_text().rstrip(".").lower()
            if owner != fqdn:
                continue
            for rdata in answer.rrset:
                found.append((name, rtype, rdata.to_text(), int(answer.rrset.ttl)))
    created: list[DnsRecord] = []
    with transaction.atomic():
        existing = set(domain.dns_records.values_list("name", "rtype", "value"))
        for name, rtype, value, ttl in found:
            if (name, rtype, value) in existing:
                continue
            row = DnsRecord(domain=domain, name=name, rtype=rtype, value=value, ttl=ttl)
            row.full_clean()
            row.save()
            existing.add((name, rtype, value))
            created.append(row)
    return created


# --- execute -----------------------------------------------------------------------------------


def _snapshot(
    domain: DomainRecord, pubky_domain: PubkyDomain | None, status: str
) -> dict[str, Any]:
    return {
        "domain": {
            "status": status,
            "pubky_enabled": domain.pubky_enabled,
            "pubky_relay_url": domain.pubky_relay_url,
            "pubky_homeserver_url": domain.pubky_homeserver_url,
            "registrar": domain.registrar,
            "dns_provider": domain.dns_provider,
        },
        "dns_records": [
            [r.name, r.rtype, r.value, r.ttl]
            for r in domain.dns_records.order_by("name", "rtype", "value")
        ],
        "pubky_domain": (
            {"id": pubky_domain.pk, "status": pubky_domain.status}
            if pubky_domain is not None
            else None
        ),
    }


def _begin_publishing(migration: DomainMigration) -> DomainMigration:
    """verified → publishing, with the snapshot taken, in one short transaction."""
    with transaction.atomic():
        locked = _locked(migration)
        _require_state(locked, "execute", (MigrationState.VERIFIED,))
        required = domain_migration_approvals_required(locked)
        approved = domain_migration_approvals(locked)
        if approved < required:
            raised = (
                f" (the family's threshold was raised from {locked.approvals_required})"
                if required > locked.approvals_required
                else ""
            )
            raise ApprovalRequired(
                f"migration {locked.pk} of {locked.domain.name} needs {required} guardian "
                f"approval(s){raised}; {approved} given"
            )
        domain = locked.domain
        pubky_domain = PubkyDomain.objects.filter(domain=domain).first()
        original = locked.previous_state.get("domain", {}).get("status", DomainStatus.ACTIVE)
        locked.previous_state = _snapshot(domain, pubky_domain, original)
        locked.approvals_required = required  # what it was approved under (never lower)
        locked.pubky_domain = pubky_domain
        locked.state = MigrationState.PUBLISHING
        locked.error = ""
        locked.full_clean()
        locked.save()
    return _sync(migration, locked)


def domain_migration_execute(
    *, migration: DomainMigration, client: PubkyClient | None = None
) -> DomainMigration:
    """Carry out a verified (and, if required, approved) migration.

    Raises :class:`ApprovalRequired` without changing anything while approvals are missing.
    Any failure after that marks the migration ``failed`` (domain status restored, nothing
    else written) and re-raises the typed error.
    """
    client = client or pubky_client()
    _begin_publishing(migration)
    try:
        if migration.direction == MigrationDirection.DNS_TO_PUBKY:
            _execute_dns_to_pubky(migration, client)
        else:
            _execute_pubky_to_dns(migration, client)
    except PubkyServiceError as exc:
        domain_migration_fail(migration=migration, reason=str(exc))
        raise
    except Exception as exc:
        domain_migration_fail(migration=migration, reason=f"{type(exc).__name__}: {exc}")
        raise
    return migration


def _execute_dns_to_pubky(migration: DomainMigration, client: PubkyClient) -> None:
    domain = migration.domain
    existing = PubkyDomain.objects.filter(domain=domain).first()
    if existing is not None and existing.key_custody == KeyCustody.SERVICE:
        # A domain that was on Pubky before keeps its key (and its name on the relays).
        keypair = _open_keypair(existing, "sign PKARR packet (migration)")
        cas = existing.last_packet_timestamp
        homeserver_key = existing.homeserver_key or domain_homeserver_account(
            keypair=keypair, family=domain.family, client=client
        )
    elif existing is not None:
        raise MigrationConflict(
            f"{domain.name} has a self-custody key; the family must publish its packet"
        )
    else:
        keypair = client.generate_keypair()
        cas = None
        homeserver_key = domain_homeserver_account(
            keypair=keypair, family=domain.family, client=client
        )
    records = packet_records_for(domain, homeserver_key=homeserver_key)
    packet = packet_sign(keypair=keypair, records=records, domain_name=domain.name, after=cas)

    def resign(newest: int) -> SignedPacket:
        return packet_sign(keypair=keypair, records=records, domain_name=domain.name, after=newest)

    outcome = packet_publish(packet=packet, cas=cas, client=client, resign=resign)
    outcome.raise_if_nothing_stored(domain.name)
    _complete_dns_to_pubky(migration, keypair, existing, outcome, client, homeserver_key)


@transaction.atomic
def _complete_dns_to_pubky(
    migration: DomainMigration,
    keypair: Keypair,
    existing: PubkyDomain | None,
    outcome: PublishOutcome,
    client: PubkyClient,
    homeserver_key: str,
) -> None:
    locked = _locked(migration)
    _require_state(locked, "complete", (MigrationState.PUBLISHING,))
    domain = locked.domain
    homeserver_url = domain.family.pubky_homeserver_url or client.homeserver_base_url or ""
    if existing is None:
        pubky_domain = pubky_domain_create(
            domain=domain,
            keypair=keypair,
            homeserver_url=homeserver_url,
            homeserver_key=homeserver_key,
        )
    else:
        pubky_domain = PubkyDomain.objects.select_for_update().get(pk=existing.pk)
        if homeserver_key and pubky_domain.homeserver_key != homeserver_key:
            pubky_domain.homeserver_key = homeserver_key  # saved with the publish outcome
    locked.pubky_domain = pubky_domain
    _finish(locked, MigrationState.COMPLETED)
    domain.refresh_from_db()
    domain.status = DomainStatus.ACTIVE
    domain.pubky_homeserver_url = homeserver_url
    domain.full_clean()
    domain.save()
    # Scores the domain too, now that the migration counts as completed.
    _apply_publish_to_domain(
        pubky_domain=pubky_domain, outcome=outcome, reason="migration_completed"
    )
    _sync(migration, locked)


def _execute_pubky_to_dns(migration: DomainMigration, client: PubkyClient) -> None:
    domain = migration.domain
    pubky_domain = PubkyDomain.objects.filter(domain=domain).first()
    if pubky_domain is None:
        raise MigrationConflict(f"{domain.name} has no Pubky domain")
    packet = client.resolve(pubky_domain.public_key)
    _complete_pubky_to_dns(migration, pubky_domain, packet)


@transaction.atomic
def _complete_pubky_to_dns(
    migration: DomainMigration, pubky_domain: PubkyDomain, packet: SignedPacket | None
) -> None:
    locked = _locked(migration)
    _require_state(locked, "complete", (MigrationState.PUBLISHING,))
    domain = locked.domain
    existing = set(domain.dns_records.values_list("name", "rtype", "value"))
    for record in packet.records() if packet is not None else []:
        if record.name.endswith(".") or record.rtype not in DnsRecordType.values:
            continue  # outside the key, or a type registrar DNS rows don't model
        if record.name == "_pubky" or record.name.startswith("_pubky."):
            continue  # the key's own Pubky identity (its homeserver), not a DNS record
        value = record.value
        if record.rtype == DnsRecordType.TXT:
            value = record.text()
        if (record.name, record.rtype, value) in existing:
            continue
        row = DnsRecord(domain=domain, name=record.name, rtype=record.rtype, value=value)
        row.ttl = record.ttl
        row.full_clean()
        row.save()
        existing.add((record.name, record.rtype, value))
    pubky_domain = PubkyDomain.objects.select_for_update().get(pk=pubky_domain.pk)
    pubky_domain.status = PubkyDomainStatus.DISABLED
    pubky_domain.full_clean()
    pubky_domain.save()
    _finish(locked, MigrationState.COMPLETED)
    domain.refresh_from_db()
    domain.status = DomainStatus.ACTIVE
    domain.pubky_enabled = False
    domain.pubky_relay_url = ""
    domain.full_clean()
    domain.save()
    sovereignty_score_calculate(domain=domain, reason="migration_completed")
    _sync(migration, locked)


def _finish(migration: DomainMigration, state: str) -> None:
    migration.state = state
    now = timezone.now()
    if state == MigrationState.COMPLETED:
        migration.completed_at = now
    elif state == MigrationState.ROLLED_BACK:
        migration.rolled_back_at = now
    migration.full_clean()
    migration.save()


# --- fail and rollback -------------------------------------------------------------------------


@transaction.atomic
def domain_migration_fail(*, migration: DomainMigration, reason: str) -> DomainMigration:
    """Stop an open migration: ``failed`` with ``reason``; the domain gets its status back."""
    locked = _locked(migration)
    _require_state(locked, "fail", OPEN_MIGRATION_STATES)
    locked.error = reason[:5000]
    locked.failed_step = locked.state
    _finish(locked, MigrationState.FAILED)
    domain = locked.domain
    original = locked.previous_state.get("domain", {}).get("status", DomainStatus.ACTIVE)
    if domain.status == DomainStatus.MIGRATING:
        domain.status = original
        domain.full_clean()
        domain.save()
    if locked.approvals_required:
        message = migration_problem(reason)[:500]  # the raw reason stays in `error`
        _notify(locked, "migration_failed", f"Moving {domain.name} failed", message)
    return _sync(migration, locked)


def _rejected_by(migration: DomainMigration) -> str | None:
    """The name of an active guardian who rejected the migration, if any."""
    from guardians.models import ApprovalDecision, GuardianStatus

    rejection = (
        migration.approvals.filter(
            decision=ApprovalDecision.REJECTED, guardian__status=GuardianStatus.ACTIVE
        )
        .select_related("guardian")
        .first()
    )
    return rejection.guardian.name if rejection is not None else None


# Where a retry resumes: a failed publish is carried out again from ``verified``.
_RETRY_FROM: dict[str, str] = {
    MigrationState.PENDING: MigrationState.PENDING,
    MigrationState.VERIFYING: MigrationState.VERIFYING,
    MigrationState.VERIFIED: MigrationState.VERIFIED,
    MigrationState.PUBLISHING: MigrationState.VERIFIED,
}


@transaction.atomic
def domain_migration_retry(*, migration: DomainMigration) -> DomainMigration:
    """Reopen a failed migration at the step that failed; then ``advance`` it as usual.

    Verification is kept (a failed publish does not need the DNS challenge again); approvals
    are checked again when it executes, against the policy then. A migration a guardian
    rejected is not reopened (open a new one and ask the guardians again), nor one whose
    domain has another migration open meanwhile.
    """
    locked = _locked(migration)
    _require_state(locked, "retry", (MigrationState.FAILED,))
    domain = DomainRecord.objects.select_for_update().get(pk=locked.domain_id)
    rejected_by = _rejected_by(locked)
    if rejected_by is not None:
        raise InvalidTransition(
            f"migration {locked.pk} of {domain.name} was rejected by guardian {rejected_by}; "
            "a rejected migration is not retried: cancel it and open a new one",
            code="rejected",
        )
    if domain.migrations.exclude(pk=locked.pk).filter(state__in=OPEN_MIGRATION_STATES).exists():
        raise MigrationConflict(f"{domain.name} has another migration in progress")
    resume = _RETRY_FROM.get(locked.failed_step, MigrationState.PENDING)
    if resume == MigrationState.VERIFIED and locked.verified_at is None:
        resume = MigrationState.VERIFYING
    locked.state = resume
    locked.error = ""
    locked.failed_step = ""
    locked.completed_at = None
    locked.full_clean()
    try:
        with transaction.atomic():
            locked.save()
    except IntegrityError as exc:  # one_open_migration_per_domain, lost a race
        raise MigrationConflict(f"{domain.name} has another migration in progress") from exc
    if domain.status != DomainStatus.MIGRATING:
        domain.status = DomainStatus.MIGRATING
        domain.full_clean()
        domain.save()
    return _sync(migration, locked)


@transaction.atomic
def domain_migration_cancel(*, migration: DomainMigration, reason: str = "") -> DomainMigration:
    """End an open or failed migration for good (``cancelled``); the domain gets its status back.

    A completed migration is rolled back instead (:func:`domain_migration_rollback`).
    """
    locked = _locked(migration)
    _require_state(locked, "cancel", (*OPEN_MIGRATION_STATES, MigrationState.FAILED))
    if locked.state == MigrationState.PUBLISHING:
        raise InvalidTransition(
            f"migration {locked.pk} of {locked.domain.name} is publishing right now; "
            "cancel it once it has completed (roll it back) or failed",
            code="invalid_transition",
        )
    was_open = locked.state in OPEN_MIGRATION_STATES
    locked.error = (reason or "cancelled")[:5000]
    _finish(locked, MigrationState.CANCELLED)
    domain = locked.domain
    original = locked.previous_state.get("domain", {}).get("status", DomainStatus.ACTIVE)
    if was_open and domain.status == DomainStatus.MIGRATING:
        domain.status = original
        domain.full_clean()
        domain.save()
    if domain_migration_approvals_required(locked):
        _notify(locked, "migration_cancelled", f"Moving {domain.name} was cancelled", reason)
    return _sync(migration, locked)


@transaction.atomic
def domain_migration_rollback(*, migration: DomainMigration, reason: str = "") -> DomainMigration:
    """Undo a completed migration from its ``previous_state`` snapshot.

    Restores the domain's fields, its exact DNS record set (rows are deleted and created
    one by one so receivers see each) and the Pubky domain's status; a Pubky domain the
    migration created is disabled (its sealed key is kept for audit and a later retry).
    Only the latest completed migration of a domain can be rolled back.
    """
    locked = _locked(migration)
    _require_state(locked, "roll back", (MigrationState.COMPLETED,))
    domain = DomainRecord.objects.select_for_update().get(pk=locked.domain_id)
    newer = domain.migrations.exclude(pk=locked.pk).filter(created_at__gt=locked.created_at)
    if newer.exclude(
        state__in=(MigrationState.FAILED, MigrationState.CANCELLED, MigrationState.ROLLED_BACK)
    ).exists():
        raise InvalidTransition(
            f"{domain.name} has a newer migration than {locked.pk}; roll that one back first"
        )
    snapshot = locked.previous_state or {}
    fields = snapshot.get("domain", {})
    for name in (
        "status",
        "pubky_enabled",
        "pubky_relay_url",
        "pubky_homeserver_url",
        "registrar",
        "dns_provider",
    ):
        if name in fields:
            setattr(domain, name, fields[name])
    if domain.status == DomainStatus.MIGRATING:
        domain.status = DomainStatus.ACTIVE
    domain.full_clean()
    domain.save()

    wanted = {(n, t, v): ttl for n, t, v, ttl in snapshot.get("dns_records", [])}
    for row in list(domain.dns_records.all()):
        key = (row.name, row.rtype, row.value)
        if key not in wanted:
            row.delete()
        elif row.ttl != wanted[key]:
            row.ttl = wanted[key]
            row.save()
        wanted.pop(key, None)
    for (name, rtype, value), ttl in wanted.items():
        row = DnsRecord(domain=domain, name=name, rtype=rtype, value=value, ttl=ttl)
        row.full_clean()
        row.save()

    before = snapshot.get("pubky_domain")
    pubky_domain = PubkyDomain.objects.select_for_update().filter(domain=domain).first()
    if pubky_domain is not None:
        pubky_domain.status = before["status"] if before else PubkyDomainStatus.DISABLED
        pubky_domain.full_clean()
        pubky_domain.save()

    locked.error = reason[:5000]
    _finish(locked, MigrationState.ROLLED_BACK)
    sovereignty_score_calculate(domain=domain, reason="migration_rolled_back")
    return _sync(migration, locked)


# --- names the public API promises (thin aliases) -----------------------------------------------


def create_domain_migration(
    domain: DomainRecord, direction: str = MigrationDirection.DNS_TO_PUBKY, **kwargs: object
) -> DomainMigration:
    """The public API's name for :func:`domain_migration_create`."""
    return domain_migration_create(domain=domain, direction=direction, **kwargs)  # type: ignore[arg-type]
