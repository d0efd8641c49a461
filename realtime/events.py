"""The one publisher: every event goes through here (shared/STYLE.md §7, DESIGN.md §5).

``publish`` writes an outbox row in the caller's transaction and hands the event to the
transport once that transaction commits, so a rolled-back write is never sent and every sent
event can be replayed from the outbox (``subscribe`` with ``since``). The client frame is
serialised here, once per event, never once per socket.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from realtime.models import EventSource

logger = logging.getLogger("pubky.realtime")

_INSERT = """
WITH next AS (
    INSERT INTO realtime_topic_sequences (topic, seq) VALUES (%s, 1)
    ON CONFLICT (topic) DO UPDATE SET seq = realtime_topic_sequences.seq + 1
    RETURNING seq
)
INSERT INTO realtime_outbox (topic, seq, type, payload, source, created_at)
SELECT %s, next.seq, %s, %s::jsonb, %s, now() FROM next
RETURNING id, seq
"""


@dataclass(frozen=True)
class Event:
    """A committed (or about to be committed) outbox event, ready for the wire."""

    event_id: int
    topic: str
    seq: int
    type: str
    frame: str  # the JSON text sent to clients

    def as_message(self) -> dict[str, Any]:
        """The channel-layer message that carries this event between processes."""
        return {
            "type": "hub.event",
            "topic": self.topic,
            "seq": self.seq,
            "event_id": self.event_id,
            "event_type": self.type,
            "frame": self.frame,
        }


def dumps(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def frame_from_row(event_type: str, event_id: int, topic: str, payload_json: str) -> str:
    """Build a client frame from a payload already in JSON text (no re-parse on replay).

    ``topic`` names the subscription the event belongs to (the ``subscribed`` reply carries it
    too), so a client keeps a separate ``since`` per subscription.
    """
    return (
        f'{{"type":{json.dumps(event_type)},"event_id":{event_id},'
        f'"topic":{json.dumps(topic)},"data":{payload_json}}}'
    )


def publish(
    *,
    topic: str,
    type: str,
    payload: dict[str, Any],
    source: str = EventSource.ORM,
) -> Event:
    """Record an event in the outbox now and send it when the current transaction commits."""
    payload_json = dumps(payload)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [topic, topic, type, payload_json, source])
        event_id, seq = cursor.fetchone()
    event = Event(
        event_id=event_id,
        topic=topic,
        seq=seq,
        type=type,
        frame=frame_from_row(type, event_id, topic, payload_json),
    )
    transaction.on_commit(lambda: send_now([event]), robust=True)
    return event


_INSERT_MANY = """
WITH input AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) WITH ORDINALITY
        AS t(topic, type, payload, ord)
), seqs AS (
    INSERT INTO realtime_topic_sequences (topic, seq)
    SELECT topic, count(*) FROM input GROUP BY topic
    ON CONFLICT (topic) DO UPDATE SET seq = realtime_topic_sequences.seq + EXCLUDED.seq
    RETURNING topic, seq
)
INSERT INTO realtime_outbox (topic, seq, type, payload, source, created_at)
SELECT i.topic,
       s.seq - count(*) OVER (PARTITION BY i.topic)
             + row_number() OVER (PARTITION BY i.topic ORDER BY i.ord),
       i.type, i.payload::jsonb, %s, now()
  FROM input i JOIN seqs s USING (topic)
 ORDER BY i.ord
RETURNING id, topic, seq
"""


def publish_many(
    events: Iterable[tuple[str, str, dict[str, Any]]], *, source: str = EventSource.SERVICE
) -> list[Event]:
    """Publish many (topic, type, payload) events with one statement, sent after commit.

    For bulk writes that bypass signals (``update()``, ``COPY``): same guarantees as
    :func:`publish` (outbox rows in the caller's transaction, per-topic ``seq``, nothing sent
    for a rollback) at a fraction of the cost per event.
    """
    rows = [(topic, kind, dumps(payload)) for topic, kind, payload in events]
    if not rows:
        return []
    topics_, kinds, payloads = (list(column) for column in zip(*rows, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_MANY, [topics_, kinds, payloads, source])
        returned = cursor.fetchall()
    by_slot: dict[tuple[str, int], int] = {}
    base: dict[str, int] = {}
    for event_id, topic, seq in returned:
        by_slot[(topic, seq)] = event_id
        base[topic] = min(base.get(topic, seq), seq)
    # Within a topic, seq follows input order: the k-th event of a topic has base + k.
    counters: dict[str, int] = {}
    published = []
    for topic, kind, payload_json in rows:
        seq = base[topic] + counters.get(topic, 0)
        counters[topic] = counters.get(topic, 0) + 1
        event_id = by_slot[(topic, seq)]
        published.append(
            Event(event_id, topic, seq, kind, frame_from_row(kind, event_id, topic, payload_json))
        )
    transaction.on_commit(lambda: send_now(published), robust=True)
    return published


def send_now(events: list[Event]) -> None:
    """Hand committed events to the transport (Redis). Failures are logged, never raised:
    the events are in the outbox, and clients recover them with ``since``."""
    from realtime.transport import broadcast_sync

    try:
        broadcast_sync(events)
    except Exception:
        logger.exception("could not broadcast %d event(s); clients recover via since", len(events))


def publish_model_change(
    instance: Any, *, deleted: bool = False, source: str = EventSource.ORM
) -> None:
    """Publish what a saved or deleted model instance means to subscribers (if anything)."""
    from realtime.payloads import changes_for

    for topic, event_type, data in changes_for(instance, deleted=deleted):
        publish(topic=topic, type=event_type, payload=data, source=source)
