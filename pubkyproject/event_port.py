"""The port through which code below the live-update layer announces events.

Services in ``families``, ``domains`` and ``guardians`` (and the API core) say *what happened*
on *which topic*; they never import ``realtime``, which sits above them. ``realtime`` plugs its
outbox emitter in here when its app is ready (``realtime.apps``). Every event still goes
through that one outbox: written in the caller's transaction, sent after commit, replayable.

Topic names live here too (``pubkyproject.topics``), since whoever announces an event names
its topic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

EventSpec = tuple[str, str, Mapping[str, Any]]  # (topic, event type, payload)


class Emitter(Protocol):
    """What the live-update layer provides."""

    def emit(self, *, topic: str, type: str, payload: Mapping[str, Any]) -> None:
        """Record one event in the caller's transaction; send it after commit."""

    def emit_many(self, events: Iterable[EventSpec]) -> None:
        """The same for many events at once (bulk writes that bypass signals)."""

    def flush(self) -> None:
        """Wait until bulk events handed over so far are on the wire."""


_emitter: Emitter | None = None


def register(emitter: Emitter) -> None:
    """Plug in the emitter (called once, from the live-update app's ``ready()``)."""
    global _emitter
    _emitter = emitter


def _require() -> Emitter:
    if _emitter is None:
        raise ImproperlyConfigured(
            "No event emitter is registered: the 'realtime' app must be in INSTALLED_APPS."
        )
    return _emitter


def emit(*, topic: str, type: str, payload: Mapping[str, Any]) -> None:
    """Announce one event on ``topic`` (sent only if the current transaction commits)."""
    _require().emit(topic=topic, type=type, payload=payload)


def emit_many(events: Iterable[EventSpec]) -> None:
    """Announce many events in one go, in order."""
    _require().emit_many(events)


def flush() -> None:
    """Wait for bulk events to be sent (commands call it before they exit)."""
    if _emitter is not None:
        _emitter.flush()
