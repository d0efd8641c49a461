"""ASGI protocol routing: HTTP to Django, WebSocket ``/ws`` (and ``/ws/``) to the consumer."""

from __future__ import annotations

import re
from typing import Any

from channels.routing import ProtocolTypeRouter

from pubkyproject.observability import socket_context
from realtime.auth import authenticate_scope
from realtime.consumers import RealtimeConsumer

WEBSOCKET_PATH = re.compile(r"^/ws/?$")


class WebSocketEntry:
    """Where every WebSocket connection starts: the path, the token, the socket's log context,
    then the consumer.

    One application instead of a stack of middleware and a URL router: each of those would
    copy the scope and keep its own coroutine alive for as long as the socket is open, which a
    server holding tens of thousands of idle sockets pays for in memory. The scope is copied
    once, here, and marked by :func:`realtime.auth.authenticate_scope` and
    :func:`pubkyproject.observability.socket_context`.
    """

    def __init__(self) -> None:
        self.consumer = RealtimeConsumer.as_asgi()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if not WEBSOCKET_PATH.match(scope.get("path", "")):
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})  # the handshake gets 403
            return None
        scope = dict(scope)
        await authenticate_scope(scope)
        with socket_context(scope):
            return await self.consumer(scope, receive, send)


def build_application(django_asgi_app: Any) -> ProtocolTypeRouter:
    return ProtocolTypeRouter({"http": django_asgi_app, "websocket": WebSocketEntry()})
