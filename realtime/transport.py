"""Carrying committed events to every web process over the Redis channel layer.

Publishers are synchronous Django code (services, signal receivers' ``on_commit`` callbacks,
management commands). Calling the async channel layer from there would need ``async_to_sync``,
which spins an event loop (and a Redis connection) per call. Instead we PUBLISH with a plain
Redis client, in exactly the format the channel layer's ``group_send`` uses: the same group
channel name and the layer's own serializer. ``tests/realtime/test_units.py`` proves a message
sent here arrives through ``layer.receive`` like one sent with ``group_send``.

A batch goes to each shard as one script call that runs ``PUBLISH`` for each of its events in
order (``_PUBLISH_ALL``): one command of many arguments, packed in C by hiredis, and one
reply. Pipelined ``PUBLISH`` commands cost the publisher about 22 µs of CPU per event on the
2-core test box, almost all of it in redis-py's per-command Python; the script call costs it
8.5 µs, and Valkey about 2 µs more per event (``bench/realtime_bench.py layer``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.utils import _consistent_hash
from django.conf import settings
from redis.commands.core import Script

from pubkyproject.redis_clients import client_for_layer_host
from realtime.wire import WireEvent

_local = threading.local()


class TransportError(redis.RedisError):
    """Publishing failed on at least one shard (the others got their events)."""


def _layer_config() -> dict[str, Any]:
    layers: dict[str, dict[str, Any]] = settings.CHANNEL_LAYERS
    config: dict[str, Any] = layers["default"].get("CONFIG", {})
    return config


def _hosts() -> list[str | dict[str, Any]]:
    hosts: list[str | dict[str, Any]] = _layer_config().get("hosts") or ["redis://127.0.0.1:6379"]
    return hosts


def group_channel_name(group: str) -> str:
    """The Redis channel a group's messages travel on (``RedisPubSubLoopLayer`` naming)."""
    prefix = _layer_config().get("prefix", "asgi")
    return f"{prefix}__group__{group}"


#: PUBLISH each (channel, message) pair of ARGV, in order. Scripts run whole, so no other
#: command runs between a batch's events; batches are cut at ``MAX_PER_CALL`` events so one
#: call holds Valkey for about a millisecond at most.
_PUBLISH_ALL = """
for i = 1, #ARGV, 2 do
  redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
return #ARGV / 2
"""
MAX_PER_CALL = 500


def _publishers() -> list[Script]:
    """The publishing script on one client per shard, per thread, per configuration
    (settings may change in tests).

    Built from the layer's own host entries, so a publish goes where the layer's subscribers
    are: the same server, or the primary the same sentinels name. The script runs by its SHA;
    a server that does not know it (restarted, or a new primary) gets it again from redis-py.
    """
    hosts = _hosts()
    key = json.dumps(hosts, sort_keys=True, default=str)
    cache: dict[str, list[Script]] = _local.__dict__.setdefault("publishers", {})
    publishers = cache.get(key)
    if publishers is None:
        publishers = cache[key] = [
            client_for_layer_host(host, socket_timeout=2, socket_connect_timeout=2).register_script(
                _PUBLISH_ALL
            )
            for host in hosts
        ]
    return publishers


def _uses_pubsub_layer() -> bool:
    layers: dict[str, dict[str, Any]] = settings.CHANNEL_LAYERS
    return str(layers["default"]["BACKEND"]).endswith("RedisPubSubChannelLayer")


def broadcast_sync(events: Sequence[WireEvent]) -> None:
    """Send events to every process subscribed to their topics (one round trip per shard and
    ``MAX_PER_CALL`` events)."""
    if not events:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    if not _uses_pubsub_layer():
        # Other layers (the stock RedisChannelLayer) keep per-channel queues: go through them.
        async def send_all() -> None:
            for event in events:
                await layer.group_send(event.topic, event.as_message())

        async_to_sync(send_all)()
        return
    publishers = _publishers()
    shards = len(publishers)
    prefix = group_channel_name("")
    # Per shard: channel, message, channel, message, … in publishing order.
    arguments: list[list[str | bytes]] = [[] for _ in publishers]
    for event in events:
        channel = prefix + event.topic
        shard = _consistent_hash(channel, shards) if shards > 1 else 0
        arguments[shard] += (channel, layer.serialize(event.as_message()))
    # Each shard on its own: one shard that is down (restarting) must not hold back the events
    # of the others. Its own events are in the outbox; the hubs fill them when it is back.
    failed: list[tuple[int, Exception]] = []
    for index, (publish_all, args) in enumerate(zip(publishers, arguments, strict=True)):
        try:
            for start in range(0, len(args), 2 * MAX_PER_CALL):
                publish_all(args=args[start : start + 2 * MAX_PER_CALL])
        except redis.RedisError as exc:
            failed.append((index, exc))
    if failed:
        which = ", ".join(f"#{index} ({exc})" for index, exc in failed)
        raise TransportError(f"could not publish to channel-layer shard(s) {which}")
