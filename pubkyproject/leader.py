"""One leader per worker kind, so copies of a looping worker never do the same round twice.

Every looping worker (``check_relays --loop``, ``republish_pkarr --loop``,
``watch_homeservers``) can run in several copies for availability. Each copy opens a dedicated
PostgreSQL session and tries ``pg_try_advisory_lock`` on a key derived from the worker's name.
The copy that gets it *leads* and runs rounds; the others are *standbys* and try again every
``WORKER_LEADER_POLL_SECONDS``. A session-level advisory lock lives exactly as long as the
session, so when the leader exits, crashes or is killed, PostgreSQL ends its session, the lock
is free, and a standby takes over at its next try.

A leader whose host vanishes (no FIN, no RST) is noticed through TCP keepalives, set on both
ends of the lock session, within about ``WORKER_LEADER_KEEPALIVE_SECONDS``; the server then
drops the session and with it the lock. Before each round the leader checks that its session
is still there; if it lost it (PostgreSQL restarted, the network cut), it stops leading and
campaigns again like any standby.

The lock proves leadership when it is checked: a round already under way when the session
dropped may still finish while a standby starts. Work whose duplication would be visible is
fenced per item too: ``watch_homeservers`` only commits a page if the homeserver's cursor is
still where the page started, and ``republish_pkarr`` claims each domain with
:func:`item_claim` and re-checks that it is still due.

``pubky_listen`` does not need a leader: its copies stay awake side by side and take turns
(:func:`take_turn`), one claim-and-publish transaction at a time, so a row changed twice is
published in the order of its changes whichever copy handles each.

Who leads is visible in PostgreSQL: the lock session's ``application_name`` is
``pubky-django-leader:<worker>`` (``pg_stat_activity``), its lock is an ``advisory`` row of
``pg_locks`` with ``classid`` = :data:`LOCK_NAMESPACE`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.core.management.base import CommandError
from django.db import close_old_connections, connection

from pubkyproject.async_db import connection_kwargs

logger = logging.getLogger("pubky.leader")

# The first half of every advisory-lock key this service takes ("pubk" in ASCII), so its locks
# are told apart from any other application's on the same database.
LOCK_NAMESPACE = 0x7075626B
# Per-item claims use their own namespace per kind (see item_claim).
_ITEM_NAMESPACES = {"republish_pkarr": 0x7075626C}
# Jobs whose copies take turns, one transaction at a time (see take_turn).
_TURN_NAMESPACE = 0x7075626D


def _int4(value: int) -> int:
    """An unsigned 32-bit number as the signed ``int4`` PostgreSQL's lock functions take."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def lock_key(name: str) -> tuple[int, int]:
    """The two ``int4`` halves of the advisory lock that elects the leader of ``name``."""
    if not name:
        raise ValueError("a leader lock needs a name")
    return _int4(LOCK_NAMESPACE), _int4(zlib.crc32(name.encode()))


