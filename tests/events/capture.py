"""``verify_action``: run one service action and return exactly the events it emitted.

The events are read back from the outbox (every event goes through it, in the action's
transaction), so a test sees what a subscriber would receive: topic, type and payload as
stored. Every payload is checked against the typed shape of its event type
(``pubkyproject.event_types``); a test then asserts the exact list of ``(topic, type)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection

from pubkyproject.event_types import payload_problems
from realtime.models import OutboxEvent

T = TypeVar("T")


@dataclass(frozen=True)
class Emitted:
    topic: str
    type: str
    payload: dict[str, Any]


def _last_event_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM realtime_outbox")
        (last,) = cursor.fetchone()
    return int(last)


def capture(action: Callable[[], T]) -> tuple[T, list[Emitted]]:
    """Run ``action``; its result and the events it wrote to the outbox, in order."""
    before = _last_event_id()
    result = action()
    rows = OutboxEvent.objects.filter(id__gt=before).order_by("id")
    return result, [Emitted(row.topic, row.type, row.payload) for row in rows]


def verify_action(
    action: Callable[[], T],
    expected: list[tuple[str, str]] | Callable[[], list[tuple[str, str]]],
) -> tuple[T, list[Emitted]]:
    """Run ``action`` and assert it emitted exactly ``expected`` ``(topic, type)``, in order,
    each payload of the shape its type promises. ``expected`` may be a function, called after
    the action (for topics named by the ids of objects the action creates)."""
    result, events = capture(action)
    if callable(expected):
        expected = expected()
    emitted = [(e.topic, e.type) for e in events]
    assert emitted == expected, (
        "emitted events differ:\n  got:      "
        + "\n            ".join(map(str, emitted))
        + "\n  expected: "
        + "\n            ".join(map(str, expected))
    )
    for event in events:
        problems = payload_problems(event.type, event.payload)
        assert not problems, f"{event.type} on {event.topic}: {problems}"
    return result, events


def of_type(events: list[Emitted], event_type: str) -> list[dict[str, Any]]:
    return [e.payload for e in events if e.type == event_type]
