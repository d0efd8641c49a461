"""The heap keeper (``pubkyproject.heap``): long-lived objects frozen out of the collector's
walks, and the cycles closed sockets leave reclaimed once enough of them closed."""

from __future__ import annotations

import asyncio
import gc
import re
import urllib.request
import weakref
from collections.abc import Iterator

import pytest
from asgiref.sync import sync_to_async

from pubkyproject.heap import HeapKeeper, SocketCounts
from tests.factories import UserFactory
from tests.realtime.conftest import connect, subprocess_env, token_for
from tests.servers import process_group


class Node:
    """An object in a reference cycle: only a full collection can free it."""

    def __init__(self) -> None:
        self.me = self


class Clock:
    """Time that moves only when a test moves it (``now``, or ``steps`` taken one per read)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.steps: list[float] = []

    def __call__(self) -> float:
        if self.steps:
            self.now += self.steps.pop(0)
        return self.now


@pytest.fixture
def thawed() -> Iterator[None]:
    """Whatever a test freezes in this process is unfrozen after it."""
    yield
    gc.unfreeze()


def _keeper(counts: SocketCounts, clock: Clock | None = None, growth: float = 0.25) -> HeapKeeper:
    return HeapKeeper(
        interval=10, growth=growth, reclaim_seconds=900, counts=counts, clock=clock or Clock()
    )


def test_a_step_freezes_what_lives_and_collects_young_garbage_first(thawed) -> None:
    keeper = _keeper(SocketCounts())
    alive = [{"n": n} for n in range(1000)]
    young_cycle = Node()
    young = weakref.ref(young_cycle)
    del young_cycle
    before = gc.get_freeze_count()

    assert keeper.step() == "freeze"

    assert gc.get_freeze_count() >= before + len(alive)
    assert young() is None  # garbage of the moment was collected, not frozen


def test_a_frozen_cycle_waits_for_the_reclaim_that_socket_churn_triggers(thawed) -> None:
    counts = SocketCounts()
    keeper = _keeper(counts)
    cycle = Node()
    ref = weakref.ref(cycle)
    assert keeper.step() == "freeze"
    del cycle
    gc.collect()
    assert ref() is not None  # frozen: ordinary collections leave it alone

    counts.opened = 63  # fewer than MIN_CHANGED never trigger a reclaim
    assert keeper.step() == "freeze"
    assert ref() is not None

    counts.opened = 64
    assert keeper.step() == "reclaim"
    assert ref() is None
    assert gc.get_freeze_count() > 0  # what lives is frozen again

    counts.closed = 63  # 63 changes since the reclaim: below the minimum
    assert keeper.step() == "freeze"
    counts.closed = 64  # 64 closed, none open
    assert keeper.step() == "reclaim"


def test_churn_is_weighed_against_the_sockets_still_open(thawed) -> None:
    counts = SocketCounts()
    counts.opened = 10_000
    keeper = _keeper(counts)
    keeper.reclaim()  # 10,000 open, counted from here
    counts.closed = 1_900  # 8,100 open: 1,900 closed is less than a quarter of them
    assert not keeper.due_for_reclaim()
    counts.closed = 2_100  # 7,900 open, 2,100 closed
    assert keeper.due_for_reclaim()
    keeper.reclaim()
    counts.opened += 1_000  # a storm of connections: 8,900 open
    counts.closed += 900  # and closures: 8,000 open, 1,900 changes
    assert not keeper.due_for_reclaim()
    counts.opened += 200  # 2,100 changes, 8,200 open
    assert keeper.due_for_reclaim()


def test_other_cycles_are_reclaimed_when_the_frozen_heap_grew_and_time_passed(thawed) -> None:
    clock = Clock()
    keeper = _keeper(SocketCounts(), clock, growth=0.05)
    keeper.reclaim()
    grown = [Node() for _ in range(gc.get_freeze_count() // 10)]  # +10% of the frozen heap
    assert keeper.step() == "freeze"
    clock.now += 899
    assert keeper.step() == "freeze"  # grew, but not yet reclaim_seconds since the last
    clock.now += 1
    assert keeper.step() == "reclaim"
    assert keeper.step() == "freeze"  # measured from the reclaim again
    del grown
    clock.now += 900  # a period later, the frozen heap has not grown: nothing to reclaim
    assert keeper.step() == "freeze"
    assert keeper.step() == "freeze"  # and it is counted again only a period later
    assert not keeper.due_for_reclaim()


def test_reclaims_take_at_most_their_budget_of_the_time(thawed) -> None:
    clock = Clock()
    counts = SocketCounts()
    keeper = HeapKeeper(
        interval=10, growth=0.25, reclaim_seconds=900, budget=0.1, counts=counts, clock=clock
    )
    clock.steps = [0.0, 0.5]  # this reclaim takes half a second…
    keeper.reclaim()
    counts.opened = 5_000  # …and a storm of connections follows it
    clock.now += 4.9
    assert keeper.step() == "freeze"  # half a second of collecting is a tenth of 5 s
    clock.now += 0.1
    assert keeper.step() == "reclaim"
    # That one took no time, so churn alone decides again: 1,000 opened against 11,000 open
    # is less than a quarter, 4,000 against 14,000 is more.
    counts.opened += 1_000
    assert keeper.step() == "freeze"
    counts.opened += 3_000
    assert keeper.step() == "reclaim"


@pytest.mark.parametrize("budget", [0.0, -0.1, 1.5])
def test_the_budget_is_a_share_of_the_time(budget: float) -> None:
    with pytest.raises(ValueError, match="budget must be a share"):
        HeapKeeper(interval=10, growth=0.25, reclaim_seconds=900, budget=budget)


def test_a_process_that_manages_the_collector_itself_is_left_alone(thawed) -> None:
    keeper = _keeper(SocketCounts())
    gc.disable()
    try:
        before = gc.get_freeze_count()
        assert keeper.step() == "off"
        assert gc.get_freeze_count() == before
    finally:
        gc.enable()


@pytest.mark.parametrize("field", ["interval", "growth", "reclaim_seconds"])
def test_the_keeper_refuses_periods_and_ratios_that_are_not_positive(field: str) -> None:
    options = {"interval": 10.0, "growth": 0.25, "reclaim_seconds": 900.0, field: 0}
    with pytest.raises(ValueError, match="must be positive"):
        HeapKeeper(**options)  # type: ignore[arg-type]


def _metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
async def test_a_server_reclaims_after_sockets_open_or_close_and_not_while_they_stay() -> None:
    """A real uvicorn process: a full collection after many sockets opened and after many
    closed, none while they stay open, and the server keeps serving throughout."""
    env = subprocess_env(
        WS_GC_FREEZE_SECONDS="0.5",
        WS_MAX_CONNECTIONS_PER_USER="1000",
        WS_CONNECT_RATE_PER_ADDRESS="1000",
        WS_CONNECT_BURST_PER_ADDRESS="1000",
    )
    user = await sync_to_async(UserFactory)()
    token = token_for(user)
    with process_group(env) as group:
        web = group.web("web")
        assert web.port is not None
        port = web.port
        reclaims = await asyncio.to_thread(_metric, port, "pubky_heap_reclaims_total")
        assert reclaims == 1.0  # the one at start-up
        # Django and the apps, imported before the first request, frozen from the start.
        assert await asyncio.to_thread(_metric, port, "pubky_heap_frozen_objects") > 50_000

        async def reclaims_reach(count: float) -> float:
            # Up to 20 s: a reclaim also waits for the last one's share of the time (a
            # tenth), which on a loaded box can be a few seconds after start-up's.
            for _ in range(100):
                seen = await asyncio.to_thread(_metric, port, "pubky_heap_reclaims_total")
                if seen >= count:
                    return seen
                await asyncio.sleep(0.2)
            return seen

        clients = [await connect(port, token) for _ in range(80)]
        for client in clients:
            await client.subscribe(relays=True)
        assert await reclaims_reach(2) == 2.0  # 80 opened: the handshakes' garbage freed
        await asyncio.sleep(1.5)  # three periods with the same sockets open: no reclaim
        assert await asyncio.to_thread(_metric, port, "pubky_heap_reclaims_total") == 2.0

        for client in clients:
            await client.ws.close()
        assert await reclaims_reach(3) == 3.0  # 80 closed, none open: their cycles freed

        pauses = await asyncio.to_thread(
            _metric, port, 'pubky_gc_pause_seconds_count{generation="2"}'
        )
        assert pauses >= 2  # each reclaim is a full collection, and it was timed

        client = await connect(port, token)  # still serving
        assert (await client.subscribe(relays=True))["data"]["topic"] == "relays"
        await client.ws.close()
