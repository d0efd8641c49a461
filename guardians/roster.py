"""The family's guardian roster: adding guardians and changing their details or status.

(Decisions, backups and notifications are in ``guardians.services``.) Access is decided by the
caller through ``pubkyproject.policy``: administering guardians is a family administrator's job.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from domains.models import OPEN_MIGRATION_STATES, MigrationState
from families.models import Family, User
from guardians.models import FederationGuardian, GuardianApproval, GuardianStatus
from pubkyproject.model_update import model_update

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
