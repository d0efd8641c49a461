"""Per-connection rate limiting and per-user connection counting."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
from django.conf import settings

from pubkyproject.redis_clients import async_pool


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; each message takes one."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


_REGISTER = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class ConnectionRegistry:
    """Counts a user's open sockets across every process, in a Redis sorted set per user.

    Members expire (``ttl``) unless refreshed, so a crashed process does not hold a user's
    slots forever; the consumer refreshes its entry with each heartbeat.
    """

    MAX_CONNECTIONS = 32

    def __init__(self, *, ttl: float) -> None:
        self.ttl = ttl
        self._clients: dict[asyncio.AbstractEventLoop, _LoopClient] = {}

    def _client(self) -> _LoopClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = _LoopClient(self.MAX_CONNECTIONS)
        return client

    @staticmethod
    def _key(user_id: int) -> str:
        return f"pubky:ws:conns:{user_id}"

    async def register(self, user_id: int, connection_id: str, limit: float) -> bool:
        now = time.time()
        client = self._client()
        async with client.slots:
            ok = await client.register(
                keys=[self._key(user_id)],
                args=[now, now + self.ttl, limit, connection_id, self.ttl * 2],
            )
        return bool(ok)

    async def refresh(self, user_id: int, connection_id: str) -> None:
        client = self._client()
        async with client.slots:
            await client.redis.zadd(self._key(user_id), {connection_id: time.time() + self.ttl})

    async def unregister(self, user_id: int, connection_id: str) -> None:
        client = self._client()
        async with client.slots:
            await client.redis.zrem(self._key(user_id), connection_id)


class _LoopClient:
    """One event loop's Redis client, its registration script and its concurrency limit.

    Thousands of sockets opening or closing at once must queue, not fail with "Too many
    connections": the semaphore holds them back before the pool is exhausted (it costs far less
    per call than redis-py's BlockingConnectionPool, which arms a timeout for every command).
    The script runs by its SHA (``EVALSHA``), reloaded by redis-py if the server forgot it.
    """

    def __init__(self, max_connections: int) -> None:
        # Direct or through Sentinel, as configured (pubkyproject.redis_clients).
        pool = async_pool(max_connections=max_connections)
        self.redis = aioredis.Redis(connection_pool=pool)
        self.register = self.redis.register_script(_REGISTER)
        self.slots = asyncio.Semaphore(max_connections)


_registry: ConnectionRegistry | None = None


def connection_registry() -> ConnectionRegistry:
    global _registry
    if _registry is None:
        ttl = settings.REALTIME["HEARTBEAT_SECONDS"] * 3
        _registry = ConnectionRegistry(ttl=ttl)
    return _registry
