"""The port through which code below the live-update layer announces events.

Services in ``families``, ``domains`` and ``guardians`` (and the API core) say *what happened*
on *which topic*; they never import ``realtime``, which sits above them. ``realtime`` plugs its
outbox publisher in here when its app is ready (``realtime.apps``). Every event still goes
through that one outbox: written in the caller's transaction, sent after commit, replayable.

Topic names live here too (``pubkyproject.topics``), since whoever announces an event names
its topic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

EventSpec = tuple[str, str, Mapping[str, Any]]  # (topic, event type, payload)


class Publisher(Protocol):
    """What the live-update layer provides."""

    def publish(self, *, topic: str, type: str, payload: Mapping[str, Any]) -> None:
        """Record one event in the caller's transaction; send it after commit."""

    def publish_many(self, events: Iterable[EventSpec]) -> None:
        """The same for many events at once (bulk writes that bypass signals)."""

    def flush(self) -> None:
        """Wait until bulk events handed over so far are on the wire."""


_publisher: Publisher | None = None


def register(publisher: Publisher) -> None:
    """Plug in the publisher (called once, from the live-update app's ``ready()``)."""
    global _publisher
    _publisher = publisher


def _require() -> Publisher:
    if _publisher is None:
        raise ImproperlyConfigured(
            "No event publisher is registered: the 'realtime' app must be in INSTALLED_APPS."
        )
    return _publisher


def publish(*, topic: str, type: str, payload: Mapping[str, Any]) -> None:
    """Announce one event on ``topic`` (sent only if the current transaction commits)."""
    _require().publish(topic=topic, type=type, payload=payload)


def publish_many(events: Iterable[EventSpec]) -> None:
    """Announce many events in one go, in order."""
    _require().publish_many(events)


def flush() -> None:
    """Wait for bulk events to be sent (commands call it before they exit)."""
    if _publisher is not None:
        _publisher.flush()
