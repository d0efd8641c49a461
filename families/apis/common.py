"""What the families API modules share."""

from __future__ import annotations

from typing import Any

from families.models import FamilyRole, User
from pubkyproject import policy

Action = policy.Action
#: The roles a member can be given (ownership is not a role; the schema's MemberRoleEnum).
MEMBER_ROLES = [(r.value, r.label) for r in FamilyRole if r != FamilyRole.OWNER]


def active_users() -> Any:
    """The users a username may name in input (inactive accounts are not found)."""
    return User.objects.filter(is_active=True)
