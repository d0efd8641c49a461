"""ASGI entry point: HTTP goes to Django, WebSocket `/ws` to the realtime consumer."""

from __future__ import annotations

from pubkyproject.boot import configure_settings

configure_settings()

from django.core.asgi import get_asgi_application  # noqa: E402

# Django must be set up before anything imports models (the realtime routing does).
django_asgi_app = get_asgi_application()

from pubkyproject.api.body_limit import BodyLimitMiddleware  # noqa: E402
from realtime.routing import build_application  # noqa: E402

# Request bodies are bounded (API_MAX_BODY_BYTES) before Django buffers them.
application = build_application(BodyLimitMiddleware(django_asgi_app))
