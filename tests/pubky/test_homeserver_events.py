"""``/events/`` text feed and ``/events-stream`` SSE, batch and live."""

from __future__ import annotations

import asyncio
import base64
import queue
import threading
import time

import aiohttp
import blake3
import pytest
import requests

from pubky.errors import HomeserverBadRequest, HomeserverNotFound
from pubky.homeserver_client import Event, HomeserverClient
from pubky.keys import Keypair
from pubky.testnet.homeserver import crockford_decode, crockford_encode


def url_of(keypair: Keypair, path: str) -> str:
    return f"pubky://{keypair.public_key.z32()}{path}"


@pytest.fixture
def net(make_testnet):
    """A private testnet so the homeserver-wide feed contains only this test's events."""
    return make_testnet(http_relay_port=None, admin_port=None, keepalive_s=0.3)


@pytest.fixture
def writer(net) -> tuple[Keypair, HomeserverClient]:
    client = net.homeserver_client()
    keypair = Keypair.random()
    client.signup(keypair, net.homeserver_public_key)
    return keypair, client


def test_feed_lines_cursor_and_paging(net, writer) -> None:
    keypair, client = writer
    hs = net.homeserver_public_key
    assert client.events(hs) == client.events(hs, cursor=0)
    empty = requests.get(net.homeserver_url + "/events/", timeout=5)
    assert empty.status_code == 200
    assert empty.text == ""
    client.put(url_of(keypair, "/pub/a.txt"), "a")
    client.put(url_of(keypair, "/pub/b.txt"), "b")
    client.delete(url_of(keypair, "/pub/a.txt"))
    raw = requests.get(net.homeserver_url + "/events/", timeout=5).text
    assert raw.split("\n") == [
        f"PUT {url_of(keypair, '/pub/a.txt')}",
        f"PUT {url_of(keypair, '/pub/b.txt')}",
        f"DEL {url_of(keypair, '/pub/a.txt')}",
        "cursor: 3",
    ]
    page = client.events(hs, limit=2)
    assert [(e.kind, e.url) for e in page.events] == [
        ("PUT", url_of(keypair, "/pub/a.txt")),
        ("PUT", url_of(keypair, "/pub/b.txt")),
    ]
    assert page.cursor == "2"
    rest = client.events(hs, cursor=page.cursor)
    assert [e.kind for e in rest.events] == ["DEL"]
    assert rest.cursor == "3"
    assert client.events(hs, cursor=rest.cursor).events == []
    assert client.events(hs, cursor=rest.cursor).cursor is None


def test_feed_errors_and_legacy_cursor(net, writer) -> None:
    keypair, client = writer
    hs = net.homeserver_public_key
    with pytest.raises(HomeserverBadRequest, match="Invalid cursor"):
        client.events(hs, cursor="not-a-cursor")
    bad_bool = requests.get(net.homeserver_url + "/events/?reverse=perhaps", timeout=5)
    assert bad_bool.status_code == 400
    client.put(url_of(keypair, "/pub/one"), "1")
    client.put(url_of(keypair, "/pub/two"), "2")
    created_at = net.homeserver.store.events_after(0, 10)[0].created_at
    legacy = crockford_encode(created_at.to_bytes(8, "big"))
    assert len(legacy) == 13
    assert crockford_decode(legacy) == created_at.to_bytes(8, "big")
    page = client.events(hs, cursor=legacy)
    assert [e.url for e in page.events] == [url_of(keypair, "/pub/two")]
    unknown_legacy = crockford_encode((123).to_bytes(8, "big"))
    with pytest.raises(HomeserverBadRequest):
        client.events(hs, cursor=unknown_legacy)


def test_stream_batch_mode(net, writer) -> None:
    keypair, client = writer
    hs = net.homeserver_public_key
    client.put(url_of(keypair, "/pub/app/a.txt"), "a")
    client.put(url_of(keypair, "/pub/other/b.txt"), "b")
    client.delete(url_of(keypair, "/pub/app/a.txt"))
    with client.events_stream(hs, [keypair.public_key]) as stream:
        events = list(stream)
    digest = base64.b64encode(blake3.blake3(b"a").digest()).decode()
    assert events[0] == Event("PUT", url_of(keypair, "/pub/app/a.txt"), "1", digest)
    assert [(e.kind, e.cursor) for e in events] == [("PUT", "1"), ("PUT", "2"), ("DEL", "3")]
    assert events[2].content_hash is None
    with client.events_stream(hs, [(keypair.public_key, 1)]) as stream:
        assert [e.cursor for e in stream] == ["2", "3"]
    with client.events_stream(hs, [keypair], path="pub/app/") as stream:
        assert [e.url for e in stream] == [url_of(keypair, "/pub/app/a.txt")] * 2
    with client.events_stream(hs, [keypair], reverse=True) as stream:
        assert [e.cursor for e in stream] == ["3", "2", "1"]
    with client.events_stream(hs, [keypair], limit=2) as stream:
        assert len(list(stream)) == 2
    first = events[0].pubky_url
    assert first.path == "/pub/app/a.txt"


