"""The one publisher: every event goes through here (README, "Live updates").

``publish`` writes an outbox row in the caller's transaction and hands the event to the
transport once that transaction commits, so a rolled-back write is never sent and every sent
event can be replayed from the outbox (``subscribe`` with ``since``). The client frame is
serialised here, once per event, never once per socket (its format: ``realtime.wire``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from realtime.models import EventSource
from realtime.payloads import changes_for
from realtime.transport import broadcast_sync
from realtime.wire import WireEvent, dumps, frame_from_row

__all__ = [
    "OutboxEmitter",
    "WireEvent",
    "dumps",
    "emit",
    "emit_many",
    "emit_model_change",
    "flush_bulk_sends",
    "frame_from_row",
    "send_now",
]

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


def emit(
    *,
    topic: str,
    type: str,
    payload: Mapping[str, Any],
    source: str = EventSource.ORM,
) -> WireEvent:
    """Record an event in the outbox now and send it when the current transaction commits."""
    payload_json = dumps(payload)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [topic, topic, type, payload_json, source])
        event_id, seq = cursor.fetchone()
    event = WireEvent(
        event_id=event_id,
        topic=topic,
        seq=seq,
        type=type,
        frame=frame_from_row(type, event_id, topic, payload_json),
    )
    transaction.on_commit(lambda: send_now([event]), robust=True)
    return event


_RESERVE_SEQS = """
INSERT INTO realtime_topic_sequences (topic, seq)
SELECT topic, n FROM unnest(%s::text[], %s::bigint[]) AS t(topic, n)
ON CONFLICT (topic) DO UPDATE SET seq = realtime_topic_sequences.seq + EXCLUDED.seq
RETURNING topic, seq
"""

_RESERVE_IDS = "SELECT nextval('realtime_outbox_id_seq') FROM generate_series(1, %s)"

_COPY_OUTBOX = "COPY realtime_outbox (id, topic, seq, type, payload, source, created_at) FROM STDIN"


def emit_many(
    events: Iterable[tuple[str, str, Mapping[str, Any]]], *, source: str = EventSource.SERVICE
) -> list[WireEvent]:
    """Publish many (topic, type, payload) events in three statements, sent after commit.

    For bulk writes that bypass signals (``update()``, ``COPY``): the same guarantees as
    :func:`publish` (outbox rows in the caller's transaction, gap-free ``seq`` per topic, held
    by the topic rows' locks until commit, nothing sent for a rollback) at a fraction of the
    cost per event: reserve each topic's sequence numbers, reserve the event ids, ``COPY``.
    """
    rows = [(topic, kind, dumps(payload)) for topic, kind, payload in events]
    if not rows:
        return []
    per_topic: dict[str, int] = {}
    for topic, _, _ in rows:
        per_topic[topic] = per_topic.get(topic, 0) + 1
    with connection.cursor() as cursor:
        cursor.execute(_RESERVE_SEQS, [list(per_topic), list(per_topic.values())])
        # The upsert returned each topic's last seq; this batch owns the n before it.
        next_seq = {topic: last - per_topic[topic] + 1 for topic, last in cursor.fetchall()}
        cursor.execute(_RESERVE_IDS, [len(rows)])
        ids = sorted(row[0] for row in cursor.fetchall())
        now = timezone.now()
        published = []
        with cursor.cursor.copy(_COPY_OUTBOX) as copy:
            for event_id, (topic, kind, payload_json) in zip(ids, rows, strict=True):
                seq = next_seq[topic]
                next_seq[topic] = seq + 1
                copy.write_row((event_id, topic, seq, kind, payload_json, source, now))
                published.append(
                    WireEvent(
                        event_id,
                        topic,
                        seq,
                        kind,
                        frame_from_row(kind, event_id, topic, payload_json),
                    )
                )
    transaction.on_commit(lambda: _background_sender().put(published), robust=True)
    return published


class _Sender:
    """One FIFO thread that broadcasts bulk batches after commit, so the committing thread
    goes on with its next batch instead of waiting for Redis. FIFO keeps each topic's order;
    :func:`flush_bulk_sends` waits for it (commands call it before they exit)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[list[WireEvent]] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="outbox-sender", daemon=True)
        self.thread.start()

    def put(self, events: list[WireEvent]) -> None:
        self.queue.put(events)

    def _run(self) -> None:
        while True:
            events = self.queue.get()
            try:
                send_now(events)
            finally:
                self.queue.task_done()


_sender: _Sender | None = None
_sender_lock = threading.Lock()


def _background_sender() -> _Sender:
    global _sender
    with _sender_lock:
        if _sender is None:
            _sender = _Sender()
        return _sender


def flush_bulk_sends() -> None:
    """Wait until every bulk batch handed to the sender has been broadcast."""
    if _sender is not None:
        _sender.queue.join()


def send_now(events: list[WireEvent]) -> None:
    """Hand committed events to the transport (Redis). Failures are logged, never raised:
    the events are in the outbox, and clients recover them with ``since``."""
    try:
        broadcast_sync(events)
    except Exception:
        logger.exception("could not broadcast %d event(s); clients recover via since", len(events))


class OutboxEmitter:
    """This module as the core's event port (``pubkyproject.event_port``), so code below the
    live-update layer publishes through the outbox without importing it."""

    def emit(self, *, topic: str, type: str, payload: Mapping[str, Any]) -> None:
        emit(topic=topic, type=type, payload=dict(payload))

    def emit_many(self, events: Iterable[tuple[str, str, Mapping[str, Any]]]) -> None:
        emit_many((topic, kind, dict(payload)) for topic, kind, payload in events)

    def flush(self) -> None:
        flush_bulk_sends()


def emit_model_change(
    instance: Any, *, deleted: bool = False, source: str = EventSource.ORM
) -> None:
    """Publish what a saved or deleted model instance means to subscribers (if anything)."""
    for topic, event_type, data in changes_for(instance, deleted=deleted):
        emit(topic=topic, type=event_type, payload=data, source=source)
