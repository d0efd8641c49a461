"""The stock Channels deployment, for comparison in the benchmarks.

What a typical Channels app does: every socket gets its own channel-layer channel and joins a
group per subscription; an event is ``group_send`` to the group (one Redis message per socket
with the list-based ``RedisChannelLayer``); each consumer serialises the event itself; the
default ``dispatch`` runs (with the Channels 4.2+ thread hop before each handler). Same JWT
authentication as the real service. Run with ``CHANNEL_LAYER=redis``.
"""

from __future__ import annotations

import json
from typing import Any

from pubkyproject.boot import configure_settings

configure_settings()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.middleware import BaseMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.urls import re_path  # noqa: E402

django_asgi_app = get_asgi_application()

from realtime.auth import authenticate_scope  # noqa: E402


class JWTAuthMiddleware(BaseMiddleware):
    """The service's token check (``realtime.auth.authenticate_scope``) as the Channels
    middleware a typical app stacks in front of its URL router."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        await authenticate_scope(scope)
        return await super().__call__(scope, receive, send)


class StockConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        identity = self.scope.get("identity")
        if identity is None:
            await self.close(code=4401)
            return
        await self.send(text_data=json.dumps({"type": "authenticated"}))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        message = json.loads(text_data or "{}")
        if message.get("type") == "subscribe":
            await self.channel_layer.group_add(message["group"], self.channel_name)
            await self.send(text_data=json.dumps({"type": "subscribed"}))

    async def bench_event(self, event: dict[str, Any]) -> None:
        await self.send(
            text_data=json.dumps(
                {"type": event["event_type"], "event_id": event["event_id"], "data": event["data"]}
            )
        )


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": JWTAuthMiddleware(URLRouter([re_path(r"^ws/?$", StockConsumer.as_asgi())])),
    }
)
