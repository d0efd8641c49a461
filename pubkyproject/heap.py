"""Keeps Python's garbage collector from pausing a server process that holds many sockets.

Each open WebSocket is about a hundred objects the cyclic collector tracks (the server's
protocol and transport, the consumer, its writer and subscriptions, coroutines, timers), and
Django itself leaves about 140,000 more after start-up. A full collection walks all of them
with the event loop stopped: with 5,000 sockets in a process that took 300-700 ms on a 2-core
box, so every frame due in that time waits. CPython runs one whenever the objects that
survived two young collections reach a quarter of the old ones, which steady traffic (timers
re-armed, events in flight) keeps doing.

The keeper moves what has lived a while into the permanent generation (``gc.freeze``), which
collections do not walk:

- once at start-up, everything imported (it lives as long as the process);
- then every ``interval`` seconds, after a collection (``gc.collect()``) that walks only what
  is not frozen yet, the last period's survivors, so their garbage is not frozen with them.
  Freezing itself is a list splice, not a walk.

Frozen objects are still freed as soon as nothing refers to them; only *cycles* among them
wait. A closed socket leaves about 50 objects in cycles (protocol and transport, consumer and
writer), and a socket frozen halfway through its handshake leaves the handshake's. So the
keeper reclaims, ``gc.unfreeze(); gc.collect(); gc.freeze()``, one full collection, when

- the sockets opened and closed since the last reclaim reach ``growth`` (a quarter) of those
  open (during a storm of connections that is as often as Python's own rule would), or
- ``reclaim_seconds`` have passed and the frozen heap grew by ``growth`` in the meantime
  (cycles from anything else: HTTP requests, errors).

A reclaim walks every object in the process, so it takes longer the more sockets the process
holds (about 0.2 s per 1,000 on a 2-core box). Reclaims are therefore kept to ``budget`` (a
tenth) of the process's time: after one that took ``t`` seconds, the next waits at least
``t / budget`` seconds, however fast sockets come and go. A storm of connections then runs a
reclaim every few seconds instead of at every quarter more sockets.

The memory held for closed sockets is thus bounded by a quarter of what the open ones use
(plus what closes while a reclaim waits for its budget), and a process whose sockets stay open
does no full collection once they are connected. ``WS_GC_FREEZE=0`` turns it off.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pubkyproject import metrics

logger = logging.getLogger("pubky.heap")

__all__ = ["HeapKeeper", "SocketCounts", "install", "sockets"]


class SocketCounts:
    """Sockets opened and closed in this process, written by the event loop's thread only
    (``pubkyproject.observability.socket_context``), read by the keeper's."""

    __slots__ = ("closed", "opened")

    def __init__(self) -> None:
        self.opened = 0
        self.closed = 0

    @property
    def open(self) -> int:
        return self.opened - self.closed

    @property
    def changed(self) -> int:
        """Sockets opened plus sockets closed: each leaves garbage that may end up frozen."""
        return self.opened + self.closed


sockets = SocketCounts()


@dataclass
class _Mark:
    """The state right after the last reclaim."""

    at: float
    frozen: int
    changed: int
    cost: float = 0.0  # seconds that reclaim took


class HeapKeeper:
    """The freezing and reclaiming described in the module docstring, on a daemon thread."""

    MIN_CHANGED = 64  # fewer sockets opened and closed never cause a reclaim on their own

    def __init__(
        self,
        *,
        interval: float,
        growth: float,
        reclaim_seconds: float,
        budget: float = 0.1,
        counts: SocketCounts | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0 or growth <= 0 or reclaim_seconds <= 0:
            raise ValueError("interval, growth and reclaim_seconds must be positive")
        if not 0 < budget <= 1:
            raise ValueError("budget must be a share of the time, above 0 and at most 1")
        self.interval = interval
        self.growth = growth
        self.reclaim_seconds = reclaim_seconds
        self.budget = budget
        self.counts = sockets if counts is None else counts
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mark = _Mark(at=self._clock(), frozen=0, changed=0)

    def start(self) -> None:
        """Reclaim once (what start-up left, then freeze it all) and keep going."""
        self.reclaim()
        self._thread = threading.Thread(target=self._run, name="heap-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.step()
            except Exception:  # logged; the next period tries again
                logger.exception("heap keeper step failed")

    def due_for_reclaim(self) -> bool:
        since = self._clock() - self._mark.at
        if since < self._mark.cost / self.budget:
            return False  # the last reclaim's share of the time is not paid off yet
        changed = self.counts.changed - self._mark.changed
        if changed >= max(self.MIN_CHANGED, self.growth * self.counts.open):
            return True
        if since < self.reclaim_seconds:
            return False
        # Counting the frozen heap walks it (about 25 ms per million objects on a slow core),
        # so only once per reclaim_seconds: not grown enough, and the count waits another period.
        frozen = gc.get_freeze_count()
        metrics.HEAP_FROZEN.set(frozen)
        if frozen > self._mark.frozen * (1 + self.growth):
            return True
        self._mark.at = self._clock()
        return False

    def step(self) -> str:
        """One period: ``"reclaim"`` or ``"freeze"`` (what was done)."""
        if not gc.isenabled():
            return "off"  # someone manages the collector by hand
        if self.due_for_reclaim():
            self.reclaim()
            return "reclaim"
        gc.collect()  # walks only what is not frozen yet: the last period's survivors
        gc.freeze()
        return "freeze"

    def reclaim(self) -> None:
        began = self._clock()
        changed = self.counts.changed
        gc.unfreeze()
        collected = gc.collect()
        gc.freeze()
        frozen = gc.get_freeze_count()
        ended = self._clock()
        self._mark = _Mark(at=ended, frozen=frozen, changed=changed, cost=ended - began)
        metrics.HEAP_RECLAIMS.inc()
        metrics.HEAP_FROZEN.set(frozen)
        logger.info(
            "heap reclaimed: %d objects collected, %d frozen, %.0f ms",
            collected,
            frozen,
            self._mark.cost * 1000,
        )


class _PauseTimer:
    """Every collection's duration into ``pubky_gc_pause_seconds`` (by generation)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.series = [metrics.GC_PAUSES.labels(str(generation)) for generation in range(3)]

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.series[info["generation"]].observe(time.perf_counter() - self.started)


_install_lock = threading.Lock()


def install(
    *, freeze: bool, interval: float, growth: float, reclaim_seconds: float, budget: float = 0.1
) -> None:
    """For a server process (``pubkyproject.asgi``): time every collection and, with
    ``freeze``, start the keeper. Idempotent."""
    with _install_lock:
        if any(isinstance(cb, _PauseTimer) for cb in gc.callbacks):
            return
        gc.callbacks.append(_PauseTimer())
        if freeze:
            # Its thread keeps it alive; nothing else needs to reach it.
            HeapKeeper(
                interval=interval, growth=growth, reclaim_seconds=reclaim_seconds, budget=budget
            ).start()
