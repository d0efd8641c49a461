"""Reads for guardians, always scoped through the one access policy (``pubkyproject.policy``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from domains.models import OPEN_MIGRATION_STATES, DomainMigration, DomainRecord
from families.models import Family, User
from guardians.models import (
    BackupStatus,
    FederationGuardian,
    GuardianApproval,
    GuardianNotification,
    GuardianStatus,
)
from pubkyproject import policy

__all__ = [
    "GuardianStatusSummary",
    "guardian_domains_list",
    "guardian_families",
    "guardian_migrations_awaiting_decision",
    "guardian_notifications_list",
    "guardian_status_summary",
]

Who = policy.Principal | User | AnonymousUser | None


def guardian_families(*, user: User) -> QuerySet[Family]:
    """Families ``user`` is an active guardian of."""
    return Family.objects.filter(
        guardians__user=user, guardians__status=GuardianStatus.ACTIVE
    ).distinct()


def guardian_domains_list(*, user: User, family: Family | None = None) -> QuerySet[DomainRecord]:
    """The domains of the families ``user`` guards (one family with ``family``).

    Scoped by the policy, so a revoked guardian sees nothing private any more, and the same
    rule decides here, in the API and on the WebSocket.
    """
    queryset = DomainRecord.objects.filter(family__in=guardian_families(user=user))
    if family is not None:
        queryset = queryset.filter(family=family)
    return (
        policy.scope(user, queryset)
        .select_related("family", "pubky_domain")
        .order_by("family_id", "name")
    )


def guardian_migrations_awaiting_decision(*, user: User) -> QuerySet[DomainMigration]:
    """Open migrations needing approval on which ``user`` (as guardian) has not decided yet."""
    decided = GuardianApproval.objects.filter(migration=OuterRef("pk"), guardian__user=user)
    queryset = DomainMigration.objects.filter(
        domain__family__in=guardian_families(user=user),
        state__in=OPEN_MIGRATION_STATES,
        approvals_required__gt=0,
    ).exclude(Exists(decided))
    return (
        policy.scope(user, queryset)
        .select_related("domain")
        .prefetch_related(Prefetch("approvals", queryset=GuardianApproval.objects.all()))
        .order_by("created_at", "pk")
    )


def guardian_notifications_list(
    *, user: Who, family: Family, unread_only: bool = False, limit: int = 100
) -> QuerySet[GuardianNotification]:
    """Notifications of ``family`` that ``user`` may read (family-wide or addressed to them)."""
    queryset = policy.scope(user, GuardianNotification.objects.filter(family=family))
    if unread_only:
        queryset = queryset.filter(read_at=None)
    return queryset.order_by("-created_at", "-id")[:limit]


@dataclass(frozen=True)
class GuardianStatusSummary:
    """What ``pubky_guardian_status`` shows for a family."""

    family_id: int
    approval_required: bool
    threshold: int
    active_guardians: int
    current_backups: int
    guardians: list[dict[str, object]]


def guardian_status_summary(*, user: Who, family: Family) -> GuardianStatusSummary | None:
    """The family's guardians and their backups, or ``None`` if ``user`` may not read it."""
    if not policy.can_read(user, family):
        return None
    guardians = list(
        FederationGuardian.objects.filter(family=family)
        .exclude(status=GuardianStatus.REVOKED)
        .order_by("name", "pk")
    )
    return GuardianStatusSummary(
        family_id=family.pk,
        approval_required=family.guardian_approval_required,
        threshold=family.guardian_threshold,
        active_guardians=sum(1 for g in guardians if g.status == GuardianStatus.ACTIVE),
        current_backups=sum(
            1
            for g in guardians
            if g.status == GuardianStatus.ACTIVE and g.pubky_backup_status == BackupStatus.CURRENT
        ),
        guardians=[
            {
                "id": g.pk,
                "name": g.name,
                "status": g.status,
                "backup_status": g.pubky_backup_status,
                "backup_url": g.pubky_backup_url,
                "backup_last_updated": g.pubky_backup_last_updated,
            }
            for g in guardians
        ],
    )
