"""The WebSocket message contract (``docs/websocket.md``): parsing and validating client messages.

Client messages are ``{"type": …, "data": {…}, "id": optional}``. Replies echo ``id``. Pushed
events are ``{"type": …, "event_id": N, "data": {…}}``. Errors are ``error`` or, for one
subscription, ``pubky_subscription_error``, each with ``data.code`` and ``data.message``.
Parsing is pure (no I/O) so every rule is unit-tested without a socket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from realtime.topics import SUBSCRIPTION_KEYS

CLIENT_TYPES = frozenset(
    {
        "subscribe",
        "unsubscribe",
        "pubky_relay_status",
        "pubky_resolve",
        "pubky_sovereignty_score",
        "pubky_guardian_status",
        "ping",
        "auth",
    }
)

EVENT_TYPES = frozenset(
    {
        "pubky_content_update",
        "pubky_domain_update",
        "pubky_sovereignty_score",
        "domain_migration_update",
        "pkarr_record_update",
        "pubky_guardian_notification",
        "pubky_relay_status",
    }
)

MAX_ID_LENGTH = 64
MAX_URL_LENGTH = 1024
MAX_INTEGER = 2**63 - 1  # ids and event ids are PostgreSQL bigints


class ProtocolError(Exception):
    """A client message we cannot act on; ``code`` goes to the client in an ``error`` reply."""

    def __init__(self, code: str, message: str, request_id: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


@dataclass(frozen=True)
class ClientMessage:
    type: str
    data: dict[str, Any]
    id: str | int | None = None


@dataclass(frozen=True)
class SubscribeRequest:
    key: str
    value: str | int | bool
    since: int | None = None
    filter: frozenset[str] | None = field(default=None)


def parse(text: str | None, bytes_data: bytes | None = None) -> ClientMessage:
    """Parse one frame into a message, or raise ProtocolError with the reason."""
    if text is None:
        if bytes_data is None:
            raise ProtocolError("invalid", "empty frame")
        try:
            text = bytes_data.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("invalid_json", "binary frames must be UTF-8 JSON") from None
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("invalid_json", "the message is not valid JSON") from None
    if not isinstance(raw, dict):
        raise ProtocolError("invalid", "a message must be a JSON object")
    request_id = raw.get("id")
    if request_id is not None and (
        isinstance(request_id, bool)
        or not isinstance(request_id, str | int)
        or len(str(request_id)) > MAX_ID_LENGTH
    ):
        raise ProtocolError("invalid", "id must be a string or integer of at most 64 characters")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid", "type must be a string", request_id)
    if kind not in CLIENT_TYPES:
        raise ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}", request_id)
    data = raw.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProtocolError("invalid", "data must be an object", request_id)
    return ClientMessage(type=kind, data=data, id=request_id)


def _positive_int(value: Any, name: str, request_id: str | int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INTEGER:
        raise ProtocolError("invalid", f"{name} must be a non-negative integer", request_id)
    return value


def object_id(value: Any, name: str, request_id: str | int | None) -> int:
    """A positive database id (a bigint)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_INTEGER:
        raise ProtocolError("invalid", f"{name} must be a positive integer", request_id)
    return value


def url_field(value: Any, name: str, request_id: str | int | None) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        raise ProtocolError(
            "invalid", f"{name} must be a URL of at most {MAX_URL_LENGTH} characters", request_id
        )
    return value


def subscription_key(message: ClientMessage) -> tuple[str, str | int | bool]:
    """The one subscription key of a subscribe/unsubscribe message, validated."""
    keys = [k for k in SUBSCRIPTION_KEYS if k in message.data]
    if len(keys) != 1:
        raise ProtocolError(
            "invalid",
            f"give exactly one of {', '.join(SUBSCRIPTION_KEYS)}",
            message.id,
        )
    key = keys[0]
    value = message.data[key]
    if key == "relays":
        if value is not True:
            raise ProtocolError("invalid", "relays must be true", message.id)
    elif key == "pubkyUrl":
        value = url_field(value, key, message.id)
    else:
        value = object_id(value, key, message.id)
    return key, value


def parse_subscribe(message: ClientMessage) -> SubscribeRequest:
    key, value = subscription_key(message)
    since = message.data.get("since")
    if since is not None:
        since = _positive_int(since, "since", message.id)
    wanted = message.data.get("filter")
    filter_set: frozenset[str] | None = None
    if wanted is not None:
        if not isinstance(wanted, list) or not all(isinstance(t, str) for t in wanted):
            raise ProtocolError("invalid", "filter must be a list of event types", message.id)
        unknown = sorted(set(wanted) - EVENT_TYPES)
        if unknown:
            raise ProtocolError(
                "invalid", f"unknown event type(s) in filter: {unknown}", message.id
            )
        filter_set = frozenset(wanted)
    return SubscribeRequest(key=key, value=value, since=since, filter=filter_set)


def reply(kind: str, data: dict[str, Any], request_id: str | int | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": kind, "data": data}
    if request_id is not None:
        message["id"] = request_id
    return message


def error(code: str, message: str, request_id: str | int | None = None) -> dict[str, Any]:
    return reply("error", {"code": code, "message": message}, request_id)


def subscription_error(
    code: str, message: str, target: dict[str, Any], request_id: str | int | None = None
) -> dict[str, Any]:
    return reply(
        "pubky_subscription_error", {"code": code, "message": message, **target}, request_id
    )
