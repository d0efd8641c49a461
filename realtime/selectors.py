"""Reads for the realtime service: outbox replay, subscription targets, status snapshots,
Pubky content."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import connection

from domains.api_selectors import current_score
from domains.models import DomainMigration, DomainRecord, PubkyDomain
from domains.selectors import relay_statuses_active
from families.models import Family
from guardians.models import FederationGuardian
from pubky.errors import PubkyError
from pubky.keys import PublicKey
from pubky.urls import canonical_pubky_url
from pubkyproject import policy
from pubkyproject.async_db import fetchall
from pubkyproject.event_types import (
    RelayData,
    SovereigntyScoreSnapshot,
    sovereignty_score_snapshot,
)
from pubkyproject.policy import Principal
from realtime import topics
from realtime.cache import PubkyContentCache
from realtime.models import OutboxEvent
from realtime.payloads import guardian_data, relay_data
from realtime.topics import Target
from realtime.wire import frame_from_row


def outbox_range(topic: str, after_seq: int, before_seq: int) -> list[tuple[int, int, str, str]]:
    """Events of ``topic`` with after_seq < seq < before_seq as (event_id, seq, type, frame)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, seq, type, payload::text FROM realtime_outbox "
            "WHERE topic = %s AND seq > %s AND seq < %s ORDER BY seq",
            [topic, after_seq, before_seq],
        )
        rows = cursor.fetchall()
    return [(i, s, t, frame_from_row(t, i, topic, p)) for i, s, t, p in rows]


async def atopic_heads(topic_names: list[str]) -> dict[str, int]:
    """The last ``seq`` handed out on each of ``topic_names`` (topics never used are absent).

    On the event loop, through the asyncio pool: the hub asks every few seconds.
    """
    if not topic_names:
        return {}
    rows = await fetchall(
        "SELECT topic, seq FROM realtime_topic_sequences WHERE topic = ANY(%s)", [topic_names]
    )
    return dict(rows)


async def atopic_heads_ahead(last_seqs: Mapping[str, int | None]) -> dict[str, int]:
    """The last ``seq`` of each topic in ``last_seqs`` whose head is past the given one (a
    topic given ``None``: any head). Topics at or behind it, or never used, are absent.

    The hub's periodic check: with thousands of topics and nothing lost the answer is empty,
    so a check reads no row per topic. The topics go as one JSON object, written in C, rather
    than two arrays: psycopg adapts a list element by element in Python, which for 5,000 topics
    held a web process's event loop for 30-50 ms at every check.
    """
    if not last_seqs:
        return {}
    # JSON null (a topic given None) arrives as SQL NULL: any head is past it.
    known = orjson.dumps(last_seqs if isinstance(last_seqs, dict) else dict(last_seqs))
    rows = await fetchall(
        "SELECT s.topic, s.seq FROM json_each_text(%s::json) AS known(topic, seq)"
        " JOIN realtime_topic_sequences s ON s.topic = known.topic"
        " WHERE s.seq > coalesce(known.seq::bigint, -1)",
        [known.decode()],
    )
    return dict(rows)