def test_stream_multiple_users_with_own_cursors(net, writer) -> None:
    alice, client = writer
    bob = Keypair.random()
    client.signup(bob, net.homeserver_public_key)
    for i in range(3):
        client.put(url_of(alice, f"/pub/a{i}"), "x")
        client.put(url_of(bob, f"/pub/b{i}"), "y")
    with client.events_stream(
        net.homeserver_public_key, [(alice, 3), (bob.public_key.z32(), None)]
    ) as stream:
        urls = [e.url for e in stream]
    # ids: a0=1 b0=2 a1=3 b1=4 a2=5 b2=6; alice resumes after 3, bob from the start
    assert urls == [
        url_of(bob, "/pub/b0"),
        url_of(bob, "/pub/b1"),
        url_of(alice, "/pub/a2"),
        url_of(bob, "/pub/b2"),
    ]


def test_stream_parameter_errors(net, writer) -> None:
    keypair, client = writer
    base = net.homeserver_url + "/events-stream"
    user = keypair.public_key.z32()
    cases = {
        "": "user parameter is required",
        "?user=": "user parameter is required",
        "?user=nope": "Invalid public key: nope",
        f"?user=pubky{user}": f"Invalid public key: pubky{user}",
        f"?user={user}&live=true&reverse=true": "Cannot use live mode with reverse ordering",
        f"?user={user}&limit=x": "Invalid limit: x",
        f"?user={user}&limit=0": "Invalid limit: 0",
        f"?user={user}:zzz": "Invalid cursor: zzz",
        f"?user={user}&path=/pub/../..": "Invalid path: /pub/../..",
        "?" + "&".join(f"user={Keypair.random().public_key.z32()}" for _ in range(51)): (
            "Too many users. Maximum allowed: 50"
        ),
    }
    for query, message in cases.items():
        response = requests.get(base + query, timeout=5)
        assert response.status_code == 400, query
        assert response.text == message, query
    unknown = requests.get(f"{base}?user={Keypair.random().public_key.z32()}", timeout=5)
    assert unknown.status_code == 404
    with pytest.raises(HomeserverNotFound):
        client.events_stream(net.homeserver_public_key, [Keypair.random()])


def test_stream_live_mode(net, writer) -> None:
    keypair, client = writer
    client.put(url_of(keypair, "/pub/history"), "old")
    received: queue.Queue[Event] = queue.Queue()
    stream = client.events_stream(
        net.homeserver_public_key, [keypair], live=True, limit=3, read_timeout=10
    )

    def consume() -> None:
        for event in stream:
            received.put(event)

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    assert received.get(timeout=5).url == url_of(keypair, "/pub/history")
    other = Keypair.random()
    client.signup(other, net.homeserver_public_key)
    client.put(url_of(other, "/pub/not-followed"), "x")  # another user: filtered out
    client.put(url_of(keypair, "/pub/live1"), "1")
    assert received.get(timeout=5).url == url_of(keypair, "/pub/live1")
    client.delete(url_of(keypair, "/pub/live1"))
    last = received.get(timeout=5)
    assert last.kind == "DEL"
    thread.join(timeout=5)  # limit=3 reached: the server closed the stream
    assert not thread.is_alive()
    stream.close()


async def test_stream_live_keepalive_and_path_filter(net, writer) -> None:
    keypair, client = writer
    url = (
        f"{net.homeserver_url}/events-stream?user={keypair.public_key.z32()}"
        "&live=1&path=/pub/watched/"
    )
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        # nothing yet: a keep-alive comment arrives after keepalive_s (0.3 s here)
        assert await asyncio_wait_line(response) == b":"
        writer_thread = threading.Thread(
            target=lambda: (
                client.put(url_of(keypair, "/pub/ignored"), "i"),
                client.put(url_of(keypair, "/pub/watched/x"), "w"),
            )
        )
        writer_thread.start()
        lines: list[bytes] = []
        while b"data: cursor: 2" not in lines:
            line = await asyncio_wait_line(response)
            if line not in (b":", b""):
                lines.append(line)
        writer_thread.join()
    assert lines[:2] == [b"event: PUT", f"data: {url_of(keypair, '/pub/watched/x')}".encode()]


async def asyncio_wait_line(response: aiohttp.ClientResponse) -> bytes:
    line = await asyncio.wait_for(response.content.readline(), 5)
    return line.rstrip(b"\n")


def test_stream_closes_on_testnet_stop(make_testnet) -> None:
    net = make_testnet(http_relay_port=None, admin_port=None)
    client = net.homeserver_client()
    keypair = Keypair.random()
    client.signup(keypair, net.homeserver_public_key)
    stream = client.events_stream(net.homeserver_public_key, [keypair], live=True, read_timeout=5)
    done = threading.Event()

    def consume() -> None:
        try:
            list(stream)
        except Exception:
            pass
        done.set()

    threading.Thread(target=consume, daemon=True).start()
    time.sleep(0.2)
    started = time.monotonic()
    net.stop()
    assert done.wait(5)
    assert time.monotonic() - started < 5
