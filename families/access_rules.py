"""The families app's part of the access policy (:mod:`pubkyproject.policy`).

Registered from :meth:`families.apps.FamiliesConfig.ready`: the role ranks and the values the
rules compare with, the rules for families, keypairs, users and grants, where a principal's
memberships and grants come from, and who holds a Pubky key.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.utils import timezone

from families.models import (
    ROLE_RANK,
    AccessGrant,
    Family,
    FamilyMembership,
    FamilyRole,
    GrantPermission,
    KeyVerification,
    PubkyKeypair,
    User,
    Visibility,
)
from pubkyproject import policy
from pubkyproject.policy import Action, Principal

_MEMBERSHIPS_SQL = """
SELECT coalesce(json_agg(json_build_array(m.family_id, m.role)), '[]'::json)
  FROM family_memberships m WHERE m.user_id = u.id
"""

_GRANTS_SQL = """
SELECT coalesce(json_agg(json_build_array(ct.app_label || '.' || ct.model, a.object_id,
                                          a.permission)
                         ORDER BY a.id), '[]'::json)
  FROM access_grants a JOIN django_content_type ct ON ct.id = a.content_type_id
 WHERE a.grantee_id = u.id AND a.revoked_at IS NULL
   AND (a.expires_at IS NULL OR a.expires_at > %s)
"""


class UserRule:
    """Everyone may see and change themself; people see the basic profile of those they share
    a family with."""

    def can(self, principal: Principal, action: Action, obj: Any) -> bool:
        if principal.user_id == obj.pk:
            return True
        if action is not Action.READ or not principal.is_authenticated:
            return False
        return FamilyMembership.objects.filter(
            user=obj, family_id__in=list(principal.roles)
        ).exists()

    def scope(self, principal: Principal, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not principal.is_authenticated:
            return queryset.none()
        return queryset.filter(
            Q(pk=principal.user_id)
            | Q(family_memberships__family_id__in=policy.ids(principal.roles))
        ).distinct()


class AccessGrantRule:
    """A grant is seen by its grantee and its giver; it is administered (and seen) by whoever
    administers its target."""

    def can(self, principal: Principal, action: Action, obj: Any) -> bool:
        if not principal.is_authenticated:
            return (
                False  # (``None in (grantee, granted_by=None)`` must not match anonymous callers)
            )
        if action is Action.READ and principal.user_id in (obj.grantee_id, obj.granted_by_id):
            return True
        target = obj.target
        return target is not None and policy.can(principal, Action.ADMINISTER, target)

    def scope(self, principal: Principal, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not principal.is_authenticated:
            # ``granted_by_id=None`` would otherwise match every grant nobody is recorded as giving.
            return queryset.none()
        administered = [
            family_id
            for family_id, role in principal.roles.items()
            if ROLE_RANK[role] >= ROLE_RANK[FamilyRole.ADMIN]
        ]
        targets = policy.grant_targets()
        cts = ContentType.objects.get_for_models(*(model for model, _ in targets))
        condition = Q(grantee_id=principal.user_id) | Q(granted_by_id=principal.user_id)
        for model, _kind in targets:
            family_path = policy.paths_for(model).family
            if family_path == "pk":
                object_ids: Any = administered
            else:
                object_ids = model._default_manager.filter(
                    **{f"{family_path}__in": administered}
                ).values("pk")
            condition |= Q(content_type=cts[model], object_id__in=object_ids)
        return queryset.filter(condition)


def holds_key(principal: Principal, key: str) -> bool:
    """Only a key the service holds or its holder proved opens private paths: an unproven
    claim of someone else's key must not read their data."""
    unproven = KeyVerification.UNVERIFIED
    if principal.user_id is None:
        return False
    return (
        User.objects.filter(pk=principal.user_id, pubky_public_key=key)
        .exclude(pubky_key_verification=unproven)
        .exists()
        or Family.objects.filter(pk__in=policy.ids(principal.roles), pubky_public_key=key)
        .exclude(pubky_key_verification=unproven)
        .exists()
    )


def keypair_public_fields() -> tuple[str, ...]:
    """The only keypair fields any interface may show."""
    return tuple(
        f.name
        for f in PubkyKeypair._meta.get_fields()
        if getattr(f, "concrete", False) and f.name != PubkyKeypair.sealed_key_field
    )


def register() -> None:
    policy.configure(
        policy.Vocabulary(
            role_rank=ROLE_RANK,
            member_role=FamilyRole.MEMBER,
            admin_role=FamilyRole.ADMIN,
            public=Visibility.PUBLIC,
            write=GrantPermission.WRITE,
            read=GrantPermission.READ,
        )
    )
    policy.register_paths(
        Family, policy.Paths(family="pk", visibility="visibility", change_role=FamilyRole.ADMIN)
    )
    policy.register_paths(
        PubkyKeypair, policy.Paths(family="family_id", change_role=FamilyRole.ADMIN)
    )
    policy.register_object_rule(User, UserRule())
    policy.register_object_rule(AccessGrant, AccessGrantRule())
    policy.register_grant_target(Family, "family")
    policy.register_principal_part("roles", policy.PrincipalPart(sql=_MEMBERSHIPS_SQL))
    # The moment a grant ends is compared with the clock, not with ``now()``: that is the start
    # of the surrounding transaction, which may be long past (as ``AccessGrant.current`` does).
    policy.register_principal_part(
        "grants", policy.PrincipalPart(sql=_GRANTS_SQL, params=lambda: [timezone.now()])
    )
    policy.register_key_holder(holds_key)
