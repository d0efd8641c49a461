"""WebSocket client examples: a pubkyUrl subscription follows content on a real homeserver."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from asgiref.sync import sync_to_async

from pubky.homeserver_client import HomeserverClient
from pubky.keys import Keypair
from pubky.testnet import Testnet
from pubkyproject.event_types import check_payload
from realtime.models import HomeserverCursor
from tests.factories import UserFactory
from tests.realtime.conftest import connect, subprocess_env, token_for
from tests.servers import process_group

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    testnet = Testnet.ephemeral(tmp_path_factory.mktemp("realtime-testnet"), relays=1)
    testnet.start()
    yield testnet
    testnet.stop()


@pytest.fixture
def author(net: Testnet) -> tuple[Keypair, HomeserverClient]:
    keypair = Keypair.random()
    client = net.homeserver_client()
    client.signup(keypair, net.homeserver_public_key)
    return keypair, client


async def _watcher_ready() -> None:
    """Wait until the watcher has placed its cursor on the homeserver's feed.

    The first time the watcher meets a homeserver it starts at the end of the feed (history is
    not news), so a write made before that moment is not an update.
    """
    for _ in range(100):
        if await sync_to_async(HomeserverCursor.objects.exists)():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the watcher never started following the homeserver")


@pytest.fixture
def stack(net: Testnet, settings, transactional_db):
    relays = ",".join(net.relay_urls)
    settings.PUBKY_RELAYS = list(net.relay_urls)
    with process_group(subprocess_env(PUBKY_RELAYS=relays)) as group:
        web = group.web("web")
        group.manage("watcher", "watch_homeservers", "--interval", "0.2")
        yield web.port


async def test_a_subscriber_receives_content_updates_from_the_homeserver(stack, author) -> None:
    keypair, writer = author
    url = f"pubky://{keypair.public_key.z32()}/pub/example.app/status.json"
    await sync_to_async(writer.put)(url, json.dumps({"mood": "calm"}))
    user = await sync_to_async(UserFactory)()
    client = await connect(stack, token_for(user))

    await client.send("pubky_resolve", {"url": url}, id="r")
    resolved = await client.expect("pubky_resolve_result")
    assert resolved["id"] == "r"
    assert json.loads(resolved["data"]["content"]) == {"mood": "calm"}

    reply = await client.subscribe(pubkyUrl=url)
    assert reply["data"]["entity"] == "pubkyUrl"
    assert reply["data"]["url"] == url
    await _watcher_ready()
    await sync_to_async(writer.put)(url, json.dumps({"mood": "excited"}))
    update = await client.expect("pubky_content_update", timeout=10)
    assert update["data"]["url"] == url
    assert json.loads(update["data"]["content"]) == {"mood": "excited"}
    assert update["event_id"] > 0
    check_payload("pubky_content_update", update["data"])  # the shape its type promises
    # The cache was refreshed by the watcher: resolving now gives the new content.
    await client.send("pubky_resolve", {"url": url}, id="r2")
    resolved = await client.expect("pubky_resolve_result")
    assert json.loads(resolved["data"]["content"]) == {"mood": "excited"}

    await sync_to_async(writer.delete)(url)
    deleted = await client.expect("pubky_content_update", timeout=10)
    assert deleted["data"]["deleted"] is True
    assert deleted["data"]["content"] is None
    check_payload("pubky_content_update", deleted["data"])


async def test_a_directory_subscription_covers_every_file_under_it(stack, author) -> None:
    keypair, writer = author
    base = f"pubky://{keypair.public_key.z32()}/pub/photos/"
    await sync_to_async(writer.put)(base + "seed.txt", "seed")
    user = await sync_to_async(UserFactory)()
    client = await connect(stack, token_for(user))
    await client.subscribe(pubkyUrl=base)
    await _watcher_ready()
    await sync_to_async(writer.put)(base + "2026/beach.txt", "sand")
    await sync_to_async(writer.put)(f"pubky://{keypair.public_key.z32()}/pub/other.txt", "x")
    await sync_to_async(writer.put)(base + "cat.txt", "meow")
    first = await client.expect("pubky_content_update", timeout=10)
    second = await client.expect("pubky_content_update", timeout=10)
    assert [first["data"]["url"], second["data"]["url"]] == [
        base + "2026/beach.txt",
        base + "cat.txt",
    ]
    assert {first["data"]["subscription"], second["data"]["subscription"]} == {base}
    assert not [m for m in await client.quiet(0.8) if m["type"] == "pubky_content_update"]


async def test_private_paths_of_someone_else_are_refused(stack, author) -> None:
    keypair, _ = author
    user = await sync_to_async(UserFactory)()
    client = await connect(stack, token_for(user))
    await client.send(
        "subscribe", {"pubkyUrl": f"pubky://{keypair.public_key.z32()}/priv/diary"}, id=1
    )
    error = await client.expect("pubky_subscription_error")
    assert error["data"]["code"] == "not_found"
    await client.send("subscribe", {"pubkyUrl": "pubky://not-a-key/pub/"}, id=2)
    assert (await client.expect("pubky_subscription_error"))["data"]["code"] == "invalid"


async def test_the_seed_examples_with_the_python_websocket_client(stack, author, net) -> None:
    """Three client examples (a pubkyUrl, relay status, a score) through WebSocketClient."""
    from domains.models import RelayStatus
    from realtime.client import WebSocketClient
    from tests.factories import DomainFactory, FamilyFactory

    keypair, writer = author
    url = f"pubky://{keypair.public_key.z32()}/pub/example.app/profile.json"
    user = await sync_to_async(UserFactory)()
    family = await sync_to_async(FamilyFactory)(owner=user)
    domain = await sync_to_async(DomainFactory)(family=family)
    relay_url = net.relay_urls[0]  # a configured relay: only those are shown
    await sync_to_async(RelayStatus.objects.create)(url=relay_url, is_up=True)

    async def token() -> str:
        return token_for(user)

    async with WebSocketClient(f"ws://127.0.0.1:{stack}/ws", token_provider=token) as client:
        # 1. Subscribe to a pubkyUrl: subscribed, then pubky_content_update on a change.
        subscribed = await client.subscribe(pubkyUrl=url)
        assert subscribed["type"] == "subscribed"
        await _watcher_ready()
        await sync_to_async(writer.put)(url, json.dumps({"name": "Ada"}))
        update = await client.next_event()
        assert update["type"] == "pubky_content_update"
        assert json.loads(update["data"]["content"]) == {"name": "Ada"}
        # 2. Relay status.
        relays = await client.request("pubky_relay_status")
        assert any(r["url"] == relay_url and r["isUp"] for r in relays["data"]["relays"])
        # 3. Sovereignty score with its components.
        score = await client.request("pubky_sovereignty_score", {"domainId": domain.pk})
        assert len(score["data"]["components"]) == 5
