"""Prometheus metrics, served at ``/metrics`` (``pubkyproject.probes``).

Two kinds of series:

- **Per process**, counted where things happen: open WebSocket connections, subscriptions per
  kind, events the hub received, delivered to sockets, dropped for slow readers, replayed from
  the outbox, gaps filled, HTTP request latency. With several server processes per host (e.g.
  ``uvicorn --workers N``) set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by them
  (emptied at start); each answer then sums every live process.
- **Service-wide**, read from PostgreSQL at scrape time: events published (the outbox's id
  sequence), outbox lag and NOTIFY backlog (changes queued for ``pubky_listen``), each configured
  relay's state and latency, migrations per state, key proofs per status. Every replica reports
  the same values; aggregate them with ``max``.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger("pubky.metrics")

__all__ = [
    "CONTENT_TYPE_LATEST",
    "EVENTS_DELIVERED",
    "EVENTS_DROPPED",
    "EVENTS_RECEIVED",
    "EVENTS_REPLAYED",
    "GAPS_FILLED",
    "SLOW_READER_CLOSES",
    "SOCKETS_OPEN",
    "SOCKETS_OPENED",
    "SUBSCRIPTIONS",
    "exposition",
    "observe_request",
    "slow_reader_closed",
    "subscription_kind",
]

SOCKETS_OPEN = Gauge(
    "pubky_websocket_connections",
    "WebSocket connections open on this server",
    multiprocess_mode="livesum",
)
SOCKETS_OPENED = Counter("pubky_websocket_connections_opened", "WebSocket connections accepted")
SUBSCRIPTIONS = Gauge(
    "pubky_websocket_subscriptions",
    "Live subscriptions per kind (the sockets' own user channel counts as kind 'user')",
    ["kind"],
    multiprocess_mode="livesum",
)
EVENTS_RECEIVED = Counter(
    "pubky_hub_events_received", "Events the hub received for topics its sockets follow"
)
EVENTS_DELIVERED = Counter(
    "pubky_events_delivered", "Events handed to subscribed sockets (one per socket)"
)
EVENTS_DROPPED = Counter(
    "pubky_events_dropped", "Queued frames dropped when a socket too slow to read was closed"
)
SLOW_READER_CLOSES = Counter(
    "pubky_websocket_slow_reader_closes", "Sockets closed with 4408 for reading too slowly"
)
EVENTS_REPLAYED = Counter(
    "pubky_events_replayed", "Events sent from the outbox to sockets resuming with since"
)
GAPS_FILLED = Counter(
    "pubky_hub_gaps_filled", "Gaps in a topic's sequence the hub filled from the outbox"
)
REQUEST_LATENCY = Histogram(
    "pubky_http_request_duration_seconds",
    "HTTP request latency by route pattern",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

_SUBSCRIPTION_KINDS = frozenset(
    {"pubkyUrl", "pubkyDomain", "sovereigntyScore", "domainMigration", "family", "relays", "user"}
)


def subscription_kind(topic: str) -> str:
    """The kind of a topic (its prefix), e.g. ``family`` for ``family.12``."""
    kind = topic.split(".", 1)[0]
    return kind if kind in _SUBSCRIPTION_KINDS else "other"


def slow_reader_closed(*, dropped: int) -> None:
    """A socket too slow to read is being closed with 4408, ``dropped`` frames unsent."""
    SLOW_READER_CLOSES.inc()
    EVENTS_DROPPED.inc(dropped)


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    if route in ("/metrics", "/healthz", "/readyz"):
        return  # the probes would drown the figures that matter
    REQUEST_LATENCY.labels(method=method, route=route, status=str(status)).observe(seconds)


# --------------------------------------------------------------------------------------------
# Service-wide figures from PostgreSQL


class DatabaseCollector:
    """Reads the service-wide figures at scrape time (a handful of indexed queries)."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "pubky_metrics_database_up", "Whether the service-wide figures could be read"
        )
        try:
            families = list(self._collect())
        except Exception:
            logger.warning("metrics: reading the service-wide figures failed", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _collect(self) -> Iterable[Metric]:
        from django.db import connection

        from domains.models import DomainMigration
        from domains.selectors import relay_statuses_active
        from realtime.models import DbChange

        with connection.cursor() as cursor:
            cursor.execute("SELECT last_value, is_called FROM realtime_outbox_id_seq")
            last_value, is_called = cursor.fetchone()
        published = CounterMetricFamily(
            "pubky_events_published", "Events written to the outbox (all processes)"
        )
        published.add_metric([], float(last_value if is_called else 0))
        yield published

        backlog = DbChange.objects.count()
        oldest = DbChange.objects.order_by("id").values_list("created_at", flat=True).first()
        lag = max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0
        yield GaugeMetricFamily(
            "pubky_notify_backlog",
            "Changes made outside Django queued by the NOTIFY triggers for pubky_listen",
            value=backlog,
        )
        yield GaugeMetricFamily(
            "pubky_outbox_lag_seconds",
            "Age of the oldest committed change not yet in the outbox (0 when none waits)",
            value=lag,
        )

        relay_up = GaugeMetricFamily(
            "pubky_relay_up", "1 if the relay answered its last check, 0 if not", labels=["relay"]
        )
        latency = GaugeMetricFamily(
            "pubky_relay_latency_seconds", "Latency of the relay's last check", labels=["relay"]
        )
        for status in relay_statuses_active():
            if status.is_up is None:
                continue  # not checked yet
            relay_up.add_metric([status.url], 1.0 if status.is_up else 0.0)
            if status.latency_ms is not None:
                latency.add_metric([status.url], status.latency_ms / 1000)
        yield relay_up
        yield latency

        migrations = GaugeMetricFamily(
            "pubky_domain_migrations",
            "Domain migrations per direction and state",
            labels=["direction", "state"],
        )
        for (direction, state), count in _count(
            DomainMigration.objects.all(), "direction", "state"
        ).items():
            migrations.add_metric([direction, state], count)
        yield migrations

        proofs = GaugeMetricFamily(
            "pubky_key_proofs", "Proofs of key possession per status", labels=["status"]
        )
        model = _key_proof_model()
        if model is not None:
            for (proof_status,), count in _count(model._default_manager.all(), "status").items():
                proofs.add_metric([str(proof_status)], count)
        yield proofs


def _count(rows: QuerySet[Any], *fields: str) -> dict[tuple[str, ...], int]:
    counted = rows.order_by().values_list(*fields).annotate(n=Count("pk"))
    return {tuple(row[:-1]): row[-1] for row in counted}


def _key_proof_model() -> Any:
    """The proof-of-key-possession model (a ``KeyProof`` with a ``status``), if installed."""
    from django.apps import apps

    for model in apps.get_models():
        if model.__name__ == "KeyProof" and any(f.name == "status" for f in model._meta.fields):
            return model
    return None


# --------------------------------------------------------------------------------------------
# Exposition and access


def exposition() -> bytes:
    """The text format of every series: this process's (or all processes') and the database's."""
    multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc:
        processes = CollectorRegistry()
        MultiProcessCollector(processes, path=multiproc)
        local = generate_latest(processes)
    else:
        local = generate_latest(REGISTRY)
    service = CollectorRegistry(auto_describe=False)
    service.register(DatabaseCollector())
    return local + generate_latest(service)


def allowed(*, remote_addr: str, authorization: str) -> bool:
    """Whether a scrape may read the metrics (METRICS_TOKEN or METRICS_ALLOWED_IPS)."""
    import hmac

    token = settings.METRICS_TOKEN
    if token and authorization.startswith("Bearer "):
        return hmac.compare_digest(authorization[7:].strip().encode(), token.encode())
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    for entry in settings.METRICS_ALLOWED_IPS:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False
