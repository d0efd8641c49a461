"""The hub's per-topic state is bounded by the topics local sockets watch now.

In process, on the real channel layer (the test Valkey) and the real outbox: many topics are
joined, some get events (and gaps filled from the outbox), then every socket leaves; the hub,
the layer and its Redis subscriptions must hold nothing for them afterwards.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction

from pubkyproject.async_db import close_pool
from realtime.events import WireEvent, emit
from realtime.hub import Hub

TOPICS = 2_000


class _Socket:
    def __init__(self) -> None:
        self.got: list[tuple[str, int]] = []

    def deliver(self, topic: str, event_id: int, event_type: str, frame: str) -> None:
        self.got.append((topic, event_id))


def _publish_each(names: list[str]) -> list[WireEvent]:
    events = []
    for name in names:
        with transaction.atomic():
            events.append(emit(topic=name, type="x", payload={"topic": name}))
    return events


def _layer_state(hub: Hub) -> tuple[int, int]:
    """(groups the layer routes, channels its Redis connections are subscribed to)."""
    layer = hub.layer._get_layer()  # the per-loop RedisPubSubLoopLayer behind the proxy
    subscribed = sum(len(shard._subscribed_to) for shard in layer._shards)
    return len(layer.groups), subscribed


@pytest.fixture
async def hub():
    hub = Hub()
    yield hub
    for task in (hub._task, hub._catch_up_task):
        if task is not None:
            task.cancel()
    await asyncio.gather(
        *(t for t in (hub._task, hub._catch_up_task) if t is not None), return_exceptions=True
    )
    await close_pool()


@pytest.mark.django_db(transaction=True)
async def test_topics_joined_and_left_leave_no_state_behind(hub: Hub) -> None:
    run = uuid.uuid4().hex[:8]
    names = [f"t.{run}.{n}" for n in range(TOPICS)]
    sockets = [_Socket() for _ in range(4)]

    for round_ in range(2):  # twice: the second round must not start from a bigger state
        for n, name in enumerate(names):
            await hub.join(name, sockets[n % len(sockets)])
            if n % 10 == 0:
                await hub.join(name, sockets[(n + 1) % len(sockets)])  # two sockets, one topic
        state = hub.state()
        assert state["topics"] == TOPICS
        assert state["subscriptions"] == TOPICS + TOPICS // 10
        groups, subscribed = _layer_state(hub)
        assert groups == TOPICS
        assert subscribed == TOPICS + 1  # each topic once, plus the hub's own channel

        # Events on some topics; the first of each is lost in transit, so the hub fills it
        # from the outbox when the second arrives (a gap fill runs per topic).
        busy = names[round_ * 50 : round_ * 50 + 50]
        lost = await sync_to_async(_publish_each)(busy)
        sent = await sync_to_async(_publish_each)(busy)
        for event in sent:
            hub.dispatch(event.as_message())
        for _ in range(200):
            if not hub._filling:
                break
            await asyncio.sleep(0.05)
        delivered = {(t, i) for s in sockets for t, i in s.got}
        assert {(e.topic, e.event_id) for e in lost + sent} <= delivered
        assert hub.state()["sequences"] >= len(busy)

        # A fill still running when its topic is left must not bring the topic back.
        late = await sync_to_async(_publish_each)(names[-1:] * 2)
        hub.dispatch(late[1].as_message())

        for n, name in enumerate(names):
            await hub.leave(name, sockets[n % len(sockets)])
            if n % 10 == 0:
                await hub.leave(name, sockets[(n + 1) % len(sockets)])
        for _ in range(200):
            if not hub._filling:
                break
            await asyncio.sleep(0.05)
        assert hub.state() == {"topics": 0, "subscriptions": 0, "sequences": 0, "filling": 0}
        assert _layer_state(hub) == (0, 1)  # only the hub's own channel stays subscribed

    # Leaving what was never joined is harmless and creates nothing.
    await hub.leave("t.never", sockets[0])
    assert hub.state()["topics"] == 0


@pytest.mark.django_db(transaction=True)
async def test_a_failed_join_keeps_no_state(hub: Hub) -> None:
    await hub.join("t.ok", _Socket())  # starts the hub (its channel exists)

    async def failing_group_add(group: str, channel: str) -> None:
        raise ConnectionError("Redis is down")

    original = hub.layer.group_add
    hub.layer.group_add = failing_group_add  # type: ignore[method-assign]
    try:
        with pytest.raises(ConnectionError):
            await hub.join("t.down", _Socket())
    finally:
        hub.layer.group_add = original  # type: ignore[method-assign]
    assert "t.down" not in hub.subscribers
    assert hub.state()["topics"] == 1


@pytest.mark.django_db(transaction=True)
async def test_an_event_in_flight_when_the_hub_first_checks_a_new_topic_is_delivered(
    hub: Hub,
) -> None:
    """A topic's first event is committed and on its way when the periodic check against the
    outbox runs: the check must not take it for history (and drop it when it arrives)."""
    name = f"t.{uuid.uuid4().hex[:8]}.fresh"
    socket = _Socket()
    await hub.join(name, socket)
    assert hub._task is not None
    hub._task.cancel()  # this test hands the hub its messages itself, in a chosen order
    (event,) = await sync_to_async(_publish_each)([name])
    behind = await hub.catch_up({})  # sees seq 1 committed, not yet delivered
    hub.dispatch(event.as_message())  # ... then it arrives
    assert socket.got == [(name, event.event_id)]
    assert await hub.catch_up(behind) == {}
