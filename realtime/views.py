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

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.http import require_safe
from django.views.generic import TemplateView

ASSET_DIR = Path(__file__).resolve().parent / "static" / "dashboard"
ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


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


@require_safe
def dashboard_asset(request: HttpRequest, name: str) -> HttpResponseBase:
    """One of the dashboard's own scripts or stylesheets, from ``realtime/static/dashboard/``.

    Nothing else in this project serves ``/static/`` (daphne does not; a production proxy serves
    the ``collectstatic`` output at the same URLs), so the page's few files are served here by
    name: no sub-directories, only known types. ``no-cache`` makes browsers revalidate, so a
    deploy is seen at once while unchanged files still answer 304.
    """
    path = ASSET_DIR / name
    kind = ASSET_TYPES.get(path.suffix)
    if kind is None or path.parent != ASSET_DIR or not path.is_file():
        raise Http404("no such dashboard file")
    modified = int(path.stat().st_mtime)
    etag = f'"{modified:x}-{path.stat().st_size:x}"'
    if request.headers.get("If-None-Match") == etag:
        response: HttpResponseBase = HttpResponse(status=304)
    else:
        response = FileResponse(path.open("rb"), content_type=kind)
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response
