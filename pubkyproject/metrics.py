"""Prometheus metrics, served at ``/metrics`` (``pubkyproject.probes``).

Two kinds of series:

- **Per process**, counted where things happen: open WebSocket connections, subscriptions per
  kind, events the hub received, delivered to sockets, dropped for slow readers, replayed from
  the outbox, gaps filled, HTTP request latency. With several server processes per host (e.g.
  ``uvicorn --workers N``) set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by them
  (emptied at start); each answer then sums every live process.
- **Service-wide**, read from PostgreSQL at scrape time by the collectors the composition root
  registers (``pubkyproject.service_metrics``): events published (the outbox's id
  sequence), outbox lag and NOTIFY backlog (changes queued for ``pubky_listen``), each configured
  relay's state and latency, migrations per state, key proofs per status. Every replica reports
  the same values; aggregate them with ``max``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Callable

from django.conf import settings
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

logger = logging.getLogger("pubky.metrics")

__all__ = [
    "CONTENT_TYPE_LATEST",
    "EVENTS_DELIVERED",
    "EVENTS_DROPPED",
    "EVENTS_RECEIVED",
    "EVENTS_REPLAYED",
    "GAPS_FILLED",
    "GC_PAUSES",
    "HEAP_FROZEN",
    "HEAP_RECLAIMS",
    "HEARTBEATS",
    "HEARTBEAT_FAILURES",
    "SLOW_READER_CLOSES",
    "SOCKETS_OPEN",
    "SOCKETS_OPENED",
    "SUBSCRIPTIONS",
    "exposition",
    "observe_request",
    "register_service_collector",
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
GC_PAUSES = Histogram(
    "pubky_gc_pause_seconds",
    "Garbage collections in a server process by generation: the event loop waits for each",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
HEAP_FROZEN = Gauge(
    "pubky_heap_frozen_objects",
    "Objects the heap keeper moved out of the collector's walks, as last counted",
    multiprocess_mode="livesum",
)
HEAP_RECLAIMS = Counter(
    "pubky_heap_reclaims", "Full collections the heap keeper ran to free cycles it had frozen"
)

HEARTBEATS = Counter(
    "pubky_websocket_heartbeats", "Socket entries refreshed by the process's heartbeat task"
)
HEARTBEAT_FAILURES = Counter(
    "pubky_websocket_heartbeat_failures",
    "Heartbeat refreshes that failed, by store (redis: connection counts, database: URL rows)",
    ["store"],
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


_service_collectors: list[Callable[[], Collector]] = []


def register_service_collector(factory: Callable[[], Collector]) -> None:
    """Add a collector of service-wide figures to every scrape (the composition root adds the
    one reading the apps' tables: ``pubkyproject.service_metrics``)."""
    if factory not in _service_collectors:
        _service_collectors.append(factory)


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
    for factory in _service_collectors:
        service.register(factory())
    return local + generate_latest(service)


def allowed(*, remote_addr: str, authorization: str) -> bool:
    """Whether a scrape may read the metrics (METRICS_TOKEN or METRICS_ALLOWED_IPS)."""
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
