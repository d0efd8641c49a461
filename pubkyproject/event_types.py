"""The shape of every event the service publishes, one typed dictionary per event type.

Whoever builds an event's payload annotates it with its type here (``realtime.payloads`` for
model changes, ``realtime.lifecycle`` for created/deleted events, ``realtime.watcher`` for
content changes, ``domains.services.scoring`` for bulk scores, ``pubkyproject.api.sessions``
for ended sessions), so mypy checks the builders, and :func:`check_payload` checks a payload
at run time against the shape its type promises (the per-action event tests run it on every
event they capture). ``docs/websocket.md`` describes each field for client developers.

It sits in the core, below every app, because code below the live-update layer builds events
too (through ``pubkyproject.event_port``).

A sovereignty score is one object wherever it appears (:class:`SovereigntyScore`, built by
:func:`sovereignty_score_object`): the REST score (``GET /api/domains/{id}/score/``), the
WebSocket ``pubky_sovereignty_score`` reply and the ``pubky_sovereignty_score`` event (single
save and bulk recalculation alike) share its field names.
"""

# No ``from __future__ import annotations`` here: TypedDict tells required from NotRequired
# keys from the evaluated annotations (Python 3.11 cannot see NotRequired inside a string).
import types
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NotRequired, TypedDict, Union, get_args, get_origin, get_type_hints


def iso(value: datetime | None) -> str | None:
    """A timestamp as events write it (``isoformat()``), or None."""
    return value.isoformat() if value is not None else None


# --- the sovereignty score: one object for REST, the WebSocket reply and events ---------------


class SovereigntyScore(TypedDict):
    """One domain's sovereignty score."""

    domain: int  # the domain's id
    total: int  # 0-100, the sum of the components
    components: dict[str, int]  # the five components, 0-20 each
    rubric_version: int
    calculated_at: str | None  # when the stored score was calculated (ISO 8601), None: never
    # Per component: points, maximum and each rule with its points. Left out of events (they
    # stay small; the explanation is one request away).
    explanation: NotRequired[dict[str, Any]]


def sovereignty_score_object(
    *,
    domain_id: int,
    total: int,
    components: Mapping[str, int],
    rubric_version: int,
    calculated_at: datetime | None,
    explanation: dict[str, Any] | None = None,
) -> SovereigntyScore:
    """The one way a score is written out (REST, the WebSocket reply, events)."""
    score = SovereigntyScore(
        domain=domain_id,
        total=total,
        components=dict(components),
        rubric_version=rubric_version,
        calculated_at=iso(calculated_at),
    )
    if explanation is not None:
        score["explanation"] = explanation
    return score


class SovereigntyScoreEvent(SovereigntyScore):
    """``pubky_sovereignty_score`` on ``sovereigntyScore.<domain id>``: a score was stored."""

    score_id: int | None  # the stored row; None for rows written by bulk recalculation
    reason: str
    # Former names, kept for one release (clients should move to the names above).
    domainId: int  # = domain
    scoreId: int | None  # = score_id
    sovereignty_score: int  # = total
    calculatedAt: str | None  # = calculated_at


def sovereignty_score_event(
    score: SovereigntyScore, *, score_id: int | None, reason: str
) -> SovereigntyScoreEvent:
    """The event for a stored score (without the explanation), the former names included."""
    return SovereigntyScoreEvent(
        domain=score["domain"],
        total=score["total"],
        components=score["components"],
        rubric_version=score["rubric_version"],
        calculated_at=score["calculated_at"],
        score_id=score_id,
        reason=reason,
        domainId=score["domain"],
        scoreId=score_id,
        sovereignty_score=score["total"],
        calculatedAt=score["calculated_at"],
    )


class SovereigntyScoreSnapshot(SovereigntyScore):
    """The ``pubky_sovereignty_score`` reply: the score now, explained, with the domain."""

    url: str | None  # the request's url, else the domain's Pubky URL, else None
    name: str  # the domain's name
    # Former names, kept for one release (clients should move to the names above).
    domainId: int  # = domain
    sovereignty_score: int  # = total
    breakdown: dict[str, Any]  # = explanation
    calculatedAt: str | None  # = calculated_at


def sovereignty_score_snapshot(
    score: SovereigntyScore, *, url: str | None, name: str
) -> SovereigntyScoreSnapshot:
    return SovereigntyScoreSnapshot(
        domain=score["domain"],
        total=score["total"],
        components=score["components"],
        rubric_version=score["rubric_version"],
        calculated_at=score["calculated_at"],
        explanation=score.get("explanation", {}),
        url=url,
        name=name,
        domainId=score["domain"],
        sovereignty_score=score["total"],
        breakdown=score.get("explanation", {}),
        calculatedAt=score["calculated_at"],
    )


