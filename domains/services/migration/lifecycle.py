"""The migration state machine's steps outside execution: open, verify, fail, retry, cancel.

Every step checks the migration's state (``state.require_state``) and announces what
guardians hear about (``domains.signals``: opened, failed, cancelled); it never calls them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone

from domains.guardianship import guardianship
from domains.models import (
    OPEN_MIGRATION_STATES,
    DomainMigration,
    DomainRecord,
    DomainStatus,
    MigrationDirection,
    MigrationState,
    PubkyDomain,
    PubkyDomainStatus,
)
from domains.services.migration.approvals import (
    domain_migration_rejected_by,
    family_approvals_required,
)
from domains.services.migration.dns import dns_txt_lookup
from domains.services.migration.errors import (
    ChallengeMismatch,
    DnsLookupFailed,
    InvalidTransition,
    MigrationConflict,
    MigrationError,
)
from domains.services.migration.record_import import dns_records_import
from domains.services.migration.state import (
    migration_finish,
    migration_locked,
    migration_sync,
    require_state,
)
from domains.signals import (
    announce_migration_cancelled,
    announce_migration_failed,
    announce_migration_opened,
)
from families.models import User

__all__ = [
    "CHALLENGE_LABEL",
    "create_domain_migration",
    "domain_migration_cancel",
    "domain_migration_fail",
    "domain_migration_retry",
    "domain_migration_verify",
]

CHALLENGE_LABEL = "_pubky-challenge"

# Where a retry resumes: a failed publish is carried out again from ``verified``.
_RETRY_FROM: dict[str, str] = {
    MigrationState.PENDING: MigrationState.PENDING,
    MigrationState.VERIFYING: MigrationState.VERIFYING,
    MigrationState.VERIFIED: MigrationState.VERIFIED,
    MigrationState.PUBLISHING: MigrationState.VERIFIED,
}


# --- open --------------------------------------------------------------------------------------


@transaction.atomic
def create_domain_migration(
    domain: DomainRecord,
    direction: str = MigrationDirection.DNS_TO_PUBKY,
    *,
    created_by: User | None = None,
) -> DomainMigration:
    """Open a migration of ``domain`` and issue its DNS challenge token.

    The domain goes to ``migrating``. When the family requires guardian approval, the
    required count is fixed now (the family's threshold); the opening is announced
    (``migration_opened``), so the guardians are asked.
    """
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
    required = family_approvals_required(family)
    if required:
        active = guardianship().active_guardian_count(family_id=family.pk)
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
    announce_migration_opened(migration=migration)
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
    require_state(migration, "verify", (MigrationState.PENDING, MigrationState.VERIFYING))
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
        locked = migration_locked(migration)
        require_state(locked, "verify", (MigrationState.PENDING, MigrationState.VERIFYING))
        if error is None:
            locked.state = MigrationState.VERIFIED
            locked.verified_at = timezone.now()
            locked.error = ""
        else:
            locked.state = MigrationState.VERIFYING
            locked.error = str(error)
        locked.full_clean()
        locked.save()
    migration_sync(migration, locked)
    if error is not None:
        raise error
    if import_records:
        dns_records_import(domain=migration.domain, resolvers=resolvers)
    return migration


# --- fail, retry, cancel -----------------------------------------------------------------------


@transaction.atomic
def domain_migration_fail(*, migration: DomainMigration, reason: str) -> DomainMigration:
    """Stop an open migration: ``failed`` with ``reason``; the domain gets its status back."""
    locked = migration_locked(migration)
    require_state(locked, "fail", OPEN_MIGRATION_STATES)
    locked.error = reason[:5000]
    locked.failed_step = locked.state
    migration_finish(locked, MigrationState.FAILED)
    domain = locked.domain
    original = locked.previous_state.get("domain", {}).get("status", DomainStatus.ACTIVE)
    if domain.status == DomainStatus.MIGRATING:
        domain.status = original
        domain.full_clean()
        domain.save()
    announce_migration_failed(migration=locked, reason=reason)
    return migration_sync(migration, locked)


@transaction.atomic
def domain_migration_retry(*, migration: DomainMigration) -> DomainMigration:
    """Reopen a failed migration at the step that failed; then ``advance`` it as usual.

    Verification is kept (a failed publish does not need the DNS challenge again); approvals
    are checked again when it executes, against the policy then. A migration a guardian
    rejected is not reopened (open a new one and ask the guardians again), nor one whose
    domain has another migration open meanwhile.
    """
    locked = migration_locked(migration)
    require_state(locked, "retry", (MigrationState.FAILED,))
    domain = DomainRecord.objects.select_for_update().get(pk=locked.domain_id)
    rejected_by = domain_migration_rejected_by(locked)
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
    return migration_sync(migration, locked)


@transaction.atomic
def domain_migration_cancel(*, migration: DomainMigration, reason: str = "") -> DomainMigration:
    """End an open or failed migration for good (``cancelled``); the domain gets its status back.

    A completed migration is rolled back instead (``domain_migration_rollback``).
    """
    locked = migration_locked(migration)
    require_state(locked, "cancel", (*OPEN_MIGRATION_STATES, MigrationState.FAILED))
    if locked.state == MigrationState.PUBLISHING:
        raise InvalidTransition(
            f"migration {locked.pk} of {locked.domain.name} is publishing right now; "
            "cancel it once it has completed (roll it back) or failed",
            code="invalid_transition",
        )
    was_open = locked.state in OPEN_MIGRATION_STATES
    locked.error = (reason or "cancelled")[:5000]
    migration_finish(locked, MigrationState.CANCELLED)
    domain = locked.domain
    original = locked.previous_state.get("domain", {}).get("status", DomainStatus.ACTIVE)
    if was_open and domain.status == DomainStatus.MIGRATING:
        domain.status = original
        domain.full_clean()
        domain.save()
    announce_migration_cancelled(migration=locked, reason=reason)
    return migration_sync(migration, locked)
