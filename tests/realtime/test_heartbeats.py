"""The process's heartbeat task (``realtime.heartbeats``): every signed-in socket's entries are
refreshed once per period, in slices, with one round trip per slice; against real Redis,
PostgreSQL and a real server."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from pubkyproject.redis_clients import sync_client
from realtime.heartbeats import MAX_SLICES, Heartbeats, slices_for
from realtime.limits import connection_registry
from realtime.models import PubkySubscription
from tests.factories import UserFactory
from tests.realtime.conftest import connect, subprocess_env, token_for
from tests.servers import process_group


@dataclass
class Member:
    connection_id: str
    user_id: int
    urls: bool = False
    closing: bool = False

    def heartbeat_user_id(self) -> int | None:
        return None if self.closing else self.user_id

    def follows_urls(self) -> bool:
        return self.urls


def _key(user_id: int) -> str:
    return f"pubky:ws:conns:{user_id}"


@pytest.fixture
def redis_client():
    client = sync_client()
    yield client
    client.close()


async def _within(seconds: float, condition) -> bool:
    for _ in range(int(seconds * 10)):
        if condition():
            return True
        await asyncio.sleep(0.1)
    return bool(condition())


def _expiry(client, member: Member) -> float | None:
    return client.zscore(_key(member.user_id), member.connection_id)


def test_a_period_is_cut_into_slices_of_about_a_second() -> None:
    assert slices_for(30) == 30
    assert slices_for(0.5) == 1
    assert slices_for(3600) == MAX_SLICES
    with pytest.raises(ValueError):
        Heartbeats(0)


async def test_every_socket_is_refreshed_once_per_period_in_even_slices(redis_client) -> None:
    users = [9_100_001, 9_100_002]
    for user in users:
        redis_client.delete(_key(user))
    members = [Member(f"hb-{n}", users[n % 2]) for n in range(7)]
    beats = Heartbeats(0.6, slices=3)
    for member in members:
        beats.add(member)
    beats.add(members[0])  # twice: still one entry
    assert len(beats) == 7
    assert sorted(len(s) for s in beats.slices) == [2, 2, 3]
    try:
        # Nothing in Redis yet (as after a Redis restart): one period puts every entry back.
        started = time.time()
        await asyncio.sleep(0.75)
        ttl = connection_registry().ttl
        for member in members:
            expiry = _expiry(redis_client, member)
            assert expiry is not None, member
            assert started + ttl <= expiry <= time.time() + ttl
        # Refreshed again in the next period, not more often: each slice once per period.
        first = {m.connection_id: _expiry(redis_client, m) for m in members}
        await asyncio.sleep(0.6)
        for member in members:
            assert _expiry(redis_client, member) > first[member.connection_id]
    finally:
        beats.stop()
        for user in users:
            redis_client.delete(_key(user))


async def test_closing_and_discarded_sockets_are_not_refreshed(redis_client) -> None:
    user = 9_100_003
    redis_client.delete(_key(user))
    staying, closing, gone = (
        Member("hb-a", user),
        Member("hb-b", user, closing=True),
        Member("hb-c", user),
    )
    beats = Heartbeats(0.3, slices=1)
    for member in (staying, closing, gone):
        beats.add(member)
    beats.discard(gone)
    beats.discard(gone)  # twice is harmless
    try:
        await asyncio.sleep(0.45)
        assert _expiry(redis_client, staying) is not None
        assert _expiry(redis_client, closing) is None
        assert _expiry(redis_client, gone) is None
        assert len(beats) == 2
    finally:
        beats.stop()
        redis_client.delete(_key(user))


async def test_a_socket_that_closed_during_its_refresh_holds_no_slot(redis_client) -> None:
    """A refresh in flight when its socket closed must not leave the entry behind."""
    user = 9_100_004
    redis_client.delete(_key(user))
    beats = Heartbeats(30)
    staying, closed = Member("hb-stay", user), Member("hb-closed", user)
    beats.add(staying)
    beats.add(closed)
    beats.discard(closed)  # as if it closed between the slice being read and the refresh
    try:
        await beats.beat([staying, closed])
        assert _expiry(redis_client, staying) is not None
        assert _expiry(redis_client, closed) is None
    finally:
        beats.stop()
        redis_client.delete(_key(user))


@pytest.mark.django_db(transaction=True)
async def test_url_rows_of_following_sockets_are_touched_in_one_update() -> None:
    user = await sync_to_async(UserFactory)()
    long_ago = timezone.now() - timedelta(hours=1)
    for channel in ("hb-url-1", "hb-url-2", "hb-url-3"):
        await PubkySubscription.objects.acreate(
            url=f"pubky://{channel}/pub/x", user=user, channel_name=channel, last_seen_at=long_ago
        )
    members = [
        Member("hb-url-1", user.pk, urls=True),
        Member("hb-url-2", user.pk, urls=True),
        Member("hb-url-3", user.pk, urls=False),  # its rows are not this heartbeat's
    ]
    beats = Heartbeats(30)
    await beats.beat(members)
    seen = {row.channel_name: row.last_seen_at async for row in PubkySubscription.objects.all()}
    assert seen["hb-url-1"] > long_ago and seen["hb-url-2"] > long_ago
    assert seen["hb-url-3"] == long_ago
    await sync_to_async(lambda: sync_client().delete(_key(user.pk)))()


@pytest.mark.django_db(transaction=True)
async def test_a_real_server_puts_back_the_entry_of_an_open_socket(redis_client) -> None:
    """One heartbeat task per process: with a 1 s period, an entry Redis lost is back within
    about a second while the socket is open, and stays gone once it closed."""
    user = await sync_to_async(UserFactory)()
    key = _key(user.pk)
    with process_group(subprocess_env(WS_HEARTBEAT_SECONDS="1")) as group:
        web = group.web("web")
        client = await connect(web.port, token_for(user))
        members = redis_client.zrange(key, 0, -1)
        assert len(members) == 1
        redis_client.delete(key)
        assert await _within(5, lambda: redis_client.exists(key))
        assert redis_client.zrange(key, 0, -1) == members
        await client.ws.close()
        assert await _within(5, lambda: not redis_client.exists(key))  # unregistered on close…
        await asyncio.sleep(2.5)
        assert not redis_client.exists(key)  # …and never put back
