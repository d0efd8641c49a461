"""What guardians do: decide on migrations, report key backups; and notifying them.

Every guardian action is checked by the one access policy (``pubkyproject.policy``), written
through the ORM (so django-auditlog records the change with its actor) and also appended to
the security audit trail as a ``guardian_action`` event, which is what operators filter on.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from domains.models import OPEN_MIGRATION_STATES, DomainMigration, DomainRecord, MigrationState
from domains.services.migration import (
    InvalidTransition,
    domain_migration_approvals,
    domain_migration_approvals_required,
    domain_migration_fail,
)
from domains.services.scoring import calculate_sovereignty_score
from families.models import Family, SecurityEventKind, User
from families.security import security_event_record
from guardians.domain_changes import domain_changes
from guardians.models import (
    ApprovalDecision,
    BackupStatus,
    FederationGuardian,
    GuardianApproval,
    GuardianNotification,
    GuardianStatus,
)
from pubkyproject import policy
from pubkyproject.model_update import model_update
from pubkyproject.pubky_client import PubkyServiceError

__all__ = [
    "GUARDIAN_EDITABLE_FIELDS",
    "AlreadyDecided",
    "GuardianRevoked",
    "guardian_backup_request",
    "guardian_backup_status_record",
    "guardian_create",
    "guardian_domain_change_notify",
    "guardian_domain_changes_notify",
    "guardian_migration_approve",
    "guardian_migration_decide",
    "guardian_migration_reject",
    "guardian_notification_create",
    "guardian_notification_mark_read",
    "guardian_pending_votes_drop",
    "guardian_update",
]

# A guardian decides while the migration is still before publishing.
DECIDABLE_STATES = (MigrationState.PENDING, MigrationState.VERIFYING, MigrationState.VERIFIED)


class AlreadyDecided(PubkyServiceError):
    """This guardian has already approved or rejected this migration."""

    code = "already_decided"


class GuardianRevoked(PubkyServiceError):
    """The guardian was revoked: they hold nothing for the family any more."""

    code = "guardian_revoked"


def _audit(*, user: User, action: str, target: str, detail: dict[str, Any]) -> None:
    security_event_record(
        kind=SecurityEventKind.GUARDIAN_ACTION,
        user=user,
        target=target,
        detail={"action": action, **detail},
    )


def guardian_notification_create(
    *,
    family: Family,
    kind: str,
    title: str,
    message: str = "",
    payload: dict[str, Any] | None = None,
    guardian: FederationGuardian | None = None,
) -> GuardianNotification:
    """Notify one guardian, or (``guardian=None``) every guardian of ``family``.

    Saved through the ORM so the realtime publisher pushes it to subscribed guardians.
    """
    notification = GuardianNotification(
        family=family,
        guardian=guardian,
        kind=kind[:64],
        title=title[:200],
        message=message,
        payload=payload or {},
    )
    notification.full_clean()
    notification.save()
    return notification


def guardian_domain_change_notify(
    *,
    family_id: int,
    kind: str,
    title: str,
    domain_id: int | None = None,
    domain_name: str = "",
    message: str = "",
    detail: dict[str, Any] | None = None,
) -> GuardianNotification | None:
    """Tell every guardian of a family that one of its domains changed (the one entry point).

    Stored as a family-wide notification (``GET /api/families/{id}/notifications/``), pushed
    live on the family's topic (``pubky_guardian_notification``) when the caller's transaction
    commits. ``kind`` names the change (``dns_record_added``, ``key_rotated``, … see
    ``guardians.domain_changes``); ``detail`` goes into the payload with the domain. A family
    without guardians (none invited or active) gets nothing stored.
    """
    if (
        not FederationGuardian.objects.filter(family_id=family_id)
        .exclude(status=GuardianStatus.REVOKED)
        .exists()
    ):
        return None
    family = Family.objects.get(pk=family_id)
    payload: dict[str, Any] = {"change": kind, "domain": domain_name, "domain_id": domain_id}
    payload.update(detail or {})
    return guardian_notification_create(
        family=family,
        kind=kind,
        title=title if not domain_name or domain_name in title else f"{domain_name}: {title}",
        message=message,
        payload=payload,
    )


def guardian_domain_changes_notify(
    *, table: str, old: dict[str, Any] | None, new: dict[str, Any] | None
) -> list[GuardianNotification]:
    """Notify the guardians of whatever a write to ``table`` changed (see
    ``guardians.domain_changes``); ``old``/``new`` are the row's columns before and after."""
    notifications = []
    for change in domain_changes(table, old, new):
        if not Family.objects.filter(pk=change.family_id).exists():
            continue  # deleted meanwhile
        notification = guardian_domain_change_notify(
            family_id=change.family_id,
            kind=change.kind,
            title=change.title,
            domain_id=change.domain_id,
            domain_name=change.domain_name,
            message=change.message,
            detail=change.detail,
        )
        if notification is not None:
            notifications.append(notification)
    return notifications


