"""The one access policy: who may read, change or administer what.

The API, the admin and the WebSocket consumer all ask this module; no rule is written twice.

Rules, in order:

* Superusers may do everything; staff may also read the audit trails.
* Public objects (``visibility = public`` on a family, domain or Pubky domain, and what hangs off
  them) may be read by anyone, including anonymous callers.
* Family members may read everything of their family; ``member`` and above may change domains,
  DNS records, Pubky domains and migrations; ``admin`` and above may change the family itself,
  its members, keypairs, guardians and grants (*administer*).
* Active guardians of a family may read the family's domains and migrations and decide on
  migrations; a guardian may update their own backup status.
* Explicit grants (``AccessGrant``, optionally expiring) give read or write access to one family,
  domain or Pubky domain and everything that hangs off it.

Every check works on a :class:`Principal`, loaded once per request or connection (one
query), so checking many objects or filtering a list costs no extra queries.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q, QuerySet

from families.models import (
    ROLE_RANK,
    AccessGrant,
    Family,
    FamilyMembership,
    FamilyRole,
    GrantPermission,
    PubkyKeypair,
    User,
    Visibility,
)

M = TypeVar("M", bound=Model)


class Action(enum.Enum):
    READ = "read"
    CHANGE = "change"
    ADMINISTER = "administer"


@dataclass(frozen=True)
class Paths:
    """How to reach the owning family, domain and Pubky domain (and visibility) from a model."""

    family: str
    domain: str | None = None
    pubky_domain: str | None = None
    visibility: str | None = None
    change_role: str = FamilyRole.MEMBER
    guardians_read: bool = True


def _model_paths() -> dict[type[Model], Paths]:
    from domains.models import (
        DnsRecord,
        DomainMigration,
        DomainRecord,
        PkarrRecord,
        PubkyDomain,
        SovereigntyScore,
    )
    from guardians.models import FederationGuardian, GuardianApproval, GuardianNotification

    via_domain = Paths(
        family="domain__family_id", domain="domain_id", visibility="domain__visibility"
    )
    return {
        Family: Paths(family="pk", visibility="visibility", change_role=FamilyRole.ADMIN),
        DomainRecord: Paths(family="family_id", domain="pk", visibility="visibility"),
        DnsRecord: via_domain,
        SovereigntyScore: via_domain,
        DomainMigration: via_domain,
        PubkyDomain: Paths(
            family="family_id", domain="domain_id", pubky_domain="pk", visibility="visibility"
        ),
        PkarrRecord: Paths(
            family="pubky_domain__family_id",
            domain="pubky_domain__domain_id",
            pubky_domain="pubky_domain_id",
            visibility="pubky_domain__visibility",
        ),
        PubkyKeypair: Paths(family="family_id", change_role=FamilyRole.ADMIN),
        FederationGuardian: Paths(family="family_id", change_role=FamilyRole.ADMIN),
        GuardianNotification: Paths(family="family_id", change_role=FamilyRole.ADMIN),
        GuardianApproval: Paths(
            family="migration__domain__family_id",
            domain="migration__domain_id",
            change_role=FamilyRole.ADMIN,
        ),
    }


_PATHS: dict[type[Model], Paths] | None = None


def paths_for(model: type[Model]) -> Paths:
    global _PATHS
    if _PATHS is None:
        _PATHS = _model_paths()
    try:
        return _PATHS[model]
    except KeyError:
        raise TypeError(f"the access policy has no rule for {model.__name__}") from None


@dataclass
class Principal:
    """What the policy knows about a caller: memberships, guardianships and current grants."""

    user_id: int | None
    is_superuser: bool = False
    is_staff: bool = False
    roles: dict[int, str] = field(default_factory=dict)
    guardian_of: frozenset[int] = frozenset()
    family_grants: dict[int, str] = field(default_factory=dict)
    domain_grants: dict[int, str] = field(default_factory=dict)
    pubky_domain_grants: dict[int, str] = field(default_factory=dict)

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    def rank_in(self, family_id: int | None) -> int:
        role = self.roles.get(family_id) if family_id is not None else None
        return ROLE_RANK[role] if role else 0


ANONYMOUS = Principal(user_id=None)


_PRINCIPAL_SQL = """
SELECT u.is_superuser, u.is_staff,
       (SELECT coalesce(json_agg(json_build_array(m.family_id, m.role)), '[]'::json)
          FROM family_memberships m WHERE m.user_id = u.id),
       (SELECT coalesce(json_agg(g.family_id), '[]'::json)
          FROM federation_guardians g WHERE g.user_id = u.id AND g.status = %s),
       (SELECT coalesce(json_agg(json_build_array(ct.app_label || '.' || ct.model, a.object_id,
                                                  a.permission)
                                 ORDER BY a.id), '[]'::json)
          FROM access_grants a JOIN django_content_type ct ON ct.id = a.content_type_id
         WHERE a.grantee_id = u.id AND a.revoked_at IS NULL
           AND (a.expires_at IS NULL OR a.expires_at > now()))
  FROM users u
 WHERE u.id = %s AND u.is_active
