"""The one access policy: who may read, change or administer what.

The API, the admin and the WebSocket consumer all ask this module; no rule is written twice.
This module is the policy's *framework*: it imports no app's models. Each app tells it, from
its ``AppConfig.ready()``, the rules for its own objects (``register_paths``,
``register_object_rule``), the grant targets it owns (``register_grant_target``) and what a
caller's principal is loaded from (``register_principal_part``); the ``families`` app also names
the role ranks and the values the rules compare with (``configure``).

Rules, in order:

* Superusers may do everything; staff may also read the audit trails.
* Public objects (``visibility = public`` on a family, domain or Pubky domain, and what hangs off
  them) may be read by anyone, including anonymous callers.
* Family members may read everything of their family; ``member`` and above may change domains,
  DNS records, Pubky domains and migrations; ``admin`` and above may change the family itself,
  its members, keypairs, guardians and grants (*administer*).
* Active guardians of a family may read the family's domains and migrations and decide on
  migrations; a guardian may update their own backup status.
* Explicit grants (optionally expiring) give read or write access to one family, domain or
  Pubky domain and everything that hangs off it.

Every check works on a :class:`Principal`, loaded once per request or connection (one
query), so checking many objects or filtering a list costs no extra queries.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Model, Q, QuerySet

from pubky.errors import PubkyError
from pubky.urls import PubkyUrl
from pubkyproject.async_db import fetchone

M = TypeVar("M", bound=Model)

#: The three kinds of object a grant (or a path) can point at.
ScopeKind = Literal["family", "domain", "pubky_domain"]
SCOPE_KINDS: tuple[ScopeKind, ...] = ("family", "domain", "pubky_domain")


class Action(enum.Enum):
    READ = "read"
    CHANGE = "change"
    ADMINISTER = "administer"


@dataclass(frozen=True)
class Paths:
    """How to reach the owning family, domain and Pubky domain (and visibility) from a model.

    ``change_role`` is the least role that may change the object; ``None`` means the member
    role (:func:`configure`), which also lets a write grant change it.
    """

    family: str
    domain: str | None = None
    pubky_domain: str | None = None
    visibility: str | None = None
    change_role: str | None = None
    guardians_read: bool = True

    def path(self, kind: ScopeKind) -> str | None:
        return {"family": self.family, "domain": self.domain, "pubky_domain": self.pubky_domain}[
            kind
        ]


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
        return _vocabulary().role_rank.get(role, 0) if role else 0

    def grants(self, kind: ScopeKind) -> dict[int, str]:
        return {
            "family": self.family_grants,
            "domain": self.domain_grants,
            "pubky_domain": self.pubky_domain_grants,
        }[kind]


ANONYMOUS = Principal(user_id=None)

#: Who asks: a loaded principal, a user (the configured user model), anonymous or nobody.
Who = Principal | AbstractBaseUser | AnonymousUser | None


class ObjectRule(Protocol):
    """A model whose rule is not a set of :class:`Paths` (users, grants): the app decides."""

    def can(self, principal: Principal, action: Action, obj: Any) -> bool: ...

    def scope(self, principal: Principal, queryset: QuerySet[Any]) -> QuerySet[Any]: ...


@dataclass(frozen=True)
class Vocabulary:
    """The values the rules compare with, named by the app that owns them (``families``)."""

    role_rank: Mapping[str, int]
    member_role: str
    admin_role: str
    public: str
    write: str
    read: str


@dataclass(frozen=True)
class PrincipalPart:
    """One column of the principal query: a scalar subquery yielding JSON, with its params.

    ``u`` is the user row. ``roles`` yields ``[[family_id, role], …]``, ``guardian_of``
    ``[family_id, …]``, ``grants`` ``[["app_label.model", object_id, permission], …]``.
    """

    sql: str
    params: Callable[[], Sequence[Any]] = lambda: ()


PartName = Literal["roles", "guardian_of", "grants"]
_PART_NAMES: tuple[PartName, ...] = ("roles", "guardian_of", "grants")


class _Registry:
    def __init__(self) -> None:
        self.paths: dict[type[Model], Paths] = {}
        self.object_rules: dict[type[Model], ObjectRule] = {}
        self.grant_targets: dict[str, tuple[type[Model], ScopeKind]] = {}
        self.parts: dict[PartName, PrincipalPart] = {}
        self.key_holders: list[Callable[[Principal, str], bool]] = []
        self.vocabulary: Vocabulary | None = None


_registry = _Registry()


# --- registration (from each app's ``AppConfig.ready()``) ---


def configure(vocabulary: Vocabulary) -> None:
    """Name the role ranks and the compared values (the app owning families does, once)."""
    _registry.vocabulary = vocabulary


def register_paths(model: type[Model], paths: Paths) -> None:
    """The rule for ``model``: where its family, domain, Pubky domain and visibility are."""
    _check_new(model)
    _registry.paths[model] = paths


def register_object_rule(model: type[Model], rule: ObjectRule) -> None:
    """A rule written as code, for a model not reached through paths (users, grants)."""
    _check_new(model)
    _registry.object_rules[model] = rule


def register_grant_target(model: type[Model], kind: ScopeKind) -> None:
    """Grants on ``model`` objects are ``kind`` grants (``model`` must also have paths)."""
    _registry.grant_targets[model._meta.label_lower] = (model, kind)


def register_principal_part(name: PartName, part: PrincipalPart) -> None:
    """Where the ``name`` part of every principal comes from (one subquery of one query)."""
    if name not in _PART_NAMES:
        raise ValueError(f"unknown principal part {name!r}")
    _registry.parts[name] = part


def register_key_holder(check: Callable[[Principal, str], bool]) -> None:
    """A check that the principal holds the Pubky key (z-base-32) of a private path."""
    _registry.key_holders.append(check)


def _check_new(model: type[Model]) -> None:
    if model in _registry.paths or model in _registry.object_rules:
        raise ImproperlyConfigured(f"the access policy already has a rule for {model.__name__}")


def _vocabulary() -> Vocabulary:
    if _registry.vocabulary is None:
        raise ImproperlyConfigured(
            "the access policy has no roles: the families app configures them in its ready()"
        )
    return _registry.vocabulary


def paths_for(model: type[Model]) -> Paths:
    """The paths of ``model`` (TypeError for a model the policy has no path rule for)."""
    try:
        return _registry.paths[model]
    except KeyError:
        raise TypeError(f"the access policy has no rule for {model.__name__}") from None


def grant_targets() -> list[tuple[type[Model], ScopeKind]]:
    """The models grants may point at, with the kind of grant each is."""
    return list(_registry.grant_targets.values())


def grant_target_model(kind: str) -> type[Model]:
    """The model grants of ``kind`` point at (LookupError if no app registered one)."""
    for model, registered in _registry.grant_targets.values():
        if registered == kind:
            return model
    raise LookupError(f"no model takes {kind!r} grants")


def grant_kind(label: str) -> ScopeKind | None:
    """The kind of grant on a model named ``app_label.model`` (None if grants cannot name it)."""
    target = _registry.grant_targets.get(label)
    return None if target is None else target[1]


def family_of(obj: Model) -> int | None:
    """The id of the family ``obj`` belongs to (None for an object of no family)."""
    return _resolve(obj, paths_for(type(obj)).family)


# --- principals ---


def _principal_sql() -> str:
    user_table = connection.ops.quote_name(get_user_model()._meta.db_table)
    columns = [
        f"({_registry.parts[name].sql})" if name in _registry.parts else "'[]'::json"
        for name in _PART_NAMES
    ]
    # The subqueries are SQL the apps register in code; every value is a parameter.
    return (
        f"SELECT u.is_superuser, u.is_staff, {', '.join(columns)} "  # noqa: S608
        f"FROM {user_table} u WHERE u.id = %s AND u.is_active"
    )


def _principal_params(user_id: int) -> list[Any]:
    params: list[Any] = []
    for name in _PART_NAMES:
        part = _registry.parts.get(name)
        if part is not None:
            params.extend(part.params())
    return [*params, user_id]


def _json(value: Any) -> Any:
    # psycopg decodes json columns; a driver that does not hands over text.
    return json.loads(value) if isinstance(value, str) else value


def _principal_from_row(user_id: int, row: tuple[Any, ...]) -> Principal:
    is_superuser, is_staff, memberships, guardian_of, grants = row
    write = _vocabulary().write
    by_kind: dict[ScopeKind, dict[int, str]] = {kind: {} for kind in SCOPE_KINDS}
    for label, object_id, permission in _json(grants):
        target = _registry.grant_targets.get(label)
        if target is None:
            continue
        chosen = by_kind[target[1]]
        # A write grant wins over a read grant on the same object.
        if chosen.get(object_id) != write:
            chosen[object_id] = permission
    return Principal(
        user_id=user_id,
        is_superuser=is_superuser,
        is_staff=is_staff,
        roles={int(family_id): role for family_id, role in _json(memberships)},
        guardian_of=frozenset(_json(guardian_of)),
        family_grants=by_kind["family"],
        domain_grants=by_kind["domain"],
        pubky_domain_grants=by_kind["pubky_domain"],
    )


def principal_for_user_id(user_id: int) -> Principal | None:
    """Load an active user's principal in one query (None if the user is missing or inactive).

    Memberships, active guardianships and current grants arrive as JSON arrays of one row, so a
    new WebSocket or API caller costs one round trip to the database.
    """
    with connection.cursor() as cursor:
        cursor.execute(_principal_sql(), _principal_params(user_id))
        row = cursor.fetchone()
    return None if row is None else _principal_from_row(user_id, row)


async def aprincipal_for_user_id(user_id: int) -> Principal | None:
    """:func:`principal_for_user_id` on the event loop (the WebSocket path): the same query
    through the asyncio pool, no trip to Django's database thread."""
    row = await fetchone(_principal_sql(), _principal_params(user_id))
    return None if row is None else _principal_from_row(user_id, row)


