"""Per-process fan-out: one channel-layer subscription per topic per process.

The usual Channels deployment adds every socket's own channel to a group, so one event becomes
one Redis message per socket (and the list-based layer drops them past ``capacity``). Here each
web process joins a topic's group once, with a single hub channel, and hands the event's
pre-serialised frame to its local sockets: one Redis message per process per event.

Within a topic, events carry consecutive ``seq`` numbers (``realtime.events``). The hub delivers
them in order: a duplicate is dropped, and a jump (an event lost in transit, or two publishers'
messages crossing) is filled from the outbox before the newer event is delivered.

A jump only shows when a later event arrives. For the tail of a burst lost with the Redis
connection (Valkey restarted, or it cut the subscriber off past its pub/sub output-buffer
limit), every ``CATCH_UP_SECONDS`` the hub compares each topic's last ``seq`` in PostgreSQL
with the last it delivered; a topic behind at two checks in a row (so not merely in flight) is
filled from the outbox. Subscribers get lost events within a few seconds, in order, without
reconnecting.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from pubkyproject import metrics
from realtime.frames import OutgoingFrame
from realtime.selectors import atopic_heads, atopic_heads_ahead, outbox_range

logger = logging.getLogger("pubky.realtime")


class Subscriber(Protocol):
    def deliver(self, topic: str, event_id: int, event_type: str, frame: str) -> None:
        """Queue a frame for the socket; must not block."""


def _missing_events(topic: str, after_seq: int, before_seq: int) -> list[tuple[int, int, str, str]]:
    return outbox_range(topic, after_seq, before_seq)


class Hub:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self.last_seq: dict[str, int] = {}
        self._filling: dict[str, list[dict[str, Any]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._catch_up_task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self.delivered = 0
        self.gaps_filled = 0

    async def _ensure_started(self) -> None:
        if self._task is not None:
            return
        async with self._start_lock:
            if self._task is None:
                self.channel = await self.layer.new_channel("hub.")
                loop = asyncio.get_running_loop()
                self._task = loop.create_task(self._run())
                self._catch_up_task = loop.create_task(self._catch_up_loop())

    async def join(self, topic: str, subscriber: Subscriber) -> None:
        await self._ensure_started()
        members = self.subscribers.get(topic)
        first = not members
        if members is None:
            members = self.subscribers[topic] = set()
        if subscriber not in members:
            metrics.SUBSCRIPTIONS.labels(metrics.subscription_kind(topic)).inc()
            members.add(subscriber)
        if first:
            try:
                await self.layer.group_add(topic, self.channel)
            except BaseException:
                # Not subscribed after all: keep no state for it (the caller reports the error).
                members.discard(subscriber)
                metrics.SUBSCRIPTIONS.labels(metrics.subscription_kind(topic)).dec()
                if not members and self.subscribers.get(topic) is members:
                    self._forget(topic)
                raise
            await self._start_counting(topic)

    async def _start_counting(self, topic: str) -> None:
        """Note the topic's last ``seq`` once subscribed: events after it are live for this
        process (a lost one is then a gap, filled from the outbox), those up to it are history
        (clients replay them with ``since``). Without this, the first check against the outbox
        would have to guess, and an event still in flight at that moment would be taken for
        history and dropped."""
        try:
            heads = await atopic_heads([topic])
        except Exception:
            logger.warning("could not read the head of %s; the next check will", topic)
            return
        if topic in self.subscribers and topic not in self.last_seq:
            self.last_seq[topic] = heads.get(topic, 0)

    async def leave(self, topic: str, subscriber: Subscriber) -> None:
        members = self.subscribers.get(topic)
        if not members or subscriber not in members:
            return
        members.discard(subscriber)
        metrics.SUBSCRIPTIONS.labels(metrics.subscription_kind(topic)).dec()
        if not members:
            self._forget(topic)
            if self.channel is not None:
                await self.layer.group_discard(topic, self.channel)

    def _forget(self, topic: str) -> None:
        """A topic no local socket watches any more leaves no state behind (a fill still
        running for it finds the topic gone and drops what it fetched)."""
        self.subscribers.pop(topic, None)
        self.last_seq.pop(topic, None)

    def state(self) -> dict[str, int]:
        """How much per-topic state the hub holds. Everything is keyed by the topics local
        sockets watch now, so it returns to zero when they leave (idle topics are forgotten)."""
        return {
            "topics": len(self.subscribers),
            "subscriptions": sum(len(members) for members in self.subscribers.values()),
            "sequences": len(self.last_seq),
            "filling": len(self._filling),
        }

    async def _run(self) -> None:
        assert self.channel is not None
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("hub receive failed; retrying")
                await asyncio.sleep(0.5)
                continue
            try:
                self.dispatch(message)
            except Exception:
                logger.exception("hub dispatch failed for %r", message.get("topic"))

    def dispatch(self, message: dict[str, Any]) -> None:
        topic = message.get("topic")
        if not isinstance(topic, str) or topic not in self.subscribers:
            return
        if topic in self._filling:
            self._filling[topic].append(message)
            return
        seq = int(message["seq"])
        last = self.last_seq.get(topic)
        if last is not None and seq <= last:
            return  # duplicate or already filled from the outbox
        if last is not None and seq > last + 1:
            self._filling[topic] = [message]
            asyncio.get_running_loop().create_task(self._fill(topic, last, seq))
            return
        self.last_seq[topic] = seq
        metrics.EVENTS_RECEIVED.inc()
        self._fan_out(topic, message["event_id"], message["event_type"], message["frame"])

    async def _catch_up_loop(self) -> None:
        interval = float(settings.REALTIME["CATCH_UP_SECONDS"])
        behind: dict[str, int] = {}
        while True:
            await asyncio.sleep(interval)
            try:
                behind = await self.catch_up(behind)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("hub catch-up check failed; next try in %ss", interval)

    async def catch_up(self, behind: dict[str, int]) -> dict[str, int]:
        """One check: fill topics that were behind their outbox head at the previous check and
        still are; return the topics behind now (the next check's ``behind``)."""
        last_seq = self.last_seq
        heads = await atopic_heads_ahead({topic: last_seq.get(topic) for topic in self.subscribers})
        still_behind: dict[str, int] = {}
        for topic, head in heads.items():
            if topic not in self.subscribers or topic in self._filling:
                continue
            last = self.last_seq.get(topic)
            if last is None:
                self.last_seq[topic] = head  # nothing delivered yet: start counting here
                continue
            earlier = behind.get(topic)
            if earlier is not None and earlier > last:
                self._filling[topic] = []
                asyncio.get_running_loop().create_task(self._fill(topic, last, earlier + 1))
            if head > last:
                still_behind[topic] = head
        return still_behind

    def _fan_out(self, topic: str, event_id: int, event_type: str, frame: str) -> None:
        subscribers = tuple(self.subscribers.get(topic, ()))
        # One OutgoingFrame for every socket: where the server takes prepared frames, the
        # frame's bytes are built once per event instead of once per socket.
        frame = OutgoingFrame(frame)
        for subscriber in subscribers:
            subscriber.deliver(topic, event_id, event_type, frame)
        self.delivered += 1
        metrics.EVENTS_DELIVERED.inc(len(subscribers))

    async def _fill(self, topic: str, last: int, seq: int) -> None:
        try:
            missing = await database_sync_to_async(_missing_events)(topic, last, seq)
        except Exception:
            logger.exception("could not fill events %d..%d of %s", last + 1, seq - 1, topic)
            missing = []
        self.gaps_filled += 1
        metrics.GAPS_FILLED.inc()
        pending = self._filling.pop(topic, [])
        if topic not in self.subscribers:
            return
        for event_id, event_seq, event_type, frame in missing:
            if event_seq > self.last_seq.get(topic, 0):
                self.last_seq[topic] = event_seq
                self._fan_out(topic, event_id, event_type, frame)
        # What the outbox no longer has (pruned) is gone for live delivery; clients that care
        # resubscribe with `since` and get `recovered: false`. Never wait for it again.
        self.last_seq[topic] = max(self.last_seq.get(topic, 0), seq - 1)
        for message in sorted(pending, key=lambda m: int(m["seq"])):
            self.dispatch(message)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def get_hub() -> Hub:
    """The hub of the running event loop (one per process in daphne/uvicorn)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub
