"""What a family's administrators change: the family's settings and its members' roles.

Access is decided by the caller (the API asks ``pubkyproject.policy``); these functions keep the
family's own invariants: the owner stays the owner, and nobody else becomes one.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from families.models import Family, FamilyMembership, FamilyRole, User
from families.services.families import family_member_add
from pubkyproject.model_update import model_update

FAMILY_EDITABLE_FIELDS = (
    "name",
    "slug",
    "description",
    "visibility",
    "guardian_approval_required",
    "guardian_threshold",
)


@transaction.atomic
def family_update(*, family: Family, **changes: Any) -> Family:
    """Change the family's settings (only ``FAMILY_EDITABLE_FIELDS``)."""
    family, _ = model_update(instance=family, fields=FAMILY_EDITABLE_FIELDS, data=changes)
    return family


def _refuse_owner_change(family: Family, user: User, role: str) -> None:
    if role == FamilyRole.OWNER:
        raise ValidationError({"role": "A family has one owner; ownership is not a member role."})
    if family.owner_id == user.pk:
        raise ValidationError({"role": "The owner's role cannot be changed."})


@transaction.atomic
def family_member_invite(*, family: Family, user: User, role: str) -> FamilyMembership:
    """Add ``user`` to ``family`` with ``role``; refuses existing members (change their role)."""
    _refuse_owner_change(family, user, role)
    if FamilyMembership.objects.filter(family=family, user=user).exists():
        raise ValidationError({"username": f"{user.username} is already a member."})
    return family_member_add(family=family, user=user, role=role)


@transaction.atomic
def family_member_role_change(*, family: Family, user: User, role: str) -> FamilyMembership:
    """Give an existing member another role (never the owner's, and never to the owner)."""
    _refuse_owner_change(family, user, role)
    return family_member_add(family=family, user=user, role=role)