def principal_for(user: AbstractBaseUser | AnonymousUser | None) -> Principal:
    """What the policy knows about ``user``: memberships, guardianships, current grants."""
    if user is None or not user.is_authenticated or user.pk is None:
        return ANONYMOUS
    return principal_for_user_id(user.pk) or ANONYMOUS


def _as_principal(who: Who) -> Principal:
    return who if isinstance(who, Principal) else principal_for(who)


# --- decisions ---


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
    words = _vocabulary()
    best: str | None = None
    for kind in SCOPE_KINDS:
        grants = principal.grants(kind)
        object_id = _resolve(obj, paths.path(kind))
        if object_id is not None and object_id in grants:
            if grants[object_id] == words.write:
                return words.write
            best = words.read
    return best


def _object_rule(model: type[Model]) -> ObjectRule | None:
    for klass in model.__mro__:
        rule = _registry.object_rules.get(klass)
        if rule is not None:
            return rule
    return None


def can(who: Who, action: Action, obj: Model) -> bool:
    """May ``who`` perform ``action`` on ``obj``?"""
    principal = _as_principal(who)
    if principal.is_superuser:
        return True
    rule = _object_rule(type(obj))
    if rule is not None:
        return rule.can(principal, action, obj)
    words = _vocabulary()
    paths = paths_for(type(obj))
    family_id = _resolve(obj, paths.family)
    rank = principal.rank_in(family_id)
    grant = _grant(principal, paths, obj)
    if action is Action.READ:
        if paths.visibility and _resolve(obj, paths.visibility) == words.public:
            return True
        if rank > 0 or grant is not None:
            return True
        return paths.guardians_read and family_id in principal.guardian_of
    change_role = paths.change_role or words.member_role
    if action is Action.CHANGE:
        if rank >= words.role_rank[change_role]:
            return True
        return grant == words.write and change_role == words.member_role
    return rank >= words.role_rank[words.admin_role]


