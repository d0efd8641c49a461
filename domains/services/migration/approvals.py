"""How many guardian approvals a migration needs and has (the guardians are asked through
``domains.guardianship``; this module never reads their models)."""

from __future__ import annotations

from domains.guardianship import guardianship
from domains.models import DomainMigration
from families.models import Family

__all__ = [
    "domain_migration_approvals",
    "domain_migration_approvals_required",
    "domain_migration_rejected_by",
    "family_approvals_required",
]


def family_approvals_required(family: Family) -> int:
    """What the family's policy asks for now: its threshold, or 0 when approval is off."""
    return family.guardian_threshold if family.guardian_approval_required else 0


def domain_migration_approvals_required(migration: DomainMigration) -> int:
    """How many approvals the migration needs now: the family's policy at this moment, never
    fewer than when the migration was created (``approvals_required``)."""
    family = Family.objects.get(pk=migration.domain.family_id)
    return max(migration.approvals_required, family_approvals_required(family))


def domain_migration_approvals(migration: DomainMigration) -> int:
    """How many *active* guardians approved (a revoked guardian's approval no longer counts)."""
    return guardianship().approvals_given(migration=migration)


def domain_migration_rejected_by(migration: DomainMigration) -> str | None:
    """The name of an active guardian who rejected the migration, if any."""
    return guardianship().rejected_by(migration=migration)