@transaction.atomic
def guardian_notification_mark_read(
    *, user: User, notification: GuardianNotification
) -> GuardianNotification:
    """Mark a notification read, if ``user`` may read it (a guardian or member of the family)."""
    if not policy.can_read(user, notification):
        raise PermissionDenied("you cannot see this notification")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save()
    return notification


def _guardian_for(user: User, family_id: int) -> FederationGuardian:
    guardian = (
        FederationGuardian.objects.select_for_update()
        .filter(family_id=family_id, user=user, status=GuardianStatus.ACTIVE)
        .first()
    )
    if guardian is None:
        raise PermissionDenied("only an active guardian of the family can decide")
    return guardian


def guardian_migration_decide(
    *,
    user: User,
    migration: DomainMigration,
    decision: str,
    comment: str = "",
) -> GuardianApproval:
    """Record ``user``'s decision (approve/reject) on ``migration``, once per guardian.

    Only active guardians of the domain's family decide (``policy.can_decide_migration``);
    a refused attempt is audited too. A rejection fails the migration at once; the approval
    that reaches the family's threshold notifies the family that the migration may proceed.
    """
    if decision not in ApprovalDecision.values:
        raise ValidationError({"decision": f"must be one of {', '.join(ApprovalDecision.values)}"})
    if not policy.can_decide_migration(user, migration):
        # Outside the decision's transaction, so the audit row survives the refusal.
        _audit(
            user=user,
            action="decision_denied",
            target=f"domain_migration:{migration.pk}",
            detail={"decision": decision},
        )
        raise PermissionDenied("only an active guardian of the family can decide")
    return _decide(user=user, migration=migration, decision=decision, comment=comment)


@transaction.atomic
def _decide(
    *, user: User, migration: DomainMigration, decision: str, comment: str
) -> GuardianApproval:
    migration = (
        DomainMigration.objects.select_for_update()
        .select_related("domain__family")
        .get(pk=migration.pk)
    )
    guardian = _guardian_for(user, migration.domain.family_id)
    if migration.state not in DECIDABLE_STATES:
        raise InvalidTransition(
            f"migration {migration.pk} is {migration.state}; decisions are taken before publishing"
        )
    if GuardianApproval.objects.filter(migration=migration, guardian=guardian).exists():
        raise AlreadyDecided(f"{guardian.name} has already decided on migration {migration.pk}")
    approval = GuardianApproval(
        migration=migration, guardian=guardian, decision=decision, comment=comment
    )
    approval.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            approval.save()
    except IntegrityError as exc:  # a concurrent double click
        raise AlreadyDecided(
            f"{guardian.name} has already decided on migration {migration.pk}"
        ) from exc
    _audit(
        user=user,
        action=f"migration_{decision}",
        target=f"domain_migration:{migration.pk}",
        detail={"guardian_id": guardian.pk, "domain": migration.domain.name},
    )
    if decision == ApprovalDecision.REJECTED:
        domain_migration_fail(
            migration=migration,
            reason=f"rejected by guardian {guardian.name}" + (f": {comment}" if comment else ""),
        )
    else:
        # The policy now, never lower than at creation: a raised threshold is recorded.
        required = domain_migration_approvals_required(migration)
        if required > migration.approvals_required:
            migration.approvals_required = required
            migration.save(update_fields=["approvals_required", "updated_at"])
        if domain_migration_approvals(migration) == required:
            guardian_notification_create(
                family=migration.domain.family,
                kind="migration_approved",
                title=f"Moving {migration.domain.name} is approved",
                message=f"{required} guardian(s) approved.",
                payload={"migration_id": migration.pk, "domain": migration.domain.name},
            )
    return approval


def guardian_migration_approve(
    *, user: User, migration: DomainMigration, comment: str = ""
) -> GuardianApproval:
    """Approve a migration (see :func:`guardian_migration_decide`)."""
    return guardian_migration_decide(
        user=user, migration=migration, decision=ApprovalDecision.APPROVED, comment=comment
    )


def guardian_migration_reject(
    *, user: User, migration: DomainMigration, comment: str = ""
) -> GuardianApproval:
    """Reject a migration, which fails it (see :func:`guardian_migration_decide`)."""
    return guardian_migration_decide(
        user=user, migration=migration, decision=ApprovalDecision.REJECTED, comment=comment
    )


