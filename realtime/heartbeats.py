"""Keeping every open socket's entries alive, with one task per process instead of a timer each.

A signed-in socket holds a slot in its user's connection count (``ConnectionRegistry``: a Redis
sorted set whose entries expire after three heartbeats) and, if it follows pubkyUrls, rows that
the homeserver watcher reads (pruned once nobody touched them for three heartbeats). Both must
be refreshed while the socket is open, and refreshing also puts back an entry Redis lost (a
restart, a failover).

Each socket is placed in one of ``slices`` sets when it signs in. One task per event loop
wakes every ``period / slices`` seconds and refreshes the next set: one pipelined round trip to
Redis for all of its sockets (one ``ZADD`` per user) and one ``UPDATE`` for the URL rows of
those that follow any. So every socket is refreshed once per ``period``, the work is spread
evenly over it, and an idle socket holds no timer of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from channels.db import database_sync_to_async
from django.conf import settings

from pubkyproject import metrics
from realtime import services
from realtime.limits import connection_registry

logger = logging.getLogger("pubky.realtime")

#: At most this many slices: a long period is still refreshed in steps of ``period / 60``.
MAX_SLICES = 60


class Beating(Protocol):
    """What a heartbeat needs from a socket."""

    connection_id: str

    def heartbeat_user_id(self) -> int | None:
        """The signed-in user, or None once the socket is closing (skip it)."""

    def follows_urls(self) -> bool:
        """Whether the socket has pubkyUrl rows to keep."""


def slices_for(period: float) -> int:
    """One slice per second of the period, between 1 and ``MAX_SLICES``."""
    return max(1, min(MAX_SLICES, int(period)))


class Heartbeats:
    def __init__(self, period: float, slices: int | None = None) -> None:
        if period <= 0:
            raise ValueError("the heartbeat period must be positive")
        self.period = period
        self.slices: list[dict[str, Beating]] = [{} for _ in range(slices or slices_for(period))]
        self._slice_of: dict[str, int] = {}
        self._next_slice = 0
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._slice_of)

    def add(self, member: Beating) -> None:
        """Refresh ``member`` once per period from now on (the first time within a period)."""
        key = member.connection_id
        if key in self._slice_of:
            return
        index = self._next_slice
        self._next_slice = (index + 1) % len(self.slices)
        self.slices[index][key] = member
        self._slice_of[key] = index
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, member: Beating) -> None:
        index = self._slice_of.pop(member.connection_id, None)
        if index is not None:
            self.slices[index].pop(member.connection_id, None)

    async def _run(self) -> None:
        interval = self.period / len(self.slices)
        index = 0
        while True:
            await asyncio.sleep(interval)
            members = list(self.slices[index].values())
            index = (index + 1) % len(self.slices)
            if members:
                try:
                    await self.beat(members)
                except Exception:  # a bug here must not stop every later heartbeat
                    logger.exception("heartbeat of %d socket(s) failed", len(members))

    async def beat(self, members: Sequence[Beating]) -> None:
        """Refresh these sockets now (Redis and PostgreSQL failures are logged, not raised:
        the next period tries again, and entries outlive two missed refreshes)."""
        entries = [
            (user_id, m.connection_id)
            for m in members
            if (user_id := m.heartbeat_user_id()) is not None
        ]
        if not entries:
            return
        registry = connection_registry()
        try:
            await registry.refresh_many(entries)
            metrics.HEARTBEATS.inc(len(entries))
            # A socket that closed while the refresh was on its way may have been removed
            # before it arrived, and put back by it: remove it again, or it would hold a slot
            # of its user's count until it expires.
            gone = [entry for entry in entries if entry[1] not in self._slice_of]
            if gone:
                await registry.forget_many(gone)
        except Exception as exc:
            metrics.HEARTBEAT_FAILURES.labels("redis").inc()
            logger.warning("could not refresh %d connection(s): %r", len(entries), exc)
        following = [m.connection_id for m in members if m.follows_urls()]
        if following:
            try:
                await database_sync_to_async(services.url_subscriptions_touch)(
                    connection_ids=following
                )
            except Exception as exc:
                metrics.HEARTBEAT_FAILURES.labels("database").inc()
                logger.warning(
                    "could not touch the URL rows of %d socket(s): %r", len(following), exc
                )

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


_by_loop: dict[asyncio.AbstractEventLoop, Heartbeats] = {}


def heartbeats() -> Heartbeats:
    """The heartbeats of the running event loop (one per process in daphne/uvicorn)."""
    loop = asyncio.get_running_loop()
    beats = _by_loop.get(loop)
    if beats is None:
        for old in [old for old in _by_loop if old.is_closed()]:
            del _by_loop[old]  # loops of finished tests
        beats = _by_loop[loop] = Heartbeats(float(settings.REALTIME["HEARTBEAT_SECONDS"]))
    return beats
