"""Connection-level behaviour over real sockets: batching, filters, per-user caps, heartbeats."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time

import pytest
import websockets
from asgiref.sync import sync_to_async
from websockets.exceptions import InvalidStatus

from realtime.events import emit
from tests.factories import FamilyFactory, UserFactory
from tests.realtime.conftest import connect, token_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _publish_many(topic: str, count: int, event_type: str = "pubky_relay_status") -> None:
    from django.db import transaction

    with transaction.atomic():
        for n in range(count):
            emit(topic=topic, type=event_type, payload={"n": n})


async def test_a_client_that_asks_for_batching_gets_events_coalesced(e2e) -> None:
    web = e2e.web("web")
    user = await sync_to_async(UserFactory)()
    client = await connect(web.port, token_for(user), query="batch=1")
    await client.subscribe(relays=True)
    await sync_to_async(_publish_many)("relays", 300)
    events: list[int] = []
    batches = 0
    while len(events) < 300:
        frame = await client.recv()
        if frame["type"] == "batch":
            batches += 1
            events += [m["data"]["n"] for m in frame["messages"]]
        else:
            events.append(frame["data"]["n"])
    assert events == list(range(300))  # complete and in order
    assert batches >= 1  # a burst published in one commit arrives coalesced


async def test_a_filter_keeps_only_the_wanted_event_types(e2e) -> None:
    web = e2e.web("web")
    user = await sync_to_async(UserFactory)()
    family = await sync_to_async(FamilyFactory)(owner=user)
    client = await connect(web.port, token_for(user))
    await client.send(
        "subscribe",
        {"familyId": family.pk, "filter": ["pubky_guardian_notification"]},
        id="f",
    )
    assert (await client.expect("subscribed"))["id"] == "f"
    topic = f"family.{family.pk}"
    await sync_to_async(_publish_many)(topic, 3, "domain_migration_update")
    await sync_to_async(_publish_many)(topic, 2, "pubky_guardian_notification")
    got = [m["type"] for m in await client.quiet(1.0)]
    assert got == ["pubky_guardian_notification", "pubky_guardian_notification"]


async def test_a_user_past_the_connection_cap_is_refused(e2e) -> None:
    web = e2e.web("web", env={"WS_MAX_CONNECTIONS_PER_USER": "2"})
    user = await sync_to_async(UserFactory)()
    first = await connect(web.port, token_for(user))
    await connect(web.port, token_for(user))
    third = await connect(web.port)
    await third.send("auth", {"token": token_for(user)})
    error = await third.expect("error")
    assert error["data"]["code"] == "limit_exceeded"
    await third.quiet(1.0)
    assert third.ws.close_code == 4429
    # Closing one frees a slot.
    await first.ws.close()
    await asyncio.sleep(0.3)
    await connect(web.port, token_for(user))


def _handshake(port: int, token: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never answers a ping."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert b"101" in sock.recv(4096).split(b"\r\n", 1)[0]
    return sock


_PING_ARGS = {
    "uvicorn": ("--ws-ping-interval", "1", "--ws-ping-timeout", "2"),
    "daphne": ("--ping-interval", "1", "--ping-timeout", "2"),
}


@pytest.mark.parametrize("server", ["uvicorn", "daphne"])
def test_a_dead_connection_is_closed_by_the_heartbeat(e2e, server) -> None:
    web = e2e.web("web", server=server, args=_PING_ARGS[server])
    user = UserFactory()
    sock = _handshake(web.port, token_for(user))
    sock.settimeout(1.0)
    opened = time.monotonic()
    deadline = opened + 15
    closed_after: float | None = None
    received = b""
    while time.monotonic() < deadline:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        except ConnectionResetError:
            data = b""
        if not data:
            closed_after = time.monotonic() - opened
            break
        received += data
    sock.close()
    assert b"authenticated" in received  # it was a healthy, signed-in socket…
    assert closed_after is not None, "the server kept a connection that never answered pings"
    assert closed_after >= 1.0  # …closed by the heartbeat, not at once


async def test_a_websocket_on_another_path_is_refused_at_the_handshake(e2e) -> None:
    port = e2e.web("web").port
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(f"ws://127.0.0.1:{port}/not-the-socket"):
            pass
    assert refused.value.response.status_code == 403