"""


def _principal_params(user_id: int) -> list[Any]:
    from guardians.models import GuardianStatus

    return [GuardianStatus.ACTIVE, user_id]


def _principal_from_row(user_id: int, row: tuple[Any, ...]) -> Principal:
    from domains.models import DomainRecord, PubkyDomain

    is_superuser, is_staff, memberships, guardian_of, grants = row
    by_model: dict[str, dict[int, str]] = {
        Family._meta.label_lower: {},
        DomainRecord._meta.label_lower: {},
        PubkyDomain._meta.label_lower: {},
    }
    for model, object_id, permission in grants:
        target = by_model.get(model)
        # A write grant wins over a read grant on the same object.
        if target is not None and target.get(object_id) != GrantPermission.WRITE:
            target[object_id] = permission
    return Principal(
        user_id=user_id,
        is_superuser=is_superuser,
        is_staff=is_staff,
        roles=dict(memberships),
        guardian_of=frozenset(guardian_of),
        family_grants=by_model[Family._meta.label_lower],
        domain_grants=by_model[DomainRecord._meta.label_lower],
        pubky_domain_grants=by_model[PubkyDomain._meta.label_lower],
    )


def principal_for_user_id(user_id: int) -> Principal | None:
    """Load an active user's principal in one query (None if the user is missing or inactive).

    Memberships, active guardianships and current grants arrive as JSON arrays of one row, so a
    new WebSocket or API caller costs one round trip to the database.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_PRINCIPAL_SQL, _principal_params(user_id))
        row = cursor.fetchone()
    return None if row is None else _principal_from_row(user_id, row)


async def aprincipal_for_user_id(user_id: int) -> Principal | None:
    """:func:`principal_for_user_id` on the event loop (the WebSocket path): the same query
    through the asyncio pool, no trip to Django's database thread."""
    from pubkyproject.async_db import fetchone

    row = await fetchone(_PRINCIPAL_SQL, _principal_params(user_id))
    return None if row is None else _principal_from_row(user_id, row)


def principal_for(user: User | AnonymousUser | None) -> Principal:
    """What the policy knows about ``user``: memberships, guardianships, current grants."""
    if user is None or not user.is_authenticated or user.pk is None:
        return ANONYMOUS
    return principal_for_user_id(user.pk) or ANONYMOUS


def _resolve(obj: Model, path: str | None) -> Any:
    if not path:
        return None
    value: Any = obj
    for part in path.split("__"):
        if value is None:
            return None
        value = getattr(value, part)
    return value


def _grant(principal: Principal, paths: Paths, obj: Model) -> str | None:
    best: str | None = None
    for grants, path in (
        (principal.family_grants, paths.family),
        (principal.domain_grants, paths.domain),
        (principal.pubky_domain_grants, paths.pubky_domain),
    ):
        object_id = _resolve(obj, path)
        if object_id is not None and object_id in grants:
            if grants[object_id] == GrantPermission.WRITE:
                return GrantPermission.WRITE
            best = GrantPermission.READ
    return best


def _as_principal(who: Principal | User | AnonymousUser | None) -> Principal:
    return who if isinstance(who, Principal) else principal_for(who)


def can(who: Principal | User | AnonymousUser | None, action: Action, obj: Model) -> bool:
    """May ``who`` perform ``action`` on ``obj``?"""
    principal = _as_principal(who)
    if principal.is_superuser:
        return True
    if isinstance(obj, User):
        return _can_user(principal, action, obj)
    if isinstance(obj, AccessGrant):
        return _can_grant(principal, action, obj)
    paths = paths_for(type(obj))
    family_id = _resolve(obj, paths.family)
    rank = principal.rank_in(family_id)
    grant = _grant(principal, paths, obj)
    if action is Action.READ:
        if paths.visibility and _resolve(obj, paths.visibility) == Visibility.PUBLIC:
            return True
        if rank > 0 or grant is not None:
            return True
        return paths.guardians_read and family_id in principal.guardian_of
    if action is Action.CHANGE:
        if rank >= ROLE_RANK[paths.change_role]:
            return True
        return grant == GrantPermission.WRITE and paths.change_role == FamilyRole.MEMBER
    return rank >= ROLE_RANK[FamilyRole.ADMIN]


def _can_user(principal: Principal, action: Action, user: User) -> bool:
    if principal.user_id == user.pk:
        return True
    if action is not Action.READ or not principal.is_authenticated:
        return False
    # People may see the basic profile of those they share a family with.
    return FamilyMembership.objects.filter(user=user, family_id__in=list(principal.roles)).exists()


def _can_grant(principal: Principal, action: Action, grant: AccessGrant) -> bool:
    if not principal.is_authenticated:
        return False  # (``None in (grantee, granted_by=None)`` must not match anonymous callers)
    if action is Action.READ and principal.user_id in (grant.grantee_id, grant.granted_by_id):
        return True
    target = grant.target
    return target is not None and can(principal, Action.ADMINISTER, target)


