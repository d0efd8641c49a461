"""Carrying committed events to every web process over the Redis channel layer.

Publishers are synchronous Django code (services, signal receivers' ``on_commit`` callbacks,
management commands). Calling the async channel layer from there would need ``async_to_sync``,
which spins an event loop (and a Redis connection) per call. Instead we PUBLISH with a plain
Redis client, in exactly the format the channel layer's ``group_send`` uses: the same group
channel name and the layer's own serializer. ``tests/realtime/test_transport.py`` proves a
message sent here arrives through ``layer.receive`` like one sent with ``group_send``.
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


def _clients() -> list[redis.Redis]:
    """One client per shard, per thread, per configuration (settings may change in tests).

    Built from the layer's own host entries, so a publish goes where the layer's subscribers
    are: the same server, or the primary the same sentinels name.
    """
    hosts = _hosts()
    key = json.dumps(hosts, sort_keys=True, default=str)
    cache: dict[str, list[redis.Redis]] = _local.__dict__.setdefault("clients", {})
    clients = cache.get(key)
    if clients is None:
        clients = cache[key] = [
            client_for_layer_host(h, socket_timeout=2, socket_connect_timeout=2) for h in hosts
        ]
    return clients


def _uses_pubsub_layer() -> bool:
    layers: dict[str, dict[str, Any]] = settings.CHANNEL_LAYERS
    return str(layers["default"]["BACKEND"]).endswith("RedisPubSubChannelLayer")


def broadcast_sync(events: Sequence[WireEvent]) -> None:
    """Send events to every process subscribed to their topics (one round trip per shard)."""
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
    clients = _clients()
    pipes = [client.pipeline(transaction=False) for client in clients]
    for event in events:
        channel = group_channel_name(event.topic)
        shard = _consistent_hash(channel, len(clients)) if len(clients) > 1 else 0
        pipes[shard].publish(channel, layer.serialize(event.as_message()))
    # Each shard on its own: one shard that is down (restarting) must not hold back the events
    # of the others. Its own events are in the outbox; the hubs fill them when it is back.
    failed: list[tuple[int, Exception]] = []
    for index, pipe in enumerate(pipes):
        if pipe:
            try:
                pipe.execute()
            except redis.RedisError as exc:
                failed.append((index, exc))
    if failed:
        shards = ", ".join(f"#{index} ({exc})" for index, exc in failed)
        raise TransportError(f"could not publish to channel-layer shard(s) {shards}")
