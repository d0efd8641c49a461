"""Families and their membership."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from families.models import Family, FamilyMembership, FamilyRole, User, Visibility


def _unique_slug(name: str) -> str:
    base = slugify(name)[:90] or "family"
    slug, n = base, 1
    while Family.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def family_create(
    *,
    name: str,
    owner: User,
    slug: str | None = None,
    description: str = "",
    visibility: str = Visibility.PRIVATE,
    guardian_approval_required: bool = False,
    guardian_threshold: int = 1,
) -> Family:
    """Create a family; its owner becomes its first member with the owner role."""
    family = Family(
        name=name,
        slug=slug or _unique_slug(name),
        description=description,
        owner=owner,
        visibility=visibility,
        guardian_approval_required=guardian_approval_required,
        guardian_threshold=guardian_threshold,
    )
    family.full_clean()
    family.save()
    FamilyMembership.objects.create(family=family, user=owner, role=FamilyRole.OWNER)
    return family


@transaction.atomic
def family_member_add(
    *, family: Family, user: User, role: str = FamilyRole.MEMBER
) -> FamilyMembership:
    """Add a member or change an existing member's role."""
    membership, _ = FamilyMembership.objects.select_for_update().get_or_create(
        family=family, user=user, defaults={"role": role}
    )
    if membership.role != role:
        membership.role = role
        membership.full_clean()
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def family_member_remove(*, family: Family, user: User) -> None:
    """Remove a member; the owner cannot be removed (transfer ownership first)."""
    if family.owner_id == user.pk:
        raise ValidationError("The family owner cannot be removed; transfer ownership first.")
    # Delete through the instance so post_delete receivers (auditlog, realtime) see it.
    for membership in FamilyMembership.objects.filter(family=family, user=user):
        membership.delete()
