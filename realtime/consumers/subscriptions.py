"""Subscription bookkeeping of one socket: what it follows, with which filter, how far it has
delivered, and the replay of missed events merged with live ones.

Every event of a subscription is delivered at most once and in ``event_id`` order: an event not
above the last one delivered is dropped. While a ``since`` replay reads the outbox, live events
of that topic wait in the subscription's buffer and follow the replay, minus what it covered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from pubkyproject import metrics
from pubkyproject.policy import Principal
from realtime import protocol, services
from realtime.consumers.writer import SocketWriter, queue_bounds
from realtime.hub import Subscriber, get_hub
from realtime.selectors import replay, still_allowed
from realtime.topics import Target


@dataclass
class Subscription:
    target: Target
    filter: frozenset[str] | None = None
    replaying: bool = False
    buffer: list[tuple[int, str]] = field(default_factory=list)
    last_event_id: int = 0

    def wants(self, event_type: str) -> bool:
        return self.filter is None or event_type in self.filter


def max_subscriptions() -> int:
    return int(settings.REALTIME["MAX_SUBSCRIPTIONS_PER_CONNECTION"])


class Subscriptions:
    """The subscriptions of one socket, keyed by topic; ``subscriber`` is the socket as the
    process hub knows it (it calls :meth:`deliver` through the socket)."""

    def __init__(self, subscriber: Subscriber, writer: SocketWriter, connection_id: str) -> None:
        self.subscriber = subscriber
        self.writer = writer
        self.connection_id = connection_id
        self.by_topic: dict[str, Subscription] = {}

    def __len__(self) -> int:
        return len(self.by_topic)

    def get(self, topic: str) -> Subscription | None:
        return self.by_topic.get(topic)

    def has_full_list(self, topic: str) -> bool:
        """Whether a new topic would go over the per-socket cap."""
        return topic not in self.by_topic and len(self.by_topic) >= max_subscriptions()

    def follows_urls(self) -> bool:
        return any(s.target.entity == "pubkyUrl" for s in self.by_topic.values())

    async def add(
        self,
        target: Target,
        *,
        filter: frozenset[str] | None,
        replaying: bool,
        user_id: int,
    ) -> Subscription:
        """Follow ``target`` (or change the filter of an existing subscription to it)."""
        existing = self.by_topic.get(target.topic)
        subscription = existing or Subscription(target=target)
        subscription.filter = filter
        subscription.replaying = replaying
        self.by_topic[target.topic] = subscription
        if existing is None:
            await get_hub().join(target.topic, self.subscriber)
            if target.entity == "pubkyUrl":
                await database_sync_to_async(services.url_subscription_remember)(
                    url=str(target.value), user_id=user_id, connection_id=self.connection_id
                )
        return subscription

    async def remove(self, topic: str) -> Subscription | None:
        """Stop following ``topic``; the subscription, or None when it was not followed."""
        subscription = self.by_topic.pop(topic, None)
        if subscription is None:
            return None
        await get_hub().leave(topic, self.subscriber)
        if subscription.target.entity == "pubkyUrl":
            await database_sync_to_async(services.url_subscriptions_forget)(
                connection_id=self.connection_id, url=str(subscription.target.value)
            )
        return subscription

    async def close(self) -> None:
        """The socket closed: leave every topic and forget its URL rows."""
        hub = get_hub()
        for topic in list(self.by_topic):
            await hub.leave(topic, self.subscriber)
        if self.follows_urls():
            await database_sync_to_async(services.url_subscriptions_forget)(
                connection_id=self.connection_id
            )
        self.by_topic.clear()

    def deliver(self, topic: str, event_id: int, event_type: str, frame: str) -> None:
        """A live event of ``topic``: send it, hold it back behind a replay, or drop it."""
        subscription = self.by_topic.get(topic)
        if subscription is None or not subscription.wants(event_type):
            return
        if subscription.replaying:
            if len(subscription.buffer) >= queue_bounds()[0]:
                self.writer.drop_slow_reader()  # live events outpace the replay's reader
                return
            subscription.buffer.append((event_id, frame))
            return
        if event_id <= subscription.last_event_id:
            return
        subscription.last_event_id = event_id
        self.writer.enqueue(frame)

    async def replay(self, subscription: Subscription, since: int, request_id: Any) -> None:
        """Answer ``subscribed`` for a ``since`` request, send the events after ``since`` at
        the reader's pace, then the live ones that arrived meanwhile, without duplicates."""
        result = await database_sync_to_async(replay)(subscription.target.topic, since)
        metrics.EVENTS_REPLAYED.inc(len(result.events))
        self.writer.send_obj(
            protocol.reply(
                "subscribed",
                {
                    **subscription.target.describe_with_topic(),
                    "recovered": result.recovered,
                    "replayed": len(result.events),
                },
                request_id,
            )
        )
        last = since
        for event_id, event_type, frame in result.events:
            if subscription.wants(event_type):
                await self.writer.room()
                if self.writer.closing:
                    return
                self.writer.enqueue(frame)
            last = event_id
        # Live events that arrived while we read the outbox, minus what the replay covered.
        subscription.last_event_id = max(subscription.last_event_id, last)
        for event_id, frame in subscription.buffer:
            if event_id > subscription.last_event_id:
                subscription.last_event_id = event_id
                self.writer.enqueue(frame)
        subscription.buffer.clear()
        subscription.replaying = False

    async def recheck(self, principal: Principal) -> None:
        """Access changed: drop the subscriptions ``principal`` may no longer read, each with a
        ``pubky_subscription_error`` (no ``id``)."""
        for topic, subscription in list(self.by_topic.items()):
            allowed = await database_sync_to_async(still_allowed)(principal, subscription.target)
            if not allowed and topic in self.by_topic:
                del self.by_topic[topic]
                await get_hub().leave(topic, self.subscriber)
                self.writer.send_obj(
                    protocol.subscription_error(
                        "not_found", "access was revoked", subscription.target.describe()
                    )
                )
