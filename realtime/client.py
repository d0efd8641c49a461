"""WebSocketClient: a Python client for the service's WebSocket API (``docs/websocket.md``).

It keeps what a well-behaved client must: the last ``event_id`` it saw per subscription, and on
reconnect it resubscribes everything with ``since`` so nothing is lost (or learns
``recovered: false`` and can refetch over REST). Every (re)connection asks ``token_provider``
for a token; ``refresh_token()`` sends a fresh one in band, so a long-lived socket should call it
before the token expires (otherwise the server closes it with 4401 and the client reconnects
with ``since``, losing nothing). Used by apps, by the end-to-end tests and by ``bench/``.

    async with WebSocketClient("ws://127.0.0.1:8000/ws", token_provider=get_token) as ws:
        await ws.subscribe(relays=True)
        async for event in ws.events():
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

TokenProvider = Callable[[], Awaitable[str]]


class ClientError(Exception):
    """An ``error`` or ``pubky_subscription_error`` reply to one of our requests."""

    def __init__(self, reply: dict[str, Any]) -> None:
        data = reply.get("data", {})
        super().__init__(f"{data.get('code')}: {data.get('message')}")
        self.code: str = data.get("code", "")
        self.reply = reply


@dataclass
class _Subscription:
    key: dict[str, Any]
    topic: str = ""
    last_event_id: int = 0
    resumable: bool = False  # last_event_id is a place to resume from (an event, or the head)
    recovered: bool = True


@dataclass
class WebSocketClient:
    url: str
    token_provider: TokenProvider
    reconnect_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0)
    subscriptions: dict[str, _Subscription] = field(default_factory=dict)
    _ws: Any = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _pending: dict[Any, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    _reader: asyncio.Task[None] | None = None
    _resubscriber: asyncio.Task[None] | None = None
    _closed: bool = False
    reconnects: int = 0

    async def __aenter__(self) -> WebSocketClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        token = await self.token_provider()
        self._ws = await websockets.connect(f"{self.url}?token={token}", max_size=2**24)
        hello = json.loads(await self._ws.recv())
        if hello.get("type") != "authenticated":
            raise ClientError(hello)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def close(self) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._ws is not None:
            await self._ws.close()

    async def request(self, kind: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one message and wait for its reply (matched by ``id``)."""
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await self._ws.send(json.dumps({"type": kind, "data": data or {}, "id": request_id}))
        reply = await asyncio.wait_for(future, 30)
        if reply["type"] in ("error", "pubky_subscription_error"):
            raise ClientError(reply)
        return reply

    async def subscribe(self, **key: Any) -> dict[str, Any]:
        name = json.dumps(key, sort_keys=True)
        subscription = self.subscriptions.get(name) or _Subscription(key=key)
        data = dict(key)
        if subscription.resumable:
            data["since"] = subscription.last_event_id
        reply = await self.request("subscribe", data)
        subscription.recovered = reply["data"].get("recovered", True)
        subscription.topic = reply["data"]["topic"]
        head = reply["data"].get("head")
        if isinstance(head, int):
            # Up to date to the topic's head: where a subscription that sees no event resumes.
            subscription.last_event_id = max(subscription.last_event_id, head)
            subscription.resumable = True
        self.subscriptions[name] = subscription
        return reply

    async def refresh_token(self) -> None:
        """Send a fresh token from ``token_provider`` in band (the ``auth`` message)."""
        await self.request("auth", {"token": await self.token_provider()})

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Pushed events, across reconnects, in order."""
        while True:
            yield await self._events.get()

    async def next_event(self, within: float = 10.0) -> dict[str, Any]:
        return await asyncio.wait_for(self._events.get(), within)

    def _route(self, message: dict[str, Any]) -> None:
        if message.get("type") == "batch":
            for inner in message.get("messages", []):
                self._route(inner)
            return
        request_id = message.get("id")
        if request_id in self._pending:
            self._pending.pop(request_id).set_result(message)
            return
        if "event_id" in message:
            # Event ids are global; each subscription resumes from the last id of its own
            # topic, so a busy topic never makes a quiet one skip what it missed.
            for subscription in self.subscriptions.values():
                if subscription.topic == message.get("topic"):
                    subscription.last_event_id = max(
                        subscription.last_event_id, message["event_id"]
                    )
                    subscription.resumable = True
            self._events.put_nowait(message)
        elif message.get("type") == "pubky_subscription_error":
            self._events.put_nowait(message)

    async def _read(self) -> None:
        while not self._closed:
            try:
                async for raw in self._ws:
                    self._route(json.loads(raw))
            except websockets.ConnectionClosed:
                pass
            if self._closed:
                return
            await self._reconnect()

    async def _reconnect(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        delays = itertools.chain(self.reconnect_delays, itertools.repeat(self.reconnect_delays[-1]))
        for delay in delays:
            await asyncio.sleep(delay)
            try:
                token = await self.token_provider()
                self._ws = await websockets.connect(f"{self.url}?token={token}", max_size=2**24)
                hello = json.loads(await self._ws.recv())
                if hello.get("type") != "authenticated":
                    continue
            except (OSError, websockets.WebSocketException):
                continue
            self.reconnects += 1
            # Replies to the resubscriptions arrive through the reader, so this runs beside it.
            self._resubscriber = asyncio.get_running_loop().create_task(self._resubscribe())
            return

    async def _resubscribe(self) -> None:
        for subscription in list(self.subscriptions.values()):
            with contextlib.suppress(ClientError, asyncio.CancelledError):
                await self.subscribe(**subscription.key)