def topic_head(topic: str) -> int:
    """The id of the newest committed event of ``topic`` (0 when it has none).

    A subscriber that has seen nothing yet resumes from here (the ``head`` of the
    ``subscribed`` reply): the writers of one topic are serialised and take their event ids
    under that lock, so every event of the topic still to commit has a larger id. (The newest
    id of *all* topics is no such bound: an event of this topic with a smaller id may still be
    in flight.)
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM realtime_outbox WHERE topic = %s", [topic])
        (head,) = cursor.fetchone()
    return int(head)


def _intact_after(cursor: Any, topic: str, since: int) -> bool:
    """True when pruning removed no event of ``topic`` after ``since``.

    ``seq`` numbers a topic's events without gaps, in id order: if the topic's first event after
    ``since`` is its first ever, or the one before it is still here (so at or before
    ``since``), nothing after ``since`` is missing; with no event after ``since``, nothing is
    missing when the last sequence number handed out is still in the outbox.
    """
    cursor.execute(
        "SELECT seq FROM realtime_outbox WHERE topic = %s AND id > %s ORDER BY id LIMIT 1",
        [topic, since],
    )
    row = cursor.fetchone()
    if row is not None:
        if row[0] == 1:
            return True
        cursor.execute(
            "SELECT 1 FROM realtime_outbox WHERE topic = %s AND seq = %s", [topic, row[0] - 1]
        )
        return cursor.fetchone() is not None
    cursor.execute(
        "SELECT coalesce((SELECT seq FROM realtime_topic_sequences WHERE topic = %s), 0), "
        "coalesce((SELECT max(seq) FROM realtime_outbox WHERE topic = %s AND id <= %s), 0)",
        [topic, topic, since],
    )
    issued, kept = cursor.fetchone()
    return bool(issued == kept)


@dataclass(frozen=True)
class Replay:
    recovered: bool
    events: list[tuple[int, str, str]]  # (event_id, type, frame)


def replay(topic: str, since: int, *, limit: int = 10_000) -> Replay:
    """Events of ``topic`` after event ``since``, or ``recovered=False`` if the outbox was
    pruned past ``since`` (then the client refetches over REST)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM realtime_outbox")
        (oldest,) = cursor.fetchone()
        cursor.execute(
            "SELECT last_value, is_called FROM realtime_outbox_id_seq",
        )
        last_value, is_called = cursor.fetchone()
        newest_issued = last_value if is_called else 0
        # Pruned past `since`: everything up to oldest-1 may have been deleted. An empty outbox
        # after ids were issued means everything was pruned.
        floor = oldest if oldest is not None else newest_issued + 1
        if since + 1 < floor and since < newest_issued and not _intact_after(cursor, topic, since):
            return Replay(recovered=False, events=[])
        cursor.execute(
            "SELECT id, type, payload::text FROM realtime_outbox "
            "WHERE topic = %s AND id > %s ORDER BY id LIMIT %s",
            [topic, since, limit + 1],
        )
        rows = cursor.fetchall()
    if len(rows) > limit:
        return Replay(recovered=False, events=[])
    return Replay(
        recovered=True, events=[(i, t, frame_from_row(t, i, topic, p)) for i, t, p in rows]
    )