# --- objects as their update, created and deleted events show them ---------------------------


class PubkyDomainData(TypedDict):
    """``pubky_domain_update`` on ``pubkyDomain.<id>``; ``pubky_domain_created``/``_deleted``."""

    id: int
    name: str
    familyId: int
    domainId: int | None
    publicKey: str
    pubkyUrl: str
    status: str  # draft, active, error, disabled, suspended, or deleted
    keyCustody: str
    lastPublishedAt: str | None


class PkarrRecordData(TypedDict):
    """``pkarr_record_update`` on ``pubkyDomain.<pubky domain id>``: one relay's publish."""

    id: int
    pubkyDomainId: int
    relayUrl: str
    status: str
    httpStatus: int | None
    latencyMs: float | None
    packetTimestamp: int | None
    publishedAt: str | None
    expiresAt: str | None
    error: str


class DomainMigrationData(TypedDict):
    """``domain_migration_update`` on ``domainMigration.<id>``; ``domain_migration_created``/
    ``_deleted``."""

    id: int
    domainId: int
    familyId: int | None
    direction: str
    state: str
    approvalsRequired: int
    challengeName: str
    error: str
    updatedAt: str | None


class DomainData(TypedDict):
    """``domain_created``/``domain_deleted`` on ``family.<id>``."""

    id: int
    familyId: int
    name: str
    status: str
    visibility: str
    sovereigntyScore: int  # the stored total
    pubkyEnabled: bool
    createdAt: str | None
    updatedAt: str | None


class DnsRecordData(TypedDict):
    """``dns_record_created``/``dns_record_deleted`` on ``family.<id>``."""

    id: int
    domainId: int
    familyId: int | None
    name: str
    type: str
    value: str
    ttl: int
    updatedAt: str | None


class GuardianData(TypedDict):
    """One guardian, as events and the ``pubky_guardian_status`` reply show it."""

    id: int
    name: str
    status: str  # invited, active, revoked; removed in a removal event
    backupStatus: str
    backupUrl: str
    backupLastUpdated: str | None


class GuardianListedData(GuardianData):
    """``guardian_created``/``guardian_deleted`` on ``family.<id>``."""

    familyId: int


class AccessGrantData(TypedDict):
    """``access_grant_created``/``access_grant_deleted`` on ``family.<id>``."""

    id: int
    familyId: int | None
    granteeId: int
    permission: str
    targetType: str
    targetId: int
    expiresAt: str | None
    revokedAt: str | None


class FamilyMembershipData(TypedDict):
    """``family_membership_created``/``family_membership_deleted`` on ``family.<id>``."""

    id: int
    familyId: int
    userId: int
    role: str
    createdAt: str | None


# --- events with a shape of their own --------------------------------------------------------


class GuardianNotificationData(TypedDict):
    """``pubky_guardian_notification`` on ``family.<id>``: a stored notification."""

    id: int
    familyId: int
    guardianId: int | None
    kind: str
    title: str
    message: str
    payload: dict[str, Any]
    createdAt: str | None


class GuardianChangedData(TypedDict):
    """``pubky_guardian_notification`` on ``family.<id>``: a guardian saved or removed."""

    kind: str  # guardian_updated or guardian_removed
    familyId: int
    guardian: GuardianData


class RelayData(TypedDict):
    """One relay, as events and the ``pubky_relay_status`` reply show it."""

    url: str
    isUp: bool | None
    latencyMs: float | None
    statusCode: int | None
    error: str
    lastCheckedAt: str | None
    lastChangedAt: str | None


class RelayStatusData(TypedDict):
    """``pubky_relay_status`` on ``relays``: one relay, in a one-element list."""

    relays: list[RelayData]


class ContentUpdateData(TypedDict):
    """``pubky_content_update`` on ``pubkyUrl.<hash>``: a file on a homeserver changed."""

    url: str
    subscription: str
    deleted: bool
    content: str | None
    encoding: str | None
    etag: str | None
    found: NotRequired[bool]  # only when not deleted
    contentType: NotRequired[str | None]  # only when not deleted


class AccessChangedData(TypedDict):
    """``access_changed`` on ``user.<id>`` (control, never forwarded): re-check subscriptions."""

    userId: int


