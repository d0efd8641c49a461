"""The WebSocket consumer: the socket's lifecycle. It authenticates (``?token=``, the ``auth``
message, token expiry and in-band refresh, ended sessions), counts the user's sockets, applies
the message size and rate limits (with strikes that end the socket), hands each message to its
handler (``routing``) and each event from the process hub to its subscription
(``subscriptions``); every frame leaves through the socket writer (``writer``).

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
from collections.abc import Callable, Coroutine
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from families.models import SecurityEventKind
from families.security import security_event_record
from pubkyproject.api.sessions import SESSION_REVOKED_EVENT, socket_is_revoked
from pubkyproject.policy import ANONYMOUS, Principal, aprincipal_for_user_id
from realtime import protocol, topics
from realtime.auth import AuthenticationFailed, Identity, aauthenticate_token, client_ip
from realtime.consumers.routing import route
from realtime.consumers.subscriptions import Subscriptions
from realtime.consumers.writer import SocketWriter, WritePrepared
from realtime.frames import PREPARED_FRAMES_EXTENSION
from realtime.heartbeats import heartbeats
from realtime.hub import get_hub
from realtime.limits import REVOKED, TokenBucket, admission, connection_registry
from realtime.wire import dumps

logger = logging.getLogger("pubky.realtime")

CLOSE_TOO_BIG = 1009  # RFC 6455; invalid UTF-8 (1007) is closed by the server itself
CLOSE_UNAUTHORIZED = 4401
CLOSE_RATE_LIMITED = 4429


class RealtimeConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = None  # events come through the hub, not a channel per socket

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Read the socket's messages one after another and handle each in turn.

        The stock consumer runs every read as a task of its own in ``await_many_dispatch``
        (so it can also read a channel-layer channel, which this consumer does not have): a
        task, a future and their callbacks per socket for as long as it is open, and a new
        task per message. A plain loop does the same work, in the same order, without them.
        """
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    @property
    def closing(self) -> bool:
        """No more frames go out: the socket is closing or closed."""
        return self.writer.closing

    # --- connection lifecycle ------------------------------------------------------------

    async def connect(self) -> None:
        limits = settings.REALTIME
        self.address = client_ip(self.scope) or "-"
        self.holds_unauthenticated_slot = False
        self.connection_id: str = self.scope.get("socket_id") or uuid.uuid4().hex
        self.identity: Identity | None = None
        # The user's control topic, once authenticated (compared for every delivered event).
        self.control_topic: str | None = None
        self.principal: Principal | None = None
        self.writer = SocketWriter(
            self.base_send,
            self.close,
            batch=bool(self.scope.get("batch")),
            label=self.connection_id,
            prepared=_prepared_frame_writer(self.scope),
        )
        self.subscriptions = Subscriptions(self, self.writer, self.connection_id)
        self.bucket = TokenBucket(limits["RATE_LIMIT_PER_SECOND"], limits["RATE_LIMIT_BURST"])
        self.strikes = 0
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
        self.writer.closing = True
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
        self.writer.discard()
        self._release_unauthenticated_slot()
        for timer in self.timers:
            timer.cancel()
        heartbeats().discard(self)
        await self.subscriptions.close()
        if self.identity is not None:
            await get_hub().leave(topics.user(self.identity.user.pk), self)
        if self.registered and self.identity is not None:
            try:
                await connection_registry().unregister(self.identity.user.pk, self.connection_id)
            except Exception as exc:
                logger.warning("could not unregister connection %s: %r", self.connection_id, exc)
        self.writer.cancel()

    def _later(self, delay: float, callback: Callable[[], Coroutine[Any, Any, None]]) -> None:
        loop = asyncio.get_running_loop()
        self.timers.append(loop.call_later(max(delay, 0), lambda: loop.create_task(callback())))

    async def _close(self, code: int) -> None:
        if self.closing:
            return
        self.writer.closing = True
        await self.writer.drain(2)
        await self.close(code=code)

    # --- authentication ------------------------------------------------------------------

    async def _auth_timeout(self) -> None:
        if self.identity is None and not self.closing:
            seconds = settings.REALTIME["AUTH_TIMEOUT_SECONDS"]
            await self._reject_auth(f"no token within {seconds:g} seconds")

    async def _reject_auth(self, reason: str) -> None:
        self.writer.send_obj(protocol.error("unauthorized", f"authentication failed: {reason}"))
        await self._close(CLOSE_UNAUTHORIZED)

    async def _on_auth(self, message: protocol.ClientMessage) -> None:
        token = message.data.get("token")
        if not isinstance(token, str) or not token:
            self.writer.send_obj(protocol.error("invalid", "auth needs data.token", message.id))
            return
        try:
            identity = await aauthenticate_token(token, ip_address=client_ip(self.scope))
        except AuthenticationFailed as exc:
            if self.identity is None:
                await self._reject_auth(str(exc))
            else:
                self.writer.send_obj(protocol.error("unauthorized", str(exc), message.id))
            return
        await self._authenticated(identity, message.id)

    async def _authenticated(self, identity: Identity, request_id: str | int | None = None) -> None:
        first = self.identity is None
        if not first:
            assert self.identity is not None
            if identity.user.pk != self.identity.user.pk:
                self.writer.send_obj(
                    protocol.error("unauthorized", "a token of another user", request_id)
                )
                return
        self.identity = identity
        self.control_topic = topics.user(identity.user.pk)
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
                self.writer.send_obj(
                    protocol.error("limit_exceeded", f"at most {limit} connections per user")
                )
                await self._close(CLOSE_RATE_LIMITED)
                return
            self.registered = True
            heartbeats().add(self)
        self.principal = identity.principal
        self._later(identity.expires_at - time.time(), self._expiry_check)
        self.writer.send_obj(
            protocol.reply(
                "authenticated",
                {"userId": identity.user.pk, "expiresAt": int(identity.expires_at)},
                request_id,
            )
        )

    async def _expiry_check(self) -> None:
        if self.identity is not None and self.identity.expires_at <= time.time() + 0.5:
            await self._reject_auth("the access token expired; send a fresh one with auth")

    # --- heartbeats (realtime.heartbeats) ---------------------------------------------------

    def heartbeat_user_id(self) -> int | None:
        if self.closing or self.identity is None:
            return None
        return int(self.identity.user.pk)

    def follows_urls(self) -> bool:
        return self.subscriptions.follows_urls()

    # --- events from the hub ---------------------------------------------------------------

    def deliver(self, topic: str, event_id: int, event_type: str, frame: str) -> None:
        """Called by the hub for every event on a topic this socket joined."""
        if topic == self.control_topic:
            if event_type == "access_changed":
                asyncio.get_running_loop().create_task(self._recheck_access())
            elif event_type == SESSION_REVOKED_EVENT:
                self._on_session_revoked(frame)
            return
        self.subscriptions.deliver(topic, event_id, event_type, frame)

    def _on_session_revoked(self, frame: str) -> None:
        assert self.identity is not None
        try:
            payload = json.loads(frame).get("data") or {}
        except (ValueError, AttributeError):
            return
        if socket_is_revoked(payload, self.identity.session_id, self.identity.issued_at):
            asyncio.get_running_loop().create_task(self._reject_auth("the session has ended"))

    async def _recheck_access(self) -> None:
        """Membership or a grant changed: drop subscriptions the user may no longer read."""
        if self.identity is None or self.closing:
            return
        self.principal = (
            await aprincipal_for_user_id(self.identity.user.pk)  # one query
        ) or ANONYMOUS
        await self.subscriptions.recheck(self.principal)

    # --- receiving -------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > settings.REALTIME["MAX_MESSAGE_BYTES"]:
            limit = settings.REALTIME["MAX_MESSAGE_BYTES"]
            self.writer.send_obj(
                protocol.error("too_large", f"messages are limited to {limit} bytes")
            )
            await self._close(CLOSE_TOO_BIG)
            return
        if not self.bucket.allow():
            await self._rate_limited()
            return
        try:
            message = protocol.parse(text_data, bytes_data)
        except protocol.ProtocolError as exc:
            self.writer.send_obj(protocol.error(exc.code, exc.message, exc.request_id))
            return
        if message.type == "auth":
            await self._on_auth(message)
            return
        if self.identity is None:
            self.writer.send_obj(protocol.error("unauthorized", "authenticate first", message.id))
            return
        await route(self, message)

    async def _rate_limited(self) -> None:
        """One strike per message over the rate; past the allowance the socket is closed."""
        self.strikes += 1
        if self.strikes == 1 or self.strikes % 10 == 0:
            await database_sync_to_async(security_event_record)(
                kind=SecurityEventKind.RATE_LIMITED,
                user=self.identity.user if self.identity else None,
                ip_address=client_ip(self.scope),
                target="websocket",
                detail={"strikes": self.strikes},
            )
        if self.strikes > settings.REALTIME["RATE_LIMIT_STRIKES_BEFORE_CLOSE"]:
            self.writer.send_obj(protocol.error("rate_limited", "too many messages; closing"))
            await self._close(CLOSE_RATE_LIMITED)
            return
        self.writer.send_obj(protocol.error("rate_limited", "too many messages; slow down"))


def _prepared_frame_writer(scope: dict[str, Any]) -> WritePrepared | None:
    """The server's prepared-frame writer, when it offers one (uvicorn with
    ``realtime.ws_protocol``; daphne and the stock protocols do not)."""
    extension = (scope.get("extensions") or {}).get(PREPARED_FRAMES_EXTENSION)
    write: WritePrepared | None = extension.get("write") if extension else None
    return write
