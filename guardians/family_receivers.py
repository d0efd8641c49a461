"""Receivers for what the families app announces (``families.signals``)."""

from __future__ import annotations

from typing import Any

from families.models import Family
from families.signals import family_key_rotated
from guardians.models import FederationGuardian


def forget_backup_verifications(sender: Any, family: Family, **kwargs: Any) -> None:
    """A new family key makes every guardian backup of the old one stale until verify_facts
    sees a backup written after the rotation (runs in the rotation's transaction)."""
    FederationGuardian.objects.filter(family=family).exclude(pubky_backup_verified_at=None).update(
        pubky_backup_verified_at=None
    )


def connect() -> None:
    family_key_rotated.connect(
        forget_backup_verifications, sender=Family, dispatch_uid="guardians.backups_stale"
    )
