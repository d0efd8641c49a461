"""An asyncio PostgreSQL pool for the queries on the WebSocket hot path.

``database_sync_to_async`` hands every call to Django's database thread: a thread hop, a
``close_old_connections`` pass and, with ``CONN_HEALTH_CHECKS``, a ``SELECT 1`` before the real
query. For the one query each new socket needs (its principal) that was most of the server's
cost per connection (bench/realtime_bench.py connections: 1.9 ms of CPU per connect, 1.2 ms
without the database trip). Here the event loop talks to PostgreSQL itself, through a small
pool of autocommit connections opened with Django's own connection parameters (same database,
same ``application_name``), so it reads exactly what the ORM would.

Only reads belong here: writes go through the ORM, its transactions and its signals.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections
from psycopg_pool import AsyncConnectionPool

logger = logging.getLogger("pubky.db")

# Keys of Django's connection parameters that are psycopg objects or Django options, not libpq
# connection parameters.
_NOT_LIBPQ = frozenset(
    {
        "cursor_factory",
        "context",
        "prepare_threshold",
        "server_side_binding",
        "pool",
        "isolation_level",
        "assume_role",
    }
)

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[AsyncConnectionPool]]
_pools = weakref.WeakKeyDictionary()


def connection_kwargs() -> dict[str, Any]:
    """libpq parameters of Django's default database (read when the pool opens, so the test
    database pytest-django switches to is the one used)."""
    params = connections["default"].get_connection_params()
    return {k: v for k, v in params.items() if k not in _NOT_LIBPQ and v not in (None, "")}


async def _open(max_size: int) -> AsyncConnectionPool:
    pool = AsyncConnectionPool(
        kwargs={**connection_kwargs(), "autocommit": True},
        min_size=1,
        max_size=max_size,
        open=False,
        name="realtime",
        timeout=10,
    )
    await pool.open()
    return pool


async def get_pool() -> AsyncConnectionPool:
    """The running event loop's pool (one per process under daphne or uvicorn)."""
    loop = asyncio.get_running_loop()
    task = _pools.get(loop)
    if task is None or (task.done() and task.exception() is not None):
        task = _pools[loop] = loop.create_task(_open(int(settings.REALTIME["DB_POOL_SIZE"])))
    return await asyncio.shield(task)


async def close_pool() -> None:
    """Close the running loop's pool, if it has one.

    Code that runs a loop of its own and ends it (tests, ``async_to_sync``) must call this
    first: psycopg_pool's scheduler swallows a ``CancelledError`` that lands while it runs a
    maintenance action, so ``asyncio.run`` cancelling an open pool's tasks can wait forever.
    Servers keep one loop (and its pool) for the life of the process.
    """
    task = _pools.pop(asyncio.get_running_loop(), None)
    if task is not None and task.done() and task.exception() is None:
        await task.result().close()


async def fetchall(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one read and return its rows.

    A connection PostgreSQL dropped (a restart, an idle timeout) is discarded by the pool; the
    query is tried once more on a fresh one before the error reaches the caller.
    """
    pool = await get_pool()
    for attempt in (1, 2):
        try:
            async with pool.connection() as conn:
                cursor = await conn.execute(sql, params)
                return await cursor.fetchall()
        except psycopg.OperationalError:
            if attempt == 2:
                raise
            logger.warning("realtime database connection lost; retrying on a new one")
    raise AssertionError("unreachable")


async def fetchone(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """Run one read and return its first row (or None)."""
    rows = await fetchall(sql, params)
    return rows[0] if rows else None
