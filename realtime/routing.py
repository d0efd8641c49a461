"""ASGI protocol routing. The WebSocket consumer arrives with the realtime issue."""

from __future__ import annotations

from typing import Any

from channels.routing import ProtocolTypeRouter


def build_application(django_asgi_app: Any) -> ProtocolTypeRouter:
    return ProtocolTypeRouter({"http": django_asgi_app})
