"""ASGI entry point: HTTP goes to Django, WebSocket `/ws` to the realtime consumer."""

from __future__ import annotations

from pubkyproject.boot import configure_settings

configure_settings()

from django.core.asgi import get_asgi_application  # noqa: E402

# Django must be set up before anything imports models (the realtime routing does).
django_asgi_app = get_asgi_application()

from realtime.routing import build_application  # noqa: E402

application = build_application(django_asgi_app)
