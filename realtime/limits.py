"""Per-connection rate limiting, per-user connection counting, admission of new sockets.

- ``TokenBucket``: a socket's message rate.
- ``ConnectionRegistry``: a user's open sockets across every process (Redis), with a local
  count per process that takes over while Redis is unreachable.
- ``Admission``: per process, before a socket is accepted: connection attempts per client
  address per second, and sockets not yet signed in per address and in total.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings

from pubkyproject.redis_clients import async_pool

logger = logging.getLogger("pubky.realtime")


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


# KEYS: the user's set, the session's denylist entry, the user's cut-off. Returns -1 for a
# revoked session (checked here too, after the socket joined its user topic: a revocation after
# this check reaches the socket as an event), 0 past the limit, 1 when registered.
_REGISTER = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
if ARGV[6] ~= '' then
  local cut = redis.call('GET', KEYS[3])
  if cut and tonumber(ARGV[6]) <= math.floor(tonumber(cut)) then return -1 end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


REVOKED = -1


class ConnectionRegistry:
    """Counts a user's open sockets across every process, in a Redis sorted set per user.

    Members expire (``ttl``) unless refreshed, so a crashed process does not hold a user's
    slots forever; the process's heartbeats (``realtime.heartbeats``) refresh every open socket's
    entry once per period, which also puts back entries registered while Redis was away.

    While Redis is unreachable the cap is enforced on this process's own count of the user's
    sockets (kept all the time, it costs a dict entry): a user then holds at most the limit per
    process, and nobody loses the WebSocket API because Redis restarts.
    """

    MAX_CONNECTIONS = 32

    def __init__(self, *, ttl: float) -> None:
        self.ttl = ttl
        self._clients: dict[asyncio.AbstractEventLoop, _LoopClient] = {}
        self.local: dict[int, set[str]] = defaultdict(set)

    def _client(self) -> _LoopClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = _LoopClient(self.MAX_CONNECTIONS)
        return client

    @staticmethod
    def _key(user_id: int) -> str:
        return f"pubky:ws:conns:{user_id}"

    async def register(
        self,
        user_id: int,
        connection_id: str,
        limit: int,
        *,
        revocation_keys: tuple[str, str] | None = None,
        issued_at: int | None = None,
    ) -> int:
        """1 if the socket may stay, 0 past the user's limit, ``REVOKED`` if its session ended.

        ``revocation_keys`` (session entry, user cut-off) and ``issued_at`` (the token's ``iat``,
        only for tokens without a session) are checked in the same round trip.
        """
        now = time.time()
        session_key, user_key = revocation_keys or ("-", "-")
        try:
            client = self._client()
            async with client.slots:
                result = int(
                    await client.register(
                        keys=[self._key(user_id), session_key, user_key],
                        args=[
                            now,
                            now + self.ttl,
                            limit,
                            connection_id,
                            self.ttl * 2,
                            "" if issued_at is None else str(issued_at),
                        ],
                    )
                )
        except Exception as exc:
            logger.warning("connection registry unreachable (%r); counting locally", exc)
            result = 1 if len(self.local[user_id]) < limit else 0
        if result == 1:
            self.local[user_id].add(connection_id)
        return result

    async def refresh_many(self, entries: Sequence[tuple[int, str]]) -> None:
        """Refresh (or put back) these (user, connection) entries in one round trip."""
        expires = time.time() + self.ttl
        by_user: dict[int, dict[str, float]] = defaultdict(dict)
        for user_id, connection_id in entries:
            by_user[user_id][connection_id] = expires
        client = self._client()
        async with client.slots, client.redis.pipeline(transaction=False) as pipe:
            for user_id, members in by_user.items():
                pipe.zadd(self._key(user_id), members)
            await pipe.execute()

    async def forget_many(self, entries: Sequence[tuple[int, str]]) -> None:
        """Remove these (user, connection) entries from Redis in one round trip."""
        client = self._client()
        async with client.slots, client.redis.pipeline(transaction=False) as pipe:
            for user_id, connection_id in entries:
                pipe.zrem(self._key(user_id), connection_id)
            await pipe.execute()

    async def unregister(self, user_id: int, connection_id: str) -> None:
        mine = self.local.get(user_id)
        if mine is not None:
            mine.discard(connection_id)
            if not mine:
                del self.local[user_id]
        client = self._client()
        async with client.slots:
            await client.redis.zrem(self._key(user_id), connection_id)

    async def values(self, keys: Sequence[str]) -> list[Any]:
        """``MGET`` on this loop's client (the session denylist)."""
        client = self._client()
        async with client.slots:
            return list(await client.redis.mget(list(keys)))