def can_read(who: Principal | User | AnonymousUser | None, obj: Model) -> bool:
    return can(who, Action.READ, obj)


def can_change(who: Principal | User | AnonymousUser | None, obj: Model) -> bool:
    return can(who, Action.CHANGE, obj)


def can_administer(who: Principal | User | AnonymousUser | None, obj: Model) -> bool:
    return can(who, Action.ADMINISTER, obj)


def can_decide_migration(who: Principal | User | AnonymousUser | None, migration: Model) -> bool:
    """Only an active guardian of the domain's family decides on its migrations."""
    principal = _as_principal(who)
    family_id = _resolve(migration, "domain__family_id")
    return principal.is_authenticated and family_id in principal.guardian_of


def can_follow_family(who: Principal | User | AnonymousUser | None, family: Model) -> bool:
    """May ``who`` follow the family's feed (its topic: guardian notifications, created and
    deleted objects)? Only its members, guardians and grantees, even for a public family: the
    feed names private objects that public readers of the family must not learn about."""
    principal = _as_principal(who)
    if principal.is_superuser:
        return True
    return (
        principal.rank_in(family.pk) > 0
        or family.pk in principal.guardian_of
        or family.pk in principal.family_grants
    )


def can_read_audit(who: Principal | User | AnonymousUser | None) -> bool:
    principal = _as_principal(who)
    return principal.is_superuser or principal.is_staff


def can_read_pubky_url(who: Principal | User | AnonymousUser | None, url: str) -> bool:
    """``/pub/`` content is public by protocol; anything else only for the key's user or family."""
    from pubky.errors import PubkyError
    from pubky.urls import PubkyUrl

    principal = _as_principal(who)
    try:
        parsed = PubkyUrl.parse(url)
    except PubkyError:
        return False
    if parsed.path.startswith("/pub/") or principal.is_superuser:
        return True
    if principal.user_id is None:
        return False
    key = parsed.public_key.z32()
    # Only a key the service holds or its holder proved opens private paths: an unproven
    # claim of someone else's key must not read their data.
    unproven = "unverified"
    return (
        User.objects.filter(pk=principal.user_id, pubky_public_key=key)
        .exclude(pubky_key_verification=unproven)
        .exists()
        or Family.objects.filter(pk__in=_ids(principal.roles), pubky_public_key=key)
        .exclude(pubky_key_verification=unproven)
        .exists()
    )


def _ids(values: Iterable[int]) -> list[int]:
    return sorted(values)


def scope(who: Principal | User | AnonymousUser | None, queryset: QuerySet[M]) -> QuerySet[M]:
    """Filter ``queryset`` down to what ``who`` may read: lists never leak other objects."""
    principal = _as_principal(who)
    if principal.is_superuser:
        return queryset
    model = queryset.model
    if model is User:
        if not principal.is_authenticated:
            return queryset.none()
        return queryset.filter(
            Q(pk=principal.user_id) | Q(family_memberships__family_id__in=_ids(principal.roles))
        ).distinct()
    if model is AccessGrant:
        from domains.models import DomainRecord, PubkyDomain

        if not principal.is_authenticated:
            # ``granted_by_id=None`` would otherwise match every grant nobody is recorded as giving.
            return queryset.none()

        administered = [
            f for f, r in principal.roles.items() if ROLE_RANK[r] >= ROLE_RANK[FamilyRole.ADMIN]
        ]
        cts = ContentType.objects.get_for_models(Family, DomainRecord, PubkyDomain)
        return queryset.filter(
            Q(grantee_id=principal.user_id)
            | Q(granted_by_id=principal.user_id)
            | Q(content_type=cts[Family], object_id__in=administered)
            | Q(
                content_type=cts[DomainRecord],
                object_id__in=DomainRecord.objects.filter(family_id__in=administered).values("pk"),
            )
            | Q(
                content_type=cts[PubkyDomain],
                object_id__in=PubkyDomain.objects.filter(family_id__in=administered).values("pk"),
            )
        )
    paths = paths_for(model)
    condition = Q(pk__in=[])
    if paths.visibility:
        condition |= Q(**{paths.visibility: Visibility.PUBLIC})
    families = set(principal.roles) | set(principal.family_grants)
    if paths.guardians_read:
        families |= principal.guardian_of
    if families:
        condition |= Q(**{f"{paths.family}__in": _ids(families)})
    if paths.domain and principal.domain_grants:
        condition |= Q(**{f"{paths.domain}__in": _ids(principal.domain_grants)})
    if paths.pubky_domain and principal.pubky_domain_grants:
        condition |= Q(**{f"{paths.pubky_domain}__in": _ids(principal.pubky_domain_grants)})
    return queryset.filter(condition)


def keypair_public_fields() -> tuple[str, ...]:
    """The only keypair fields any interface may show."""
    return tuple(
        f.name
        for f in PubkyKeypair._meta.get_fields()
        if getattr(f, "concrete", False) and f.name != PubkyKeypair.sealed_key_field
    )
