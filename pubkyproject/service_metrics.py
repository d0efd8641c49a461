"""The service-wide figures of ``/metrics``, read from PostgreSQL at scrape time.

Events published (the outbox's id sequence), outbox lag and NOTIFY backlog (changes queued for
``pubky_listen``), each configured relay's state and latency, migrations per state, key proofs
per status. Every replica reports the same values; aggregate them with ``max``.

They read the tables of several apps, so this module belongs to the composition root (the top
layer); ``pubkyproject.apps`` plugs the collector into :mod:`pubkyproject.metrics`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import connection
from django.db.models import Count, QuerySet
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from domains.models import DomainMigration
from domains.selectors import relay_statuses_active
from families.models import KeyProof
from realtime.models import DbChange

logger = logging.getLogger("pubky.metrics")


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
        for (proof_status,), count in _count(KeyProof.objects.all(), "status").items():
            proofs.add_metric([str(proof_status)], count)
        yield proofs


def _count(rows: QuerySet[Any], *fields: str) -> dict[tuple[str, ...], int]:
    counted = rows.order_by().values_list(*fields).annotate(n=Count("pk"))
    return {tuple(row[:-1]): row[-1] for row in counted}
