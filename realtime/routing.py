"""ASGI protocol routing: HTTP to Django, WebSocket ``/ws`` (and ``/ws/``) to the consumer."""

from __future__ import annotations

from typing import Any

from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import re_path

from pubkyproject.observability import SocketContextMiddleware
from realtime.auth import JWTAuthMiddleware
from realtime.consumers import RealtimeConsumer

websocket_urlpatterns = [re_path(r"^ws/?$", RealtimeConsumer.as_asgi())]


def build_application(django_asgi_app: Any) -> ProtocolTypeRouter:
    return ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            # Inside the token middleware, so a socket's log lines carry its user id too.
            "websocket": JWTAuthMiddleware(
                SocketContextMiddleware(URLRouter(websocket_urlpatterns))
            ),
        }
    )
