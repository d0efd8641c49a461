"""Answer the probes and ``/metrics`` before the rest of the middleware runs.

Load balancers, orchestrators and Prometheus call these by the address of one process (for
example ``web:8000`` inside compose), which is not a name in ``ALLOWED_HOSTS``, and over plain
HTTP, which production would redirect to HTTPS. Served from the first middleware they skip both,
touch no session and no user, and stay cheap.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from pubkyproject import health, metrics


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for a scrape with METRICS_TOKEN or from METRICS_ALLOWED_IPS."""
    if not metrics.allowed(
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        authorization=request.META.get("HTTP_AUTHORIZATION", ""),
    ):
        return HttpResponse(
            "metrics: send Authorization: Bearer <METRICS_TOKEN> or scrape from an address in "
            "METRICS_ALLOWED_IPS\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(metrics.exposition(), content_type=metrics.CONTENT_TYPE_LATEST)


PROBES: dict[str, Callable[[HttpRequest], HttpResponseBase]] = {
    "/healthz": health.healthz,
    "/readyz": health.readyz,
    "/metrics": metrics_view,
}


class ProbeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
