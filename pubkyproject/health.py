"""Liveness (``/healthz``) and readiness (``/readyz``) probes.

- ``/healthz`` answers 200 as long as the process serves requests. It touches nothing else, so
  an orchestrator restarts a process only when the process itself is stuck, never because
  PostgreSQL or Redis is away (a restart would not bring them back).
- ``/readyz`` answers 200 only when this process can do its work: PostgreSQL answers, Redis/
  Valkey (the cache, the connection registry) answers, the channel layer accepts a message,
  and the changes queued for the outbox are not older than ``READYZ_MAX_OUTBOX_LAG_SECONDS``.
  Otherwise 503. A load balancer sends traffic to ready processes only.

Both answer JSON in the shape of django-health-check: ``{"status": "ok"|"fail", "checks":
{name: {"status", "seconds", "error"?}}}``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from pubkyproject.metrics import allowed
from realtime.models import DbChange

logger = logging.getLogger("pubky.health")

READYZ_GROUP = "pubky.readyz"


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        timeout_ms = int(settings.READYZ_TIMEOUT_SECONDS * 1000)
        cursor.execute(f"SET LOCAL statement_timeout = {timeout_ms}")
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    """The cache (and with it the Redis that the connection registry uses) round-trips."""
    token = f"{time.time_ns()}"
    cache.set("readyz", token, timeout=30)
    if cache.get("readyz") != token:
        raise RuntimeError("the cache did not return what was just written")


def _check_channel_layer() -> None:
    """The channel layer accepts a group message (what every published event goes through)."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")

    async def send() -> None:
        await asyncio.wait_for(
            layer.group_send(READYZ_GROUP, {"type": "readyz.ping"}),
            timeout=settings.READYZ_TIMEOUT_SECONDS,
        )

    async_to_sync(send)()


def _check_outbox_lag() -> None:
    bound = settings.READYZ_MAX_OUTBOX_LAG_SECONDS
    if not bound:
        return
    oldest = DbChange.objects.order_by("id").values_list("created_at", flat=True).first()
    if oldest is None:
        return
    lag = (timezone.now() - oldest).total_seconds()
    if lag > bound:
        raise RuntimeError(
            f"the oldest change waiting for the outbox is {lag:.0f}s old (bound {bound}s); "
            "is pubky_listen running?"
        )


CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "redis": _check_redis,
    "channel_layer": _check_channel_layer,
    "outbox_lag": _check_outbox_lag,
}


def run_checks() -> tuple[bool, dict[str, dict[str, Any]]]:
    """Run every readiness check (each on its own; one failing does not skip the others)."""
    results: dict[str, dict[str, Any]] = {}
    ok = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        entry: dict[str, Any] = {"status": "ok"}
        try:
            if name in ("database", "outbox_lag"):
                with transaction.atomic():  # SET LOCAL lasts for this transaction only
                    check()
            else:
                check()
        except Exception as exc:
            ok = False
            entry = {"status": "fail", "error": f"{type(exc).__name__}: {exc}"[:500]}
            logger.warning("readiness check %s failed: %s", name, entry["error"])
        entry["seconds"] = round(time.perf_counter() - started, 4)
        results[name] = entry
    return ok, results


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: every dependency this process needs answers (503 otherwise).

    Why a check failed (host names, error text) is told only to callers that may read the
    metrics (METRICS_TOKEN or METRICS_ALLOWED_IPS, loopback by default): probes and operators.
    """
    ok, checks = run_checks()
    if not allowed(
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        authorization=request.META.get("HTTP_AUTHORIZATION", ""),
    ):
        for entry in checks.values():
            entry.pop("error", None)
    status = 200 if ok else 503
    return JsonResponse({"status": "ok" if ok else "fail", "checks": checks}, status=status)
