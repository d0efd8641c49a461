"""Two watch_homeservers: every homeserver change is published once, whoever leads.

Real watcher processes follow a real local homeserver; the outbox (every published event has
a row) is where a change published twice would show.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Iterator

import pytest

from pubky.homeserver_client import HomeserverClient
from pubky.keys import Keypair
from pubky.testnet import Testnet
from realtime import topics
from realtime.models import EventSource, HomeserverCursor, OutboxEvent, PubkySubscription
from realtime.watcher import poll_homeserver
from tests.factories import UserFactory
from tests.realtime.conftest import subprocess_env
from tests.replicas import FAST_LEADER_POLL, leader_and_standby, wait_until
from tests.servers import process_group

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    testnet = Testnet.ephemeral(tmp_path_factory.mktemp("replicated-watcher"), relays=1)
    testnet.start()
    yield testnet
    testnet.stop()


@pytest.fixture
def author(net: Testnet) -> tuple[Keypair, HomeserverClient]:
    keypair = Keypair.random()
    client = net.homeserver_client()
    client.signup(keypair, net.homeserver_public_key)
    return keypair, client


def _watch(url: str) -> None:
    """A subscription as a socket leaves it (the watcher follows what is subscribed)."""
    PubkySubscription.objects.create(url=url, user=UserFactory(), channel_name="test.socket")


def _updates(directory: str) -> Counter[str]:
    rows = OutboxEvent.objects.filter(
        topic=topics.pubky_url(directory), type="pubky_content_update"
    ).values_list("payload", flat=True)
    return Counter(payload["url"] for payload in rows)


def test_two_watchers_publish_every_change_once_and_a_standby_takes_over(
    net: Testnet, author: tuple[Keypair, HomeserverClient], settings
) -> None:
    keypair, writer = author
    directory = f"pubky://{keypair.public_key.z32()}/pub/replicas.app/"
    _watch(directory)
    env = subprocess_env(PUBKY_RELAYS=",".join(net.relay_urls), **FAST_LEADER_POLL)
    args = ("watch_homeservers", "--interval", "0.2")
    with process_group(env) as group:
        first = group.manage("watch-1", *args)
        second = group.manage("watch-2", *args)
        leader, (standby,) = leader_and_standby("watch_homeservers", first, second)
        wait_until(HomeserverCursor.objects.exists, "the leader to follow the homeserver")

        files = [f"{directory}file-{n}.json" for n in range(4)]
        for n, url in enumerate(files):
            writer.put(url, json.dumps({"n": n}))
        wait_until(lambda: sum(_updates(directory).values()) >= 4, "four updates")

        leader.stop(signal.SIGKILL)
        wait_until(lambda: "watch_homeservers: leading" in standby.log(), "the standby to lead")
        more = [f"{directory}file-{n}.json" for n in range(4, 8)]
        for n, url in enumerate(more, start=4):
            writer.put(url, json.dumps({"n": n}))
        wait_until(lambda: sum(_updates(directory).values()) >= 8, "eight updates")
        # One more change after everything, so that a late duplicate would have shown up.
        last = f"{directory}last.json"
        writer.put(last, "{}")
        wait_until(lambda: _updates(directory)[last] == 1, "the last update")
        standby.stop(signal.SIGTERM)
        assert standby.proc.returncode == 0, standby.log()

    assert _updates(directory) == Counter(dict.fromkeys([*files, *more, last], 1))


class _AnotherWatcherGotThereFirst(HomeserverClient):
    """A real homeserver client; while a page is being read, another watcher (as during a
    change of leader) advances the stored cursor past it."""

    def events(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        page = super().events(*args, **kwargs)
        if page.events:
            HomeserverCursor.objects.update(cursor=page.cursor)
        return page


def test_a_page_another_watcher_already_committed_is_not_published_again(
    net: Testnet, author: tuple[Keypair, HomeserverClient]
) -> None:
    keypair, writer = author
    directory = f"pubky://{keypair.public_key.z32()}/pub/fenced.app/"
    homeserver = net.homeserver_public_key.z32()
    HomeserverCursor.objects.create(homeserver=homeserver, cursor="0")
    writer.put(f"{directory}a.json", "{}")

    racing = _AnotherWatcherGotThereFirst(list(net.relay_urls), timeout=5.0)
    assert poll_homeserver(racing, homeserver, {directory}) == 0
    assert not OutboxEvent.objects.filter(source=EventSource.WATCHER).exists()

    # The same page read by a watcher alone is published (the fence is what stopped it).
    HomeserverCursor.objects.update(cursor="0")
    plain = HomeserverClient(list(net.relay_urls), timeout=5.0)
    assert poll_homeserver(plain, homeserver, {directory}) == 1
    assert _updates(directory) == Counter({f"{directory}a.json": 1})