class SessionRevokedData(TypedDict, total=False):
    """``session_revoked`` on ``user.<id>`` (control, never forwarded): close the sockets of
    the named sessions, of tokens without a session up to ``before``, or all of them."""

    sessions: list[str]
    unnamed: bool
    all: bool
    before: int


# --- every event type and its shape(s) --------------------------------------------------------

LIFECYCLE_SHAPES: dict[str, type] = {
    "domain": DomainData,
    "dns_record": DnsRecordData,
    "pubky_domain": PubkyDomainData,
    "domain_migration": DomainMigrationData,
    "guardian": GuardianListedData,
    "access_grant": AccessGrantData,
    "family_membership": FamilyMembershipData,
}

EVENT_SHAPES: dict[str, tuple[type, ...]] = {
    "pubky_domain_update": (PubkyDomainData,),
    "pkarr_record_update": (PkarrRecordData,),
    "pubky_sovereignty_score": (SovereigntyScoreEvent,),
    "domain_migration_update": (DomainMigrationData,),
    "pubky_guardian_notification": (GuardianNotificationData, GuardianChangedData),
    "pubky_relay_status": (RelayStatusData,),
    "pubky_content_update": (ContentUpdateData,),
    "access_changed": (AccessChangedData,),
    "session_revoked": (SessionRevokedData,),
    **{
        f"{name}_{what}": (shape,)
        for name, shape in LIFECYCLE_SHAPES.items()
        for what in ("created", "deleted")
    },
}

# Events sockets act on themselves and never forward to clients.
CONTROL_EVENT_TYPES = frozenset({"access_changed", "session_revoked"})


class EventShapeError(ValueError):
    """A payload that does not have the shape its event type promises."""


def _typed_dict(annotation: Any) -> type | None:
    if isinstance(annotation, type) and hasattr(annotation, "__required_keys__"):
        return annotation
    return None


def _shape_problems(value: Any, shape: type, where: str) -> list[str]:
    if not isinstance(value, Mapping):
        return [f"{where or 'payload'} is {type(value).__name__}, not an object"]
    required: frozenset[str] = shape.__required_keys__  # type: ignore[attr-defined]
    optional: frozenset[str] = shape.__optional_keys__  # type: ignore[attr-defined]
    problems = [f"{where}{key} is missing" for key in sorted(required - value.keys())]
    problems += [
        f"{where}{key} is not part of {shape.__name__}"
        for key in sorted(value.keys() - required - optional)
    ]
    hints = get_type_hints(shape)
    for key in sorted(value.keys() & hints.keys()):
        problems += _value_problems(value[key], hints[key], f"{where}{key}")
    return problems


def _value_problems(value: Any, annotation: Any, where: str) -> list[str]:
    """Nested objects are checked against their own shapes; scalars by their Python type."""
    if get_origin(annotation) is NotRequired:
        (annotation,) = get_args(annotation)
    nested = _typed_dict(annotation)
    if nested is not None:
        return _shape_problems(value, nested, f"{where}.")
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = get_args(annotation)
        if value is None and type(None) in options:
            return []
        for option in options:
            if option is not type(None) and not _value_problems(value, option, where):
                return []
        return [f"{where} is {value!r}, not {annotation}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where} is not a list"]
        (item,) = get_args(annotation)
        return [p for i, v in enumerate(value) for p in _value_problems(v, item, f"{where}[{i}]")]
    if origin is dict:
        return [] if isinstance(value, dict) else [f"{where} is not an object"]
    if annotation is Any or not isinstance(annotation, type):
        return []
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return []
    if annotation is int and isinstance(value, bool):
        return [f"{where} is a boolean, not an integer"]
    return [] if isinstance(value, annotation) else [f"{where} is {value!r}, not {annotation}"]


def payload_problems(event_type: str, payload: Any) -> list[str]:
    """What is wrong with ``payload`` as a ``event_type`` event ([] when it fits one shape)."""
    shapes = EVENT_SHAPES.get(event_type)
    if shapes is None:
        return [f"{event_type!r} is not a known event type"]
    best: list[str] | None = None
    for shape in shapes:
        problems = _shape_problems(payload, shape, "")
        if not problems:
            return []
        if best is None or len(problems) < len(best):
            best = problems
    return best or []


def check_payload(event_type: str, payload: Any) -> None:
    """Raise :class:`EventShapeError` unless ``payload`` has a shape of ``event_type``."""
    problems = payload_problems(event_type, payload)
    if problems:
        raise EventShapeError(f"{event_type}: " + "; ".join(problems))