class _LoopClient:
    """One event loop's Redis client, its registration script and its concurrency limit.

    Thousands of sockets opening or closing at once must queue, not fail with "Too many
    connections": the semaphore holds them back before the pool is exhausted (it costs far less
    per call than redis-py's BlockingConnectionPool, which arms a timeout for every command).
    The script runs by its SHA (``EVALSHA``), reloaded by redis-py if the server forgot it.
    """

    def __init__(self, max_connections: int) -> None:
        # Direct or through Sentinel, as configured (pubkyproject.redis_clients). A frozen Redis
        # must not hold a new socket for long: fail in a second, count locally.
        pool = async_pool(
            max_connections=max_connections, socket_timeout=1, socket_connect_timeout=1
        )
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


class Admission:
    """Which new sockets this process accepts, decided before the handshake completes.

    - at most ``rate`` connection attempts per client address per second (``burst`` at once);
    - at most ``per_address`` sockets not yet signed in per client address, and ``total`` in
      all (a signed-in socket is bounded by the per-user cap instead).

    Per process: each web process protects its own memory. Addresses are what the server puts
    in the ASGI scope (behind a proxy, run uvicorn with ``--proxy-headers`` and
    ``--forwarded-allow-ips`` so that it is the client's).
    """

    MAX_TRACKED_ADDRESSES = 65536

    def __init__(self, *, rate: float, burst: int, per_address: int, total: int) -> None:
        self.rate = rate
        self.burst = burst
        self.per_address = per_address
        self.total = total
        self.buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self.pending: dict[str, int] = defaultdict(int)
        self.pending_total = 0

    def attempt(self, address: str) -> bool:
        """Count one connection attempt; False once the address is past its rate."""
        bucket = self.buckets.get(address)
        if bucket is None:
            bucket = self.buckets[address] = TokenBucket(self.rate, self.burst)
            if len(self.buckets) > self.MAX_TRACKED_ADDRESSES:
                self.buckets.popitem(last=False)  # the least recently seen address
        else:
            self.buckets.move_to_end(address)
        return bucket.allow()

    def hold_unauthenticated(self, address: str) -> str | None:
        """Reserve a slot for a socket not signed in yet; the reason if there is none."""
        if self.pending_total >= self.total:
            return f"at most {self.total} sockets may wait for authentication"
        if self.pending[address] >= self.per_address:
            return f"at most {self.per_address} sockets per address may wait for authentication"
        self.pending[address] += 1
        self.pending_total += 1
        return None

    def release_unauthenticated(self, address: str) -> None:
        count = self.pending.get(address, 0)
        if count <= 1:
            self.pending.pop(address, None)
        else:
            self.pending[address] = count - 1
        self.pending_total = max(0, self.pending_total - 1)


_admission: Admission | None = None


def admission() -> Admission:
    global _admission
    if _admission is None:
        limits = settings.REALTIME
        _admission = Admission(
            rate=float(limits["CONNECT_RATE_PER_ADDRESS"]),
            burst=int(limits["CONNECT_BURST_PER_ADDRESS"]),
            per_address=int(limits["MAX_UNAUTHENTICATED_PER_ADDRESS"]),
            total=int(limits["MAX_UNAUTHENTICATED"]),
        )
    return _admission