class SubscriptionDenied(Exception):
    """A request the caller gets no answer to. A target that exists but is not theirs answers
    exactly like a missing one (``not_found``, same message), so ids cannot be probed;
    ``forbidden`` tells the caller's code apart, to record the denial as a security event."""

    def __init__(self, code: str, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.forbidden = forbidden


NO_SUCH_OBJECT = "no such object"
NO_SUCH_DOMAIN = "no domain is published under this key"
NO_SUCH_URL = "no such URL"


def _hidden(message: str) -> SubscriptionDenied:
    """What the caller is told about a target they may not read: that it does not exist."""
    return SubscriptionDenied("not_found", message, forbidden=True)


def _get(model: Any, pk: int) -> Any:
    try:
        return model.objects.get(pk=pk)
    except model.DoesNotExist:
        raise SubscriptionDenied("not_found", NO_SUCH_OBJECT) from None


def authorize(principal: Principal, key: str, value: str | int | bool) -> Target:
    """Resolve a subscription to its topic if ``principal`` may read it, else raise.

    Missing objects and existing ones the caller may not read both answer ``not_found``.
    """
    entity = topics.SUBSCRIPTION_KEYS[key]
    if key == "relays":
        return Target(entity, key, True, topics.RELAYS)
    if key == "pubkyUrl":
        url = canonical_url(value)
        if not policy.can_read_pubky_url(principal, url):
            raise _hidden(NO_SUCH_URL)
        return Target(entity, key, url, topics.pubky_url(url))
    assert isinstance(value, int)
    model = {
        "pubkyDomainId": PubkyDomain,
        "sovereigntyScoreDomainId": DomainRecord,
        "domainMigrationId": DomainMigration,
        "familyId": Family,
    }[key]
    obj = _get(model, value)
    allowed = policy.can_follow_family if key == "familyId" else policy.can_read
    if not allowed(principal, obj):
        raise _hidden(NO_SUCH_OBJECT)
    return Target(entity, key, value, topics.ID_TOPICS[key](value))


def canonical_url(value: object) -> str:
    """A subscription's or request's Pubky URL in canonical form, or ``invalid``."""
    try:
        return canonical_pubky_url(str(value))
    except PubkyError as exc:
        raise SubscriptionDenied("invalid", f"not a Pubky URL: {exc}") from None


def topic_for(key: str, value: str | int | bool) -> str | None:
    """The topic a subscription key names, without checking access (None: not a Pubky URL)."""
    if key == "relays":
        return topics.RELAYS
    if key == "pubkyUrl":
        try:
            return topics.pubky_url(canonical_pubky_url(str(value)))
        except PubkyError:
            return None
    return topics.ID_TOPICS[key](int(value))


def resolve_url(principal: Principal | None, url: str) -> dict[str, Any]:
    """The content of a ``pubky://`` URL the principal may read, through the content cache."""
    canonical = canonical_url(url)
    if not policy.can_read_pubky_url(principal, canonical):
        raise SubscriptionDenied("not_found", NO_SUCH_URL, forbidden=True)
    try:
        return PubkyContentCache().resolve(canonical)
    except PubkyError as exc:
        return {"url": canonical, "found": False, "error": str(exc)}


def still_allowed(principal: Principal, target: Target) -> bool:
    try:
        authorize(principal, target.key, target.value)
    except SubscriptionDenied:
        return False
    return True


def latest_event_id() -> int:
    last = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first()
    return last or 0


def relay_snapshot() -> list[RelayData]:
    """Every configured relay with its last status (relays no longer configured are retired)."""
    return [
        relay_data(row)
        if row.pk is not None
        else RelayData(
            url=row.url,
            isUp=None,
            latencyMs=None,
            statusCode=None,
            error="",
            lastCheckedAt=None,
            lastChangedAt=None,
        )
        for row in relay_statuses_active()
    ]


def guardian_status(principal: Principal, family_id: int) -> dict[str, Any]:
    family = _get(Family, family_id)
    if not policy.can_read(principal, family):
        raise _hidden(NO_SUCH_OBJECT)
    guardians = FederationGuardian.objects.filter(family=family).order_by("name", "id")
    return {
        "familyId": family.pk,
        "approvalRequired": family.guardian_approval_required,
        "threshold": family.guardian_threshold,
        "guardians": [guardian_data(g) for g in guardians],
    }


def score_snapshot(
    principal: Principal, *, domain_id: int | None = None, url: str | None = None
) -> SovereigntyScoreSnapshot:
    """The domain's current score with its components, computed from stored facts (no write):
    the REST score object plus the URL and name of the domain."""
    if domain_id is not None:
        domain = _get(DomainRecord, domain_id)
    else:
        try:
            key = PublicKey.parse(url or "").z32()
        except PubkyError:
            raise SubscriptionDenied("invalid", "url must name a Pubky domain") from None
        pubky_domain = (
            PubkyDomain.objects.filter(public_key=key)
            .exclude(status="suspended")
            .select_related("domain")
            .first()
        )
        if pubky_domain is None or pubky_domain.domain is None:
            raise SubscriptionDenied("not_found", NO_SUCH_DOMAIN)
        domain = pubky_domain.domain
    if not policy.can_read(principal, domain):
        raise _hidden(NO_SUCH_OBJECT if domain_id is not None else NO_SUCH_DOMAIN)
    pubky_url = PubkyDomain.objects.filter(domain=domain).values_list("pubky_url", flat=True)
    return sovereignty_score_snapshot(
        current_score(domain=domain),
        url=url or next(iter(pubky_url), "") or None,
        name=domain.name,
    )
