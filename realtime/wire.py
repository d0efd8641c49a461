"""The wire format of an event: the committed event as the processes pass it on, and the JSON
text a client receives (serialised once per event, never once per socket).

Below both the publisher (``realtime.events``) and the transport (``realtime.transport``), so
neither has to import the other's module to know what an event is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
from django.core.serializers.json import DjangoJSONEncoder


@dataclass(frozen=True)
class WireEvent:
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


_django_default = DjangoJSONEncoder().default
# Datetimes go through Django's encoder (millisecond ISO 8601, like DRF and the replay path);
# orjson writes the rest itself, about ten times faster than json.dumps.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """Compact JSON text for the wire and the outbox (the same text ``json.dumps`` with
    ``DjangoJSONEncoder`` and compact separators would write)."""
    try:
        return orjson.dumps(value, default=_django_default, option=_ORJSON_OPTIONS).decode()
    except TypeError:  # what orjson refuses (integers past 64 bits, say): the slow path
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