def can_read(who: Who, obj: Model) -> bool:
    return can(who, Action.READ, obj)


def can_change(who: Who, obj: Model) -> bool:
    return can(who, Action.CHANGE, obj)


def can_administer(who: Who, obj: Model) -> bool:
    return can(who, Action.ADMINISTER, obj)


def can_decide_migration(who: Who, migration: Model) -> bool:
    """Only an active guardian of the migrating domain's family decides on its migrations."""
    principal = _as_principal(who)
    return principal.is_authenticated and family_of(migration) in principal.guardian_of


def can_follow_family(who: Who, family: Model) -> bool:
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


def can_read_audit(who: Who) -> bool:
    principal = _as_principal(who)
    return principal.is_superuser or principal.is_staff


def can_read_pubky_url(who: Who, url: str) -> bool:
    """``/pub/`` content is public by protocol; anything else only for a holder of the key
    (the registered key-holder checks decide who holds it)."""
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
    return any(check(principal, key) for check in _registry.key_holders)


def ids(values: Iterable[int]) -> list[int]:
    """Ids in a stable order for an ``__in`` lookup."""
    return sorted(values)


def scope(who: Who, queryset: QuerySet[M]) -> QuerySet[M]:
    """Filter ``queryset`` down to what ``who`` may read: lists never leak other objects."""
    principal = _as_principal(who)
    if principal.is_superuser:
        return queryset
    rule = _object_rule(queryset.model)
    if rule is not None:
        return rule.scope(principal, queryset)
    words = _vocabulary()
    paths = paths_for(queryset.model)
    condition = Q(pk__in=[])
    if paths.visibility:
        condition |= Q(**{paths.visibility: words.public})
    families = set(principal.roles) | set(principal.family_grants)
    if paths.guardians_read:
        families |= principal.guardian_of
    if families:
        condition |= Q(**{f"{paths.family}__in": ids(families)})
    if paths.domain and principal.domain_grants:
        condition |= Q(**{f"{paths.domain}__in": ids(principal.domain_grants)})
    if paths.pubky_domain and principal.pubky_domain_grants:
        condition |= Q(**{f"{paths.pubky_domain}__in": ids(principal.pubky_domain_grants)})
    return queryset.filter(condition)
