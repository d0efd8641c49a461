"""Hypothesis over WebSocket messages against a real server: whatever a client sends, the server
answers (an error at worst, never ``internal``) and the connection stays up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from realtime.protocol import CLIENT_TYPES, EVENT_TYPES
from realtime.topics import SUBSCRIPTION_KEYS
from tests.factories import FamilyFactory, UserFactory
from tests.realtime.conftest import token_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(["pubky://", f"pubky://{'y' * 52}/pub/", "pubky://x/\x00", "\x00", ""])
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
_keys = st.sampled_from(
    [*SUBSCRIPTION_KEYS, "since", "filter", "url", "domainId", "familyId", "token", "x"]
)
_data = st.dictionaries(_keys, _json | st.lists(st.sampled_from(sorted(EVENT_TYPES))), max_size=4)
_message = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(CLIENT_TYPES - {"auth"})) | st.text(max_size=10)},
    optional={"data": _data | _json, "id": _json},
)
_frames = st.one_of(
    _message.map(lambda m: json.dumps(m)),
    _json.map(lambda v: json.dumps(v)),
    st.text(max_size=200),
    st.binary(max_size=200),
)


@pytest.fixture
def fuzz_socket(e2e) -> Iterator[ClientConnection]:
    web = e2e.web(
        "web",
        env={
            "WS_RATE_LIMIT_PER_SECOND": "100000",
            "WS_RATE_LIMIT_BURST": "100000",
            "WS_MAX_SUBSCRIPTIONS": "100000",
        },
    )
    user = UserFactory()
    FamilyFactory(owner=user)
    FamilyFactory()  # someone else's
    with ws_connect(f"ws://127.0.0.1:{web.port}/ws?token={token_for(user)}") as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "authenticated"
        yield ws


def _until_pong(ws: ClientConnection, marker: str) -> list[dict[str, Any]]:
    """Everything the server answered before the pong to our marker ping."""
    seen = []
    while True:
        reply = json.loads(ws.recv(timeout=10))
        if reply.get("type") == "pong" and reply.get("id") == marker:
            return seen
        seen.append(reply)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frame=_frames)
def test_any_message_gets_an_answer_and_keeps_the_connection(
    fuzz_socket: ClientConnection, frame: str | bytes
) -> None:
    ws = fuzz_socket
    ws.send(frame)
    marker = f"m{id(frame)}"
    ws.send(json.dumps({"type": "ping", "id": marker}))
    replies = _until_pong(ws, marker)  # raises ConnectionClosed if the server dropped us
    for reply in replies:
        assert reply.get("type") != "error" or reply["data"]["code"] != "internal", (frame, reply)