def _lock_session_params(name: str) -> dict[str, Any]:
    """Django's connection parameters for a separate autocommit session with keepalives."""
    params = connection_kwargs()  # Django's database, as libpq parameters
    keepalive = int(settings.WORKER_LEADER_KEEPALIVE_SECONDS)
    idle = max(1, keepalive // 3)
    params.update(
        autocommit=True,
        application_name=f"pubky-django-leader:{name}"[:63],
        connect_timeout=max(2, min(10, keepalive)),
        keepalives=1,
        keepalives_idle=idle,
        keepalives_interval=max(1, idle // 3),
        keepalives_count=3,
        # A leader whose writes to a vanished server go unacknowledged gives up after this.
        tcp_user_timeout=keepalive * 1000,
    )
    return params


class LeaderLock:
    """The advisory lock that makes one copy of worker ``name`` its leader.

    Not thread-safe; one per worker process. ``acquire`` and ``still_held`` never raise for a
    database that is down: they report ``False`` and the caller tries again later.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.key = lock_key(name)
        self._conn: psycopg.Connection[Any] | None = None
        self.held = False

    def _connect(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(**_lock_session_params(self.name))
            keepalive = int(settings.WORKER_LEADER_KEEPALIVE_SECONDS)
            idle = max(1, keepalive // 3)
            # The server's side of the keepalives: it drops a vanished leader's session, and so
            # its lock, instead of keeping it for the kernel's default of two hours.
            conn.execute(f"SET tcp_keepalives_idle = {idle}")
            conn.execute(f"SET tcp_keepalives_interval = {max(1, idle // 3)}")
            conn.execute("SET tcp_keepalives_count = 3")
            self._conn = conn
        return self._conn

    def acquire(self) -> bool:
        """Try once to become the leader; ``True`` if this copy now holds the lock."""
        if self.held:
            return self.still_held()
        try:
            row = (
                self._connect().execute("SELECT pg_try_advisory_lock(%s, %s)", self.key).fetchone()
            )
        except psycopg.Error as exc:
            logger.warning("leader %s: cannot reach the database (%s)", self.name, exc)
            self._drop()
            return False
        self.held = bool(row and row[0])
        return self.held

    def still_held(self) -> bool:
        """Whether the session holding the lock is still alive (so the lock is still ours)."""
        if not self.held or self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error as exc:
            logger.warning("leader %s: lost the lock session (%s)", self.name, exc)
            self._drop()
            return False
        return True

    def release(self) -> None:
        """Give the lead up (a standby takes over at its next try) and close the session."""
        if self._conn is not None and not self._conn.closed and self.held:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", self.key)
            except psycopg.Error:
                pass  # closing the session below releases it anyway
        self._drop()

    def _drop(self) -> None:
        self.held = False
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
        self._conn = None


def _close_stale_connections() -> None:
    """A long-running worker must not keep a Django connection the server has dropped.

    Skipped inside a transaction (as when a test calls a command), where closing would break
    the caller's transaction.
    """
    if not connection.in_atomic_block:
        close_old_connections()


def loop_interval(options: dict[str, Any], *, default: float) -> float:
    """The ``--interval`` of a worker command with ``--loop``: only with ``--loop``, positive,
    ``default`` (a setting) when not given."""
    interval = options["interval"]
    if interval is not None and not options["loop"]:
        raise CommandError("--interval only applies with --loop")
    interval = float(default if interval is None else interval)
    if interval <= 0:
        raise CommandError(f"--interval must be a positive number of seconds, not {interval}")
    return interval


def run_as_leader(
    name: str,
    *,
    stop: threading.Event,
    interval: float,
    work: Callable[[], object],
    say: Callable[[str], None],
    max_rounds: int | None = None,
    poll: float | None = None,
) -> int:
    """Run ``work`` every ``interval`` seconds while this copy leads worker ``name``.

    Standbys wait, trying for the lead every ``poll`` seconds (``WORKER_LEADER_POLL_SECONDS``).
    Returns when ``stop`` is set (a round in progress finishes first) or after ``max_rounds``
    rounds; the lock is released on the way out. ``say`` reports each change of role.
    """
    poll = float(settings.WORKER_LEADER_POLL_SECONDS if poll is None else poll)
    lock = LeaderLock(name)
    rounds = 0
    standby_reported = False
    try:
        while not stop.is_set():
            if not lock.held:
                if not lock.acquire():
                    if not standby_reported:
                        say(f"{name}: standby, another copy leads; taking over when it stops")
                        standby_reported = True
                    stop.wait(poll)
                    continue
                say(f"{name}: leading (pid {os.getpid()})")
                standby_reported = False
            elif not lock.still_held():
                say(f"{name}: lost the lead; campaigning again")
                continue
            started = time.monotonic()
            _close_stale_connections()
            work()
            rounds += 1
            if max_rounds is not None and rounds >= max_rounds:
                break
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
    finally:
        lock.release()
        _close_stale_connections()
    return rounds


@contextmanager
def item_claim(kind: str, item_id: int) -> Iterator[bool]:
    """Claim one item of ``kind`` for the duration of the block; yields whether it was free.

    A session-level advisory lock on Django's connection, released when the block ends (or
    with the session), so two copies of a job never work on the same item at once, with no
    transaction held open while the work waits on the network. The holder should re-check
    that the item still needs the work: another copy may have just finished it.
    """
    namespace = _ITEM_NAMESPACES[kind]
    key = (_int4(namespace), _int4(item_id))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        row = cursor.fetchone()
    claimed = bool(row and row[0])
    try:
        yield claimed
    finally:
        if claimed:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


def take_turn(job: str) -> None:
    """Wait, inside the current transaction, until no other copy of ``job`` is in one.

    A transaction-level advisory lock (released at commit or rollback): copies of a job that
    read state and publish it run one transaction at a time, so their events commit in the
    order their reads were made.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("take_turn() only makes sense inside a transaction")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", turn_key(job))


def turn_key(job: str) -> tuple[int, int]:
    """The two ``int4`` halves of the advisory lock copies of ``job`` take turns on."""
    return _int4(_TURN_NAMESPACE), _int4(zlib.crc32(job.encode()))
