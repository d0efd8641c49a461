"""The family's guardian roster: adding guardians and changing their details or status.

(Decisions, backups and notifications are in ``guardians.services``.) Access is decided by the
caller through ``families.policy``: administering guardians is a family administrator's job.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from families.models import Family, User
from guardians.models import FederationGuardian, GuardianStatus

__all__ = [
    "GUARDIAN_EDITABLE_FIELDS",
    "guardian_create",
    "guardian_pending_votes_drop",
    "guardian_update",
]

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
    unknown = set(changes) - set(GUARDIAN_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    guardian = FederationGuardian.objects.select_for_update().get(pk=guardian.pk)
    was_active = guardian.status == GuardianStatus.ACTIVE
    for name, value in changes.items():
        setattr(guardian, name, value)
    guardian.full_clean()
    guardian.save()
    if was_active and guardian.status != GuardianStatus.ACTIVE:
        guardian_pending_votes_drop(guardian=guardian)
    return guardian


def guardian_pending_votes_drop(*, guardian: FederationGuardian) -> int:
    """Delete the guardian's decisions on unfinished (open or failed) migrations."""
    from domains.models import OPEN_MIGRATION_STATES, MigrationState
    from guardians.models import GuardianApproval

    unfinished = (*OPEN_MIGRATION_STATES, MigrationState.FAILED)
    deleted, _ = GuardianApproval.objects.filter(
        guardian=guardian, migration__state__in=unfinished
    ).delete()
    return deleted
