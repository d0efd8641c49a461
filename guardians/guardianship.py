"""The guardians' answers to domain code (``domains.guardianship``), registered in ``ready()``."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch

from domains.guardianship import BackupCheckRound
from domains.models import DomainMigration
from guardians.backups import guardian_backups_verify_all
from guardians.models import (
    ApprovalDecision,
    BackupStatus,
    FederationGuardian,
    GuardianApproval,
    GuardianStatus,
)
from pubkyproject.pubky_client import PubkyClient

__all__ = ["GuardiansGuardianship"]


class GuardiansGuardianship:
    """Implements :class:`domains.guardianship.Guardianship` on the guardian models."""

    def active_guardian_count(self, *, family_id: int) -> int:
        return FederationGuardian.objects.active().filter(family_id=family_id).count()

    def approvals_given(self, *, migration: DomainMigration) -> int:
        return GuardianApproval.objects.filter(
            migration_id=migration.pk,
            decision=ApprovalDecision.APPROVED,
            guardian__status=GuardianStatus.ACTIVE,
        ).count()

    def rejected_by(self, *, migration: DomainMigration) -> str | None:
        rejection = (
            GuardianApproval.objects.filter(
                migration_id=migration.pk,
                decision=ApprovalDecision.REJECTED,
                guardian__status=GuardianStatus.ACTIVE,
            )
            .select_related("guardian")
            .first()
        )
        return rejection.guardian.name if rejection is not None else None

    def approvals_prefetch(self) -> Prefetch:
        return Prefetch("approvals", queryset=GuardianApproval.objects.order_by("created_at", "pk"))

    def verified_backup_exists(self, *, family: OuterRef) -> Exists:
        # "Current" is the guardian's word; it counts once verify_facts saw the backup answer
        # on its homeserver, written after the family key's last rotation.
        return Exists(
            FederationGuardian.objects.filter(
                family_id=family,
                status=GuardianStatus.ACTIVE,
                pubky_backup_status=BackupStatus.CURRENT,
                pubky_backup_verified_at__isnull=False,
            )
        )

    def backup_verified_at(self, *, family_id: int) -> datetime | None:
        return (
            FederationGuardian.objects.filter(family_id=family_id, status=GuardianStatus.ACTIVE)
            .exclude(pubky_backup_verified_at=None)
            .order_by("-pubky_backup_verified_at")
            .values_list("pubky_backup_verified_at", flat=True)
            .first()
        )

    def backups_verify(self, *, client: PubkyClient) -> BackupCheckRound:
        return guardian_backups_verify_all(client=client)
