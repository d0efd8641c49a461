"""ASGI entry point: HTTP goes to Django, WebSocket `/ws` to the realtime consumer."""

from __future__ import annotations

from pubkyproject.boot import configure_settings

configure_settings()

from django.core.asgi import get_asgi_application  # noqa: E402

# Django must be set up before anything imports models (the realtime routing does).
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402

from pubkyproject import heap  # noqa: E402
from pubkyproject.api.body_limit import BodyLimitMiddleware  # noqa: E402
from realtime.routing import build_application  # noqa: E402

# Request bodies are bounded (API_MAX_BODY_BYTES) before Django buffers them.
application = build_application(BodyLimitMiddleware(django_asgi_app))

# Server processes only (this module is what daphne and uvicorn load): collections timed, and
# long-lived objects kept out of the collector's walks (pubkyproject/heap.py).
_realtime = settings.REALTIME
heap.install(
    freeze=bool(_realtime["GC_FREEZE"]),
    interval=float(_realtime["GC_FREEZE_SECONDS"]),
    growth=float(_realtime["GC_RECLAIM_GROWTH"]),
    reclaim_seconds=float(_realtime["GC_RECLAIM_SECONDS"]),
    budget=float(_realtime["GC_RECLAIM_BUDGET"]),
)
