"""The channel layer sharded over several Valkey servers (``CHANNEL_LAYER_SHARDS``).

Real Valkey processes, real uvicorn web processes and real WebSocket clients; the test process
publishes through the service's own path (outbox row in a transaction, sent on commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections import defaultdict
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels_redis.utils import _consistent_hash
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from pubkyproject.redis_clients import RedisConfig, sharded_channel_layer_hosts
from realtime import topics
from realtime.transport import group_channel_name
from tests.factories import DomainFactory, FamilyFactory, UserFactory
from tests.realtime.conftest import Client, connect, subprocess_env, token_for
from tests.servers import Process, process_group, restart_valkey, valkey_server

SHARDS = 3
TOPICS_PER_SHARD = 2
EVENTS = 240


def test_shards_setting_lists_one_layer_host_per_server() -> None:
    direct = RedisConfig(url="redis://127.0.0.1:6379/0", password="pw")
    hosts = sharded_channel_layer_hosts(
        direct, ["redis://127.0.0.1:7001/0", "redis://127.0.0.1:7002/0"]
    )
    assert [h["address"] for h in hosts] == ["redis://127.0.0.1:7001/0", "redis://127.0.0.1:7002/0"]
    assert all(h["password"] == "pw" for h in hosts)
    # No shards listed: the one Redis of REDIS_URL.
    assert [h["address"] for h in sharded_channel_layer_hosts(direct, [])] == [direct.url]

    sentinel = RedisConfig(url="", sentinels=(("127.0.0.1", 26379),), master="main")
    hosts = sharded_channel_layer_hosts(sentinel, ["shard-a", "shard-b"])
    assert [h["master_name"] for h in hosts] == ["shard-a", "shard-b"]
    assert all(h["sentinels"] == [["127.0.0.1", 26379]] for h in hosts)


@pytest.mark.parametrize(
    ("config", "shards", "message"),
    [
        (RedisConfig(url="redis://a:1/0"), ["http://b:2"], "redis://"),
        (RedisConfig(url="redis://a:1/0"), ["redis://b:2/0", "redis://b:2/0"], "twice"),
        (
            RedisConfig(url="", sentinels=(("127.0.0.1", 26379),), master="m"),
            ["redis://b:2/0"],
            "master names",
        ),
    ],
)
def test_a_bad_shards_setting_is_a_clear_error(
    config: RedisConfig, shards: list[str], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        sharded_channel_layer_hosts(config, shards)


def _shard_of(topic: str) -> int:
    return _consistent_hash(group_channel_name(topic), SHARDS)


def _setup(count_per_shard: int) -> tuple[Any, dict[int, list[int]]]:
    """A user and private domains whose score topics cover every shard."""
    user = UserFactory()
    family = FamilyFactory(owner=user)
    by_shard: dict[int, list[int]] = defaultdict(list)
    while min((len(by_shard[s]) for s in range(SHARDS)), default=0) < count_per_shard:
        domain = DomainFactory(family=family)
        shard = _shard_of(topics.sovereignty_score(domain.pk))
        if len(by_shard[shard]) < count_per_shard:
            by_shard[shard].append(domain.pk)
    return user, dict(by_shard)


def _publish(domain_ids: list[int], start: int, stop: int) -> None:
    from realtime.events import emit

    for n in range(start, stop):
        domain_id = domain_ids[n % len(domain_ids)]
        with transaction.atomic():
            emit(
                topic=topics.sovereignty_score(domain_id),
                type="pubky_sovereignty_score",
                payload={"n": n, "domainId": domain_id},
            )


async def _collect(client: Client, expected: int, timeout: float) -> dict[str, list[int]]:
    """Event numbers per topic, in arrival order, until ``expected`` arrived or time is up."""
    got: dict[str, list[int]] = defaultdict(list)
    total = 0
    deadline = asyncio.get_running_loop().time() + timeout
    while total < expected:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            break
        try:
            message = await client.recv(remaining)
        except TimeoutError:
            break
        if message["type"] == "pubky_sovereignty_score":
            got[message["topic"]].append(message["data"]["n"])
            total += 1
    return got


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
async def test_a_shard_restarted_mid_stream_loses_and_reorders_nothing(settings) -> None:
    with contextlib.ExitStack() as stack:
        valkeys: list[tuple[Process, int]] = [
            stack.enter_context(valkey_server()) for _ in range(SHARDS)
        ]
        urls = [f"redis://127.0.0.1:{port}/0" for _, port in valkeys]
        layers = copy.deepcopy(settings.CHANNEL_LAYERS)
        layers["default"]["CONFIG"]["hosts"] = [{"address": url} for url in urls]
        settings.CHANNEL_LAYERS = layers  # the publisher in this process uses the same shards
        env = subprocess_env(CHANNEL_LAYER_SHARDS=",".join(urls), WS_CATCH_UP_SECONDS="0.5")
        group = stack.enter_context(process_group(env))
        webs = [group.uvicorn("web-a"), group.uvicorn("web-b")]

        user, by_shard = await sync_to_async(_setup)(TOPICS_PER_SHARD)
        domain_ids = [pk for shard in range(SHARDS) for pk in by_shard[shard]]
        clients = []
        for web in webs:
            assert web.port is not None
            client = await connect(web.port, token_for(user))
            for domain_id in domain_ids:
                await client.subscribe(sovereigntyScoreDomainId=domain_id)
            clients.append(client)

        collectors = [asyncio.create_task(_collect(c, EVENTS, timeout=60)) for c in clients]
        third = EVENTS // 3
        await sync_to_async(_publish)(domain_ids, 0, third)
        # Shard 1 goes away mid-stream: its topics' events are committed (outbox) but cannot
        # be sent; the other shards' events keep flowing.
        process, port = valkeys[1]
        process.stop()
        await sync_to_async(_publish)(domain_ids, third, 2 * third)
        valkeys[1] = (await sync_to_async(restart_valkey)(process, port), port)
        stack.callback(valkeys[1][0].stop)
        await sync_to_async(_publish)(domain_ids, 2 * third, EVENTS)

        expected: dict[str, list[int]] = defaultdict(list)
        for n in range(EVENTS):
            expected[topics.sovereignty_score(domain_ids[n % len(domain_ids)])].append(n)
        for web, collector in zip(webs, collectors, strict=True):
            got = await collector
            assert {t: got.get(t, []) for t in expected} == dict(expected), (
                f"{web.name} missed or reordered events:\n{web.log()[-3000:]}"
            )
        # Every shard carried some of the topics, so the restart really was mid-stream for some.
        assert {_shard_of(t) for t in expected} == set(range(SHARDS))
        for client in clients:
            await client.ws.close()
