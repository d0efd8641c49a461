"""The live dashboard page: a static shell; the browser does the rest with JWT, REST and /ws.

The page needs no server-side login. Its own form exchanges a username and password for tokens
at ``/api/auth/token/`` and every read goes through the API and the WebSocket with those tokens,
so the page itself holds nothing private. A strict Content-Security-Policy (same-origin scripts,
styles and connections, no inline code) limits what an injected string could do with the tokens
the page keeps in ``sessionStorage``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.generic import TemplateView

# The page's scripts, stylesheet and icon; served with every other static file by WhiteNoise.
ASSET_DIR = Path(__file__).resolve().parent / "static" / "dashboard"


def content_security_policy(host: str) -> str:
    """Same-origin everything; the WebSocket named by host because not every browser lets
    ``'self'`` cover ``ws:``/``wss:``."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' ws://{host} wss://{host}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ]
    )


class DashboardView(TemplateView):
    """The dashboard shell (``realtime/templates/dashboard/index.html``)."""

    template_name = "dashboard/index.html"
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = content_security_policy(request.get_host())
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        response["X-Content-Type-Options"] = "nosniff"
        return response


dashboard = DashboardView.as_view()
