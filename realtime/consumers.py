"""The WebSocket consumer: authenticate, subscribe through the policy, forward events.

Kept lean for fan-out: no channel-layer channel per socket (the process hub carries events),
no thread hop before each message (Channels 4.2+ closes old DB connections before every
handler; we only touch the database through ``database_sync_to_async``, which does that
itself), and frames arrive pre-serialised from the publisher.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from families.models import SecurityEventKind
from families.security import security_event_record
from pubkyproject import metrics
from pubkyproject.api.sessions import SESSION_REVOKED_EVENT, socket_is_revoked
from pubkyproject.policy import ANONYMOUS, Principal, aprincipal_for_user_id
from realtime import protocol, topics
from realtime.auth import AuthenticationFailed, Identity, aauthenticate_token, client_ip
from realtime.events import dumps
from realtime.hub import get_hub
from realtime.limits import REVOKED, TokenBucket, admission, connection_registry
from realtime.topics import Target

logger = logging.getLogger("pubky.realtime")

CLOSE_TOO_BIG = 1009  # RFC 6455; invalid UTF-8 (1007) is closed by the server itself
CLOSE_UNAUTHORIZED = 4401
CLOSE_RATE_LIMITED = 4429
CLOSE_SLOW_CONSUMER = 4408
MAX_BATCH = 200


@dataclass
class Subscription:
    target: Target
    filter: frozenset[str] | None = None
    replaying: bool = False
    buffer: list[tuple[int, str]] = field(default_factory=list)
    last_event_id: int = 0


def _db(fn: Any) -> Any:
    return database_sync_to_async(fn)


class _Resume:
    """Awaits the rest of a coroutine that was started by hand and is suspended on ``waiting``
    (what ``yield from`` does for a coroutine it started itself): the task waits on what the
    coroutine waits on, then drives it on; a cancellation is thrown into it."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self) -> Generator[Any, None, None]:
        waiting = self.waiting
        while True:
            try:
                yield waiting
            except BaseException as exc:
                try:
                    waiting = self.coro.throw(exc)
                except StopIteration:
                    return
                continue
            try:
                waiting = self.coro.send(None)
            except StopIteration:
                return


class RealtimeConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = None  # events come through the hub, not a channel per socket

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    # --- connection lifecycle ------------------------------------------------------------

    async def connect(self) -> None:
        limits = settings.REALTIME
        self.address = client_ip(self.scope) or "-"
        self.holds_unauthenticated_slot = False
        self.connection_id = self.scope.get("socket_id") or uuid.uuid4().hex
        self.identity: Identity | None = None
        self.principal: Principal | None = None
        self.subscriptions: dict[str, Subscription] = {}
        self.queue: deque[str] = deque()
        self.queued_bytes = 0
        self.writer: asyncio.Task[None] | None = None
        self.batch = bool(self.scope.get("batch"))
        self.bucket = TokenBucket(limits["RATE_LIMIT_PER_SECOND"], limits["RATE_LIMIT_BURST"])
        self.strikes = 0
        self.closing = False
        self.registered = False
        self.timers: list[asyncio.TimerHandle] = []
        identity: Identity | None = self.scope.get("identity")
        refused = self.scope.get("refused")
        if refused is None and identity is None and not self.scope.get("auth_error"):
            refused = admission().hold_unauthenticated(self.address)
            self.holds_unauthenticated_slot = refused is None
        if refused is not None:
            await self._refuse_handshake(refused)
            return
        await self.accept()
        if self.scope.get("auth_error"):
            await self._reject_auth(self.scope["auth_error"])
        elif identity is not None:
            await self._authenticated(identity)
        else:
            self._later(limits["AUTH_TIMEOUT_SECONDS"], self._auth_timeout)

    async def _refuse_handshake(self, reason: str) -> None:
        """No socket: HTTP 429 where the server lets the application answer the handshake
        (uvicorn: the ASGI denial response), a plain refusal (403) elsewhere."""
        self.closing = True
        if "websocket.http.response" in self.scope.get("extensions", {}):
            body = dumps(protocol.error("rate_limited", reason)).encode()
            await self.base_send(
                {
                    "type": "websocket.http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"retry-after", b"1"),
                    ],
                }
            )
            await self.base_send({"type": "websocket.http.response.body", "body": body})
        else:
            await self.close()

    def _release_unauthenticated_slot(self) -> None:
        if self.holds_unauthenticated_slot:
            self.holds_unauthenticated_slot = False
            admission().release_unauthenticated(self.address)

    async def disconnect(self, code: int) -> None:
        self.closing = True
        self._release_unauthenticated_slot()
        self.queue.clear()
        self.queued_bytes = 0
        for timer in self.timers:
            timer.cancel()
        hub = get_hub()
        for topic in list(self.subscriptions):
            await hub.leave(topic, self)
        if self.identity is not None:
            await hub.leave(topics.user(self.identity.user.pk), self)
        if any(s.target.entity == "pubkyUrl" for s in self.subscriptions.values()):
            await _db(_forget_url_subscriptions)(self.connection_id)
        self.subscriptions.clear()
        if self.registered and self.identity is not None:
            try:
                await connection_registry().unregister(self.identity.user.pk, self.connection_id)
            except Exception as exc:
                logger.warning("could not unregister connection %s: %r", self.connection_id, exc)
        if self.writer is not None:
            self.writer.cancel()

    def _later(self, delay: float, callback: Any) -> None:
        loop = asyncio.get_running_loop()
        self.timers.append(loop.call_later(max(delay, 0), lambda: loop.create_task(callback())))

    async def _auth_timeout(self) -> None:
        if self.identity is None and not self.closing:
            seconds = settings.REALTIME["AUTH_TIMEOUT_SECONDS"]
            await self._reject_auth(f"no token within {seconds:g} seconds")

    async def _reject_auth(self, reason: str) -> None:
        self._send_obj(protocol.error("unauthorized", f"authentication failed: {reason}"))
        await self._close(CLOSE_UNAUTHORIZED)

    async def _close(self, code: int) -> None:
        if self.closing:
            return
        self.closing = True
        if self.writer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.writer), timeout=2)
            except (TimeoutError, asyncio.CancelledError):
                pass
        await self.close(code=code)

    async def _authenticated(self, identity: Identity, request_id: str | int | None = None) -> None:
        first = self.identity is None
        if not first:
            assert self.identity is not None
            if identity.user.pk != self.identity.user.pk:
                self._send_obj(
                    protocol.error("unauthorized", "a token of another user", request_id)
                )
                return
        self.identity = identity
        if first:
            self._release_unauthenticated_slot()
            # Join the user's control topic before the registry checks the session denylist
            # (in the same round trip as the count): a revocation the check does not see yet
            # reaches this socket as a `session_revoked` event.
            await get_hub().join(topics.user(identity.user.pk), self)
            limit = int(settings.REALTIME["MAX_CONNECTIONS_PER_USER"])
            result = await connection_registry().register(
                identity.user.pk,
                self.connection_id,
                limit,
                revocation_keys=identity.revocation_keys(),
                issued_at=identity.issued_at if identity.session_id is None else None,
            )
            if result == REVOKED:
                await self._reject_auth("the session of this token has ended")
                return
            if result != 1:
                self._send_obj(
                    protocol.error("limit_exceeded", f"at most {limit} connections per user")
                )
                await self._close(CLOSE_RATE_LIMITED)
                return
            self.registered = True
            self._later(settings.REALTIME["HEARTBEAT_SECONDS"], self._heartbeat)
        self.principal = identity.principal
        self._later(identity.expires_at - time.time(), self._expiry_check)
        self._send_obj(
            protocol.reply(
                "authenticated",
                {"userId": identity.user.pk, "expiresAt": int(identity.expires_at)},
                request_id,
            )
        )

    async def _expiry_check(self) -> None:
        if self.identity is not None and self.identity.expires_at <= time.time() + 0.5:
            await self._reject_auth("the access token expired; send a fresh one with auth")

    async def _heartbeat(self) -> None:
        """Keep this socket's slot in the per-user count alive while it is open."""
        if self.closing or self.identity is None:
            return
        try:
            await connection_registry().refresh(self.identity.user.pk, self.connection_id)
        except Exception:
            logger.warning("could not refresh connection %s", self.connection_id)
        if any(s.target.entity == "pubkyUrl" for s in self.subscriptions.values()):
            # Rows of sockets that died with their process stop being refreshed and are pruned.
            await _db(_touch_url_subscriptions)(self.connection_id)
        self._later(settings.REALTIME["HEARTBEAT_SECONDS"], self._heartbeat)

    # --- sending ---------------------------------------------------------------------------

    def _send_obj(self, message: dict[str, Any]) -> None:
        self._enqueue(dumps(message))

    def _enqueue(self, frame: str) -> None:
        if self.closing:
            return
        if self.writer is None and not self.batch:
            # Nothing is waiting to be written (the queue drains before the writer ends): send
            # now instead of creating a task per frame, the cost that dominated fan-out.
            self._send_now(frame)
            return
        limits = settings.REALTIME
        if (
            len(self.queue) >= limits["SEND_QUEUE_FRAMES"]
            or self.queued_bytes + len(frame) > limits["SEND_QUEUE_BYTES"]
        ):
            self._drop_slow_reader()
            return
        self.queue.append(frame)
        self.queued_bytes += len(frame)
        if self.writer is None:
            # Batched sockets always go through the writer: what arrives before it runs (the
            # rest of this loop iteration's events) leaves as one frame.
            self.writer = asyncio.get_running_loop().create_task(self._write())

    def _drop_slow_reader(self) -> None:
        """A reader this slow would grow our memory without bound: drop it; it reconnects and
        resubscribes with `since` to get what it missed."""
        metrics.slow_reader_closed(dropped=len(self.queue) + 1)
        self.queue.clear()
        self.queued_bytes = 0
        self.closing = True
        asyncio.get_running_loop().create_task(self.close(code=CLOSE_SLOW_CONSUMER))

    async def _room(self) -> None:
        """Wait until the send queue is back under half its bounds (a replay goes at the
        reader's pace instead of filling the queue at once)."""
        limits = settings.REALTIME
        while (
            self.writer is not None
            and not self.closing
            and (
                len(self.queue) * 2 >= limits["SEND_QUEUE_FRAMES"]
                or self.queued_bytes * 2 >= limits["SEND_QUEUE_BYTES"]
            )
        ):
            await asyncio.wait({self.writer})

    def _send_now(self, text: str) -> None:
        """Run the server's ``send`` by hand; it finishes at once unless the transport applies
        back-pressure, and then its rest (and every frame queued behind it) goes to the writer.
        """
        send = self.base_send({"type": "websocket.send", "text": text})
        try:
            waiting = send.send(None)
        except StopIteration:
            return
        except Exception:
            logger.debug("send failed on %s", self.connection_id, exc_info=True)
            return
        self.writer = asyncio.get_running_loop().create_task(self._write(_Resume(send, waiting)))

    async def _write(self, unfinished: _Resume | None = None) -> None:
        try:
            if unfinished is not None:
                await unfinished
            while self.queue:
                if self.batch and len(self.queue) > 1:
                    frames = [self.queue.popleft() for _ in range(min(len(self.queue), MAX_BATCH))]
                    text = '{"type":"batch","messages":[' + ",".join(frames) + "]}"
                    self.queued_bytes -= sum(len(f) for f in frames)
                else:
                    text = self.queue.popleft()
                    self.queued_bytes -= len(text)
                await self.base_send({"type": "websocket.send", "text": text})
        except Exception:
            logger.debug("send failed on %s", self.connection_id, exc_info=True)
        finally:
            self.writer = None

    def deliver(self, topic: str, event_id: int, event_type: str, frame: str) -> None:
        """Called by the hub for every event on a topic this socket joined."""
        if self.identity is not None and topic == topics.user(self.identity.user.pk):
            if event_type == "access_changed":
                asyncio.get_running_loop().create_task(self._recheck_access())
            elif event_type == SESSION_REVOKED_EVENT:
                self._on_session_revoked(frame)
            return
        subscription = self.subscriptions.get(topic)
        if subscription is None:
            return
        if subscription.filter is not None and event_type not in subscription.filter:
            return
        if subscription.replaying:
            if len(subscription.buffer) >= settings.REALTIME["SEND_QUEUE_FRAMES"]:
                self._drop_slow_reader()  # live events outpace the replay's reader
                return
            subscription.buffer.append((event_id, frame))
            return
        if event_id <= subscription.last_event_id:
            return
        subscription.last_event_id = event_id
        self._enqueue(frame)

    def _on_session_revoked(self, frame: str) -> None:
        assert self.identity is not None
        try:
            payload = json.loads(frame).get("data") or {}
        except (ValueError, AttributeError):
            return
        if socket_is_revoked(payload, self.identity.session_id, self.identity.issued_at):
            asyncio.get_running_loop().create_task(self._reject_auth("the session has ended"))

    # --- receiving -------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > settings.REALTIME["MAX_MESSAGE_BYTES"]:
            limit = settings.REALTIME["MAX_MESSAGE_BYTES"]
            self._send_obj(protocol.error("too_large", f"messages are limited to {limit} bytes"))
            await self._close(CLOSE_TOO_BIG)
            return
        if not self.bucket.allow():
            await self._rate_limited()
            return
        try:
            message = protocol.parse(text_data, bytes_data)
        except protocol.ProtocolError as exc:
            self._send_obj(protocol.error(exc.code, exc.message, exc.request_id))
            return
        if message.type == "auth":
            await self._on_auth(message)
            return
        if self.identity is None:
            self._send_obj(protocol.error("unauthorized", "authenticate first", message.id))
            return
        handler = getattr(self, f"on_{message.type}")
        try:
            await handler(message)
        except protocol.ProtocolError as exc:
            request_id = exc.request_id if exc.request_id is not None else message.id
            self._send_obj(protocol.error(exc.code, exc.message, request_id))
        except Exception:
            logger.exception("handling %s failed", message.type)
            self._send_obj(protocol.error("internal", "the server could not do that", message.id))

    async def _rate_limited(self) -> None:
        self.strikes += 1
        if self.strikes == 1 or self.strikes % 10 == 0:
            await _db(security_event_record)(
                kind=SecurityEventKind.RATE_LIMITED,
                user=self.identity.user if self.identity else None,
                ip_address=client_ip(self.scope),
                target="websocket",
                detail={"strikes": self.strikes},
            )
        if self.strikes > settings.REALTIME["RATE_LIMIT_STRIKES_BEFORE_CLOSE"]:
            self._send_obj(protocol.error("rate_limited", "too many messages; closing"))
            await self._close(CLOSE_RATE_LIMITED)
            return
        self._send_obj(protocol.error("rate_limited", "too many messages; slow down"))

    async def _on_auth(self, message: protocol.ClientMessage) -> None:
        token = message.data.get("token")
        if not isinstance(token, str) or not token:
            self._send_obj(protocol.error("invalid", "auth needs data.token", message.id))
            return
        try:
            identity = await aauthenticate_token(token, ip_address=client_ip(self.scope))
        except AuthenticationFailed as exc:
            if self.identity is None:
                await self._reject_auth(str(exc))
            else:
                self._send_obj(protocol.error("unauthorized", str(exc), message.id))
            return
        await self._authenticated(identity, message.id)

    async def on_ping(self, message: protocol.ClientMessage) -> None:
        self._send_obj(protocol.reply("pong", {"time": int(time.time() * 1000)}, message.id))

    async def on_subscribe(self, message: protocol.ClientMessage) -> None:
        request = protocol.parse_subscribe(message)
        assert self.principal is not None
        from realtime.selectors import SubscriptionDenied, authorize, topic_head

        described = _describe_request(request.key, request.value)
        try:
            if request.key == "relays":  # public to every signed-in user: no database trip
                target = Target("relays", "relays", True, topics.RELAYS)
            else:
                target = await _db(authorize)(self.principal, request.key, request.value)
        except SubscriptionDenied as exc:
            self._send_obj(
                protocol.subscription_error(exc.code, exc.message, described, message.id)
            )
            if exc.forbidden:
                await self._record_denial(f"subscribe {described}")
            return
        existing = self.subscriptions.get(target.topic)
        if existing is None and len(self.subscriptions) >= _max_subscriptions():
            self._send_obj(
                protocol.subscription_error(
                    "limit_exceeded",
                    f"at most {_max_subscriptions()} subscriptions per connection",
                    target.describe(),
                    message.id,
                )
            )
            return
        subscription = existing or Subscription(target=target)
        subscription.filter = request.filter
        subscription.replaying = request.since is not None
        self.subscriptions[target.topic] = subscription
        if existing is None:
            await get_hub().join(target.topic, self)
            if target.entity == "pubkyUrl":
                assert self.identity is not None
                await _db(_remember_url_subscription)(
                    str(target.value), self.identity.user.pk, self.connection_id
                )
        if request.since is None:
            # `head`: where this subscription is up to (read after joining, so nothing after it
            # is missed); the client's `since` when it resumes without having seen an event.
            head = await _db(topic_head)(target.topic)
            reply = {**target.describe_with_topic(), "head": head}
            self._send_obj(protocol.reply("subscribed", reply, message.id))
            return
        await self._replay(subscription, request.since, message.id)

    async def _replay(self, subscription: Subscription, since: int, request_id: Any) -> None:
        from realtime.selectors import replay

        result = await _db(replay)(subscription.target.topic, since)
        metrics.EVENTS_REPLAYED.inc(len(result.events))
        self._send_obj(
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
            if subscription.filter is None or event_type in subscription.filter:
                await self._room()
                if self.closing:
                    return
                self._enqueue(frame)
            last = event_id
        # Live events that arrived while we read the outbox, minus what the replay covered.
        subscription.last_event_id = max(subscription.last_event_id, last)
        for event_id, frame in subscription.buffer:
            if event_id > subscription.last_event_id:
                subscription.last_event_id = event_id
                self._enqueue(frame)
        subscription.buffer.clear()
        subscription.replaying = False

    async def _record_denial(self, what: str) -> None:
        """The caller was told ``not_found``; the security events table says what it was."""
        assert self.identity is not None
        await _db(security_event_record)(
            kind=SecurityEventKind.ACCESS_DENIED,
            user=self.identity.user,
            ip_address=client_ip(self.scope),
            target=f"websocket {what}"[:255],
        )

    async def _refuse(self, exc: Any, what: str, request_id: Any) -> None:
        """Answer a request the caller gets no answer to (an ``error`` reply)."""
        self._send_obj(protocol.error(exc.code, exc.message, request_id))
        if getattr(exc, "forbidden", False):
            await self._record_denial(what)

    async def on_unsubscribe(self, message: protocol.ClientMessage) -> None:
        key, value = protocol.subscription_key(message)
        described = _describe_request(key, value)
        topic = _topic_for(key, value)
        subscription = self.subscriptions.pop(topic, None) if topic else None
        if topic is None or subscription is None:
            self._send_obj(
                protocol.subscription_error("not_found", "not subscribed", described, message.id)
            )
            return
        await get_hub().leave(topic, self)
        if subscription.target.entity == "pubkyUrl":
            await _db(_forget_url_subscriptions)(self.connection_id, str(subscription.target.value))
        self._send_obj(protocol.reply("unsubscribed", subscription.target.describe(), message.id))

    async def _recheck_access(self) -> None:
        """Membership or a grant changed: drop subscriptions the user may no longer read."""
        if self.identity is None or self.closing:
            return
        from realtime.selectors import still_allowed

        self.principal = (
            await aprincipal_for_user_id(self.identity.user.pk)  # one query
        ) or ANONYMOUS
        for topic, subscription in list(self.subscriptions.items()):
            allowed = await _db(still_allowed)(self.principal, subscription.target)
            if not allowed and topic in self.subscriptions:
                del self.subscriptions[topic]
                await get_hub().leave(topic, self)
                self._send_obj(
                    protocol.subscription_error(
                        "not_found", "access was revoked", subscription.target.describe()
                    )
                )

    async def on_pubky_relay_status(self, message: protocol.ClientMessage) -> None:
        from realtime.selectors import relay_snapshot

        relays = await _db(relay_snapshot)()
        self._send_obj(protocol.reply("pubky_relay_status", {"relays": relays}, message.id))

    async def on_pubky_resolve(self, message: protocol.ClientMessage) -> None:
        url = protocol.url_field(message.data.get("url"), "url", message.id)
        from realtime.selectors import SubscriptionDenied

        try:
            result = await _db(_resolve)(self.principal, url)
        except SubscriptionDenied as exc:
            await self._refuse(exc, f"pubky_resolve {url[:200]}", message.id)
            return
        self._send_obj(protocol.reply("pubky_resolve_result", result, message.id))

    async def on_pubky_sovereignty_score(self, message: protocol.ClientMessage) -> None:
        from realtime.selectors import SubscriptionDenied, score_snapshot

        domain_id = message.data.get("domainId")
        url = message.data.get("url")
        if (domain_id is None) == (url is None):
            raise protocol.ProtocolError(
                "invalid", "give exactly one of url or domainId", message.id
            )
        if domain_id is not None:
            domain_id = protocol.object_id(domain_id, "domainId", message.id)
        if url is not None:
            url = protocol.url_field(url, "url", message.id)
        try:
            data = await _db(score_snapshot)(self.principal, domain_id=domain_id, url=url)
        except SubscriptionDenied as exc:
            target = f"domainId={domain_id}" if url is None else str(url)[:200]
            await self._refuse(exc, f"pubky_sovereignty_score {target}", message.id)
            return
        self._send_obj(protocol.reply("pubky_sovereignty_score", data, message.id))

    async def on_pubky_guardian_status(self, message: protocol.ClientMessage) -> None:
        from realtime.selectors import SubscriptionDenied, guardian_status

        family_id = protocol.object_id(message.data.get("familyId"), "familyId", message.id)
        try:
            data = await _db(guardian_status)(self.principal, family_id)
        except SubscriptionDenied as exc:
            await self._refuse(exc, f"pubky_guardian_status familyId={family_id}", message.id)
            return
        self._send_obj(protocol.reply("pubky_guardian_status", data, message.id))


def _max_subscriptions() -> int:
    return int(settings.REALTIME["MAX_SUBSCRIPTIONS_PER_CONNECTION"])


def _describe_request(key: str, value: Any) -> dict[str, Any]:
    entity = topics.SUBSCRIPTION_KEYS[key]
    return Target(entity, key, value, "").describe()


def _topic_for(key: str, value: Any) -> str | None:
    if key == "relays":
        return topics.RELAYS
    if key == "pubkyUrl":
        from pubky.errors import PubkyError
        from pubky.urls import canonical_pubky_url

        try:
            return topics.pubky_url(canonical_pubky_url(str(value)))
        except PubkyError:
            return None
    return topics.ID_TOPICS[key](int(value))


def _resolve(principal: Principal | None, url: str) -> dict[str, Any]:
    from pubky.errors import PubkyError
    from pubky.urls import canonical_pubky_url
    from pubkyproject import policy
    from realtime.cache import PubkyContentCache
    from realtime.selectors import NO_SUCH_URL, SubscriptionDenied

    try:
        canonical = canonical_pubky_url(url)
    except PubkyError as exc:
        raise SubscriptionDenied("invalid", f"not a Pubky URL: {exc}") from None
    if not policy.can_read_pubky_url(principal, canonical):
        raise SubscriptionDenied("not_found", NO_SUCH_URL, forbidden=True)
    try:
        return PubkyContentCache().resolve(canonical)
    except PubkyError as exc:
        return {"url": canonical, "found": False, "error": str(exc)}


def _remember_url_subscription(url: str, user_id: int, connection_id: str) -> None:
    from realtime.models import PubkySubscription

    PubkySubscription.objects.get_or_create(
        channel_name=connection_id, url=url, defaults={"user_id": user_id}
    )


def _touch_url_subscriptions(connection_id: str) -> None:
    from django.utils import timezone

    from realtime.models import PubkySubscription

    PubkySubscription.objects.filter(channel_name=connection_id).update(last_seen_at=timezone.now())


def _forget_url_subscriptions(connection_id: str, url: str | None = None) -> None:
    from realtime.models import PubkySubscription

    rows = PubkySubscription.objects.filter(channel_name=connection_id)
    if url is not None:
        rows = rows.filter(url=url)
    rows.delete()