@transaction.atomic
def guardian_backup_status_record(
    *,
    user: User,
    guardian: FederationGuardian,
    status: str,
    url: str = "",
) -> FederationGuardian:
    """Record the state of the key backup a guardian holds, and rescore the family's domains.

    The guardian themself or an administrator of the family may record it. A current backup
    earns every domain of the family key-ownership points, so all of them are rescored.
    """
    guardian = FederationGuardian.objects.select_for_update().get(pk=guardian.pk)
    is_self = guardian.user_id is not None and guardian.user_id == user.pk
    if not (is_self and guardian.status == GuardianStatus.ACTIVE) and not policy.can_administer(
        user, guardian
    ):
        raise PermissionDenied("only the guardian or a family administrator can record backups")
    if status not in BackupStatus.values:
        raise ValidationError(
            {"status": f"unknown backup status {status!r} ({', '.join(BackupStatus.values)})"}
        )
    if status == BackupStatus.CURRENT and not (url or guardian.pubky_backup_url):
        raise ValidationError({"url": "a current backup needs the URL where it is kept"})
    previous = guardian.pubky_backup_status
    if status != previous or (url and url != guardian.pubky_backup_url):
        # A report is a claim: it counts once verify_facts has fetched this backup.
        guardian.pubky_backup_verified_at = None
    guardian.pubky_backup_status = status
    if url:
        guardian.pubky_backup_url = url
    guardian.pubky_backup_last_updated = timezone.now()
    guardian.full_clean()
    guardian.save()
    _audit(
        user=user,
        action="backup_status",
        target=f"guardian:{guardian.pk}",
        detail={"from": previous, "to": status, "family_id": guardian.family_id},
    )
    if previous != status:
        for domain in DomainRecord.objects.filter(family_id=guardian.family_id).order_by("pk"):
            calculate_sovereignty_score(domain=domain, reason="guardian_backup_status")
    return guardian


@transaction.atomic
def guardian_backup_request(
    *, user: User, guardian: FederationGuardian, message: str = ""
) -> GuardianNotification:
    """Ask a guardian to make (or refresh) the backup of the family key they hold.

    A family administrator asks (``policy.can_administer``); the guardian gets a
    ``backup_requested`` notification (their notifications, pushed live on the family's topic)
    naming the state of the backup they last reported, and the request is appended to the
    security audit trail. The reported backup status is left as it is: it changes when the
    guardian reports, and counts once ``verify_facts`` has fetched the backup. A revoked
    guardian is not asked (:class:`GuardianRevoked`); an invited one sees it once they accept.
    """
    guardian = (
        FederationGuardian.objects.select_for_update().select_related("family").get(pk=guardian.pk)
    )
    if not policy.can_administer(user, guardian):
        raise PermissionDenied("only a family administrator can ask a guardian for a backup")
    if guardian.status == GuardianStatus.REVOKED:
        raise GuardianRevoked(
            f"{guardian.name} is no longer a guardian of {guardian.family.name} (revoked)"
        )
    status = BackupStatus(guardian.pubky_backup_status)
    text = f"{guardian.family.name} asks you to back up its key again. "
    text += f"The backup you last reported: {status.label.lower()}."
    if message:
        text += f" {message}"
    notification = guardian_notification_create(
        family=guardian.family,
        guardian=guardian,
        kind="backup_requested",
        title=f"Please back up the key of {guardian.family.name}",
        message=text,
        payload={
            "guardian_id": guardian.pk,
            "backup_status": guardian.pubky_backup_status,
            "requested_by": user.get_username(),
        },
    )
    _audit(
        user=user,
        action="backup_requested",
        target=f"guardian:{guardian.pk}",
        detail={"family_id": guardian.family_id, "backup_status": guardian.pubky_backup_status},
    )
    return notification


# --- the roster: adding guardians and changing them ---------------------------------------------

GUARDIAN_EDITABLE_FIELDS = ("name", "email", "pubky_public_key", "status")


@transaction.atomic
def guardian_create(
    *,
    family: Family,
    name: str,
    user: User | None = None,
    email: str = "",
    pubky_public_key: str = "",
    status: str = GuardianStatus.INVITED,
) -> FederationGuardian:
    """Add a guardian to ``family`` (invited until they accept, unless ``status`` says so)."""
    guardian = FederationGuardian(
        family=family,
        user=user,
        name=name,
        email=email,
        pubky_public_key=pubky_public_key,
        status=status,
    )
    guardian.full_clean()
    guardian.save()
    return guardian


@transaction.atomic
def guardian_update(*, guardian: FederationGuardian, **changes: Any) -> FederationGuardian:
    """Change a guardian's details or status (``GUARDIAN_EDITABLE_FIELDS``).

    A guardian who stops being active (revoked) loses their votes on every migration of the
    family that is not finished (open or failed): if they are made active again later, they
    decide anew. (``domain_migration_approvals`` counts active guardians only in any case.)
    """
    was_active = FederationGuardian.objects.filter(
        pk=guardian.pk, status=GuardianStatus.ACTIVE
    ).exists()
    guardian, _ = model_update(instance=guardian, fields=GUARDIAN_EDITABLE_FIELDS, data=changes)
    if was_active and guardian.status != GuardianStatus.ACTIVE:
        guardian_pending_votes_drop(guardian=guardian)
    return guardian


def guardian_pending_votes_drop(*, guardian: FederationGuardian) -> int:
    """Delete the guardian's decisions on unfinished (open or failed) migrations."""
    unfinished = (*OPEN_MIGRATION_STATES, MigrationState.FAILED)
    deleted, _ = GuardianApproval.objects.filter(
        guardian=guardian, migration__state__in=unfinished
    ).delete()
    return deleted
