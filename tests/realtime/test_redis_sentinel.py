"""Redis Sentinel: the primary dies mid-stream, a replica takes over, no event is lost.

A password-protected Valkey primary and replica and three sentinels (all from the Valkey
wheel, on free loopback ports) stand in for a production Sentinel deployment. A real daphne
process is configured with ``REDIS_SENTINELS`` only (its ``REDIS_URL`` points nowhere useful);
real WebSocket clients follow a topic while this process publishes a stream of events and the
primary is killed by its PID halfway. The sentinels promote the replica; the web process's
channel layer and the publisher find it through them; the hub's outbox catch-up fills what
the dead primary swallowed. Every client gets every event once, in order, on the socket it
opened before the failover, and new sockets are still accepted and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import redis
from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection, transaction

from pubkyproject.redis_clients import (
    RedisCache,
    RedisConfig,
    channel_layer_hosts,
    redis_config,
    sync_client,
)
from realtime.events import emit
from realtime.transport import group_channel_name
from tests.factories import FamilyFactory, UserFactory
from tests.realtime.conftest import Client, connect, subprocess_env, token_for
from tests.replicas import wait_until
from tests.servers import Process, ProcessGroup, free_port, process_group, valkey_binary

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MASTER = "pubkytest"
PASSWORD = "sentinel-test-password"


@dataclass
class SentinelCluster:
    primary: Process
    replica: Process
    sentinels: list[Process] = field(default_factory=list)

    @property
    def sentinel_nodes(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", s.port) for s in self.sentinels if s.port is not None]

    def env(self) -> dict[str, str]:
        return {
            "REDIS_SENTINELS": ",".join(f"{h}:{p}" for h, p in self.sentinel_nodes),
            "REDIS_SENTINEL_MASTER": MASTER,
            "REDIS_PASSWORD": PASSWORD,
            # Not used once sentinels are configured: a closed port proves it.
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        }

    def config(self) -> RedisConfig:
        return RedisConfig(
            url="redis://127.0.0.1:1/0",
            sentinels=tuple(self.sentinel_nodes),
            master=MASTER,
            password=PASSWORD,
        )

    def primary_port(self) -> int:
        """The port the sentinels currently name primary (asked of each until one answers)."""
        for host, port in self.sentinel_nodes:
            with contextlib.suppress(redis.RedisError):
                answer = redis.Redis(host, port, socket_timeout=1).sentinel_get_master_addr_by_name(
                    MASTER
                )
                if answer:
                    return int(answer[1])
        raise AssertionError("no sentinel answered")


def _node(port: int) -> redis.Redis:
    return redis.Redis("127.0.0.1", port, password=PASSWORD, socket_timeout=2)


def _start_sentinels(group: ProcessGroup, primary_port: int) -> list[Process]:
    sentinels = []
    for index in range(3):
        port = free_port()
        conf = group.log_dir / f"sentinel-{index}.conf"  # the sentinel rewrites it: a copy each
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {group.log_dir}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} 2\n"
            f"sentinel auth-pass {MASTER} {PASSWORD}\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 10000\n"
            f"sentinel parallel-syncs {MASTER} 1\n"
        )
        args = [valkey_binary(), str(conf), "--sentinel"]
        sentinels.append(group.start(f"sentinel-{index}", args, port=port))
    return sentinels


@contextlib.contextmanager
def sentinel_cluster() -> Iterator[SentinelCluster]:
    with process_group(dict(os.environ)) as group:
        common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        common += ["--requirepass", PASSWORD, "--masterauth", PASSWORD]
        primary_port, replica_port = free_port(), free_port()
        replica_of = ["--replicaof", "127.0.0.1", str(primary_port)]
        primary = group.start(
            "primary", [valkey_binary(), "--port", str(primary_port), *common], port=primary_port
        )
        replica = group.start(
            "replica",
            [valkey_binary(), "--port", str(replica_port), *common, *replica_of],
            port=replica_port,
        )
        wait_until(
            lambda: _node(replica_port).info("replication").get("master_link_status") == "up",
            "the replica to sync",
        )
        cluster = SentinelCluster(primary, replica, _start_sentinels(group, primary_port))

        def sentinels_know_each_other() -> bool:
            for host, port in cluster.sentinel_nodes:
                node = redis.Redis(host, port, socket_timeout=1)
                if len(node.sentinel_sentinels(MASTER)) < 2 or not node.sentinel_slaves(MASTER):
                    return False
            return True

        wait_until(sentinels_know_each_other, "the sentinels to find each other and the replica")
        yield cluster


def _publish(topic: str, n: int) -> None:
    close_old_connections()
    with transaction.atomic():
        emit(topic=topic, type="pubky_relay_status", payload={"n": n})


async def _collect(client: Client, count: int, timeout: float = 60.0) -> list[int]:
    """The ``n`` of the next ``count`` events the client receives."""
    got: list[int] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(got) < count:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise AssertionError(f"got {len(got)} of {count} events: {got}")
        message = await client.recv(remaining)
        if message["type"] == "pubky_relay_status":
            got.append(message["data"]["n"])
    return got


async def test_a_primary_failover_mid_stream_loses_no_event_and_keeps_sockets_served(
    settings,
) -> None:
    with sentinel_cluster() as cluster:
        # This process publishes through the same sentinels as the web process.
        settings.REDIS_SENTINELS = cluster.sentinel_nodes
        settings.REDIS_SENTINEL_MASTER = MASTER
        settings.REDIS_PASSWORD = PASSWORD
        layers = copy.deepcopy(settings.CHANNEL_LAYERS)
        layers["default"]["CONFIG"]["hosts"] = channel_layer_hosts(redis_config())
        settings.CHANNEL_LAYERS = layers
        first_primary = cluster.primary_port()
        assert first_primary == cluster.primary.port

        env = subprocess_env(**cluster.env(), WS_CATCH_UP_SECONDS="0.5")
        with process_group(env) as group:
            web = group.daphne("web")
            assert web.port is not None
            owner = await sync_to_async(UserFactory)()
            family = await sync_to_async(FamilyFactory)(owner=owner)
            topic = f"family.{family.pk}"
            clients = [await connect(web.port, token_for(owner)) for _ in range(3)]
            for client in clients:
                await client.subscribe(familyId=family.pk)

            total, kill_at = 90, 30
            killed = threading.Event()

            def stream() -> None:
                for n in range(total):
                    if n == kill_at:
                        cluster.primary.stop(signal.SIGKILL)  # mid-stream, by its PID
                        killed.set()
                    if n == 60:
                        # The rest goes out once the sentinels have promoted the replica.
                        wait_until(
                            lambda: cluster.primary_port() == cluster.replica.port,
                            "the sentinels to promote the replica",
                        )
                    _publish(topic, n)
                connection.close()

            before = await asyncio.gather(
                *(_collect(c, kill_at) for c in clients),
                sync_to_async(stream, thread_sensitive=False)(),
            )
            assert killed.is_set()
            # Every client gets every event, once, in order, on the socket it already had.
            for client, first in zip(clients, before, strict=False):
                rest = await _collect(client, total - kill_at)
                assert [*first, *rest] == list(range(total))
            assert cluster.primary_port() == cluster.replica.port

            # The sockets opened before the failover are still served, live…
            await sync_to_async(_publish)(topic, total)
            for client in clients:
                assert await _collect(client, 1) == [total]
            # …and a new one is accepted, counted in the registry on the new primary, and fed.
            newcomer = await connect(web.port, token_for(owner))
            await newcomer.subscribe(familyId=family.pk)
            await sync_to_async(_publish)(topic, total + 1)
            assert await _collect(newcomer, 1) == [total + 1]
            new_primary = _node(cluster.replica.port)
            assert new_primary.zcard(f"pubky:ws:conns:{owner.pk}") >= 1
            channel = group_channel_name(topic)
            assert channel.encode() in new_primary.pubsub_channels()  # the layer moved over

        # The cache reaches the new primary through the sentinels too.
        cache = RedisCache("sentinel", {"KEY_PREFIX": "sentinel-test"})
        cache.set("after-failover", {"ok": True}, 30)
        assert cache.get("after-failover") == {"ok": True}
        client = sync_client(cluster.config())
        assert client.get("sentinel-test:1:after-failover") is not None
