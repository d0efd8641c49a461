"""Reads over time: relay uptime and latency, Pubky domain usage.

Both are aggregated in PostgreSQL (``count … FILTER``, ``percentile_cont``, ``date_bin``) over the
``relay_probes`` and ``pubky_domain_usage`` tables, so
a week of probes every minute never travels to Python row by row. Windows are half-open
(``since <= t < until``) and cut into buckets that start at ``since``; a bucket without rows
is absent from the answer (the charts show it as a gap, not as zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection

from domains.models import PubkyDomain, UsageKind
from domains.selectors import relay_urls_configured

__all__ = [
    "RelayHistory",
    "RelayHistoryBucket",
    "UsageBucket",
    "interval",
    "pubky_domain_usage",
    "relay_history",
]


def interval(span: timedelta) -> str:
    """``span`` as a PostgreSQL interval literal (``'3600.0 seconds'``)."""
    return f"{span.total_seconds()} seconds"


def _check_window(since: datetime, until: datetime, bucket: timedelta) -> None:
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("history windows need timezone-aware times")
    if until <= since:
        raise ValueError("the window must end after it starts")
    if bucket <= timedelta(0):
        raise ValueError("buckets must be longer than zero")


@dataclass(frozen=True)
class RelayHistoryBucket:
    """Probes of one relay in ``[start, start + bucket)``; latencies of successful probes."""

    start: datetime
    checks: int
    up: int
    p50_ms: float | None
    p95_ms: float | None

    @property
    def uptime_percent(self) -> float | None:
        return round(100.0 * self.up / self.checks, 2) if self.checks else None


@dataclass(frozen=True)
class RelayHistory:
    """One relay over a window: uptime share of its probes, p50/p95 latency, the buckets."""

    url: str
    checks: int
    up: int
    p50_ms: float | None
    p95_ms: float | None
    buckets: list[RelayHistoryBucket] = field(default_factory=list)

    @property
    def uptime_percent(self) -> float | None:
        """Share of probes that found the relay up; None without probes (unknown, not 0 %)."""
        return round(100.0 * self.up / self.checks, 2) if self.checks else None


# Latency percentiles are of the successful probes: a failed one's time is a timeout.
_RELAY_TOTALS = """
SELECT url, count(*), count(*) FILTER (WHERE ok),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)
           FILTER (WHERE ok AND latency_ms IS NOT NULL),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)
           FILTER (WHERE ok AND latency_ms IS NOT NULL)
FROM relay_probes
WHERE url = ANY(%s) AND checked_at >= %s AND checked_at < %s
GROUP BY url
"""
_RELAY_BUCKETS = """
SELECT url, date_bin(%s::interval, checked_at, %s) AS start, count(*), count(*) FILTER (WHERE ok),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)
           FILTER (WHERE ok AND latency_ms IS NOT NULL),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)
           FILTER (WHERE ok AND latency_ms IS NOT NULL)
FROM relay_probes
WHERE url = ANY(%s) AND checked_at >= %s AND checked_at < %s
GROUP BY url, start
ORDER BY url, start
"""


def _ms(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def relay_history(
    *,
    since: datetime,
    until: datetime,
    bucket: timedelta,
    urls: Sequence[str] | None = None,
) -> list[RelayHistory]:
    """Every relay of ``urls`` (the configured ones by default), by URL, over the window.

    A relay without probes in the window is listed with zero checks and unknown uptime.
    """
    _check_window(since, until, bucket)
    wanted = sorted(
        {url.rstrip("/") for url in (urls if urls is not None else relay_urls_configured())}
    )
    if not wanted:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_RELAY_TOTALS, [wanted, since, until])
        totals = {row[0]: row[1:] for row in cursor.fetchall()}
        cursor.execute(_RELAY_BUCKETS, [interval(bucket), since, wanted, since, until])
        buckets: dict[str, list[RelayHistoryBucket]] = {}
        for url, start, checks, up, p50, p95 in cursor.fetchall():
            buckets.setdefault(url, []).append(
                RelayHistoryBucket(
                    start=start, checks=checks, up=up, p50_ms=_ms(p50), p95_ms=_ms(p95)
                )
            )
    history = []
    for url in wanted:
        checks, up, p50, p95 = totals.get(url, (0, 0, None, None))
        history.append(
            RelayHistory(
                url=url,
                checks=checks,
                up=up,
                p50_ms=_ms(p50),
                p95_ms=_ms(p95),
                buckets=buckets.get(url, []),
            )
        )
    return history


@dataclass(frozen=True)
class UsageBucket:
    """Uses of one Pubky domain in ``[start, start + bucket)``, by kind."""

    start: datetime
    resolves: int = 0
    publishes: int = 0
    republishes: int = 0
    failures: int = 0


_USAGE = """
SELECT date_bin(%s::interval, hour, %s) AS start,
       coalesce(sum(count) FILTER (WHERE kind = %s), 0),
       coalesce(sum(count) FILTER (WHERE kind = %s), 0),
       coalesce(sum(count) FILTER (WHERE kind = %s), 0),
       coalesce(sum(failures), 0)
FROM pubky_domain_usage
WHERE pubky_domain_id = %s AND hour >= %s AND hour < %s
GROUP BY start
ORDER BY start
"""


def pubky_domain_usage(
    *, pubky_domain: PubkyDomain, since: datetime, until: datetime, bucket: timedelta
) -> list[UsageBucket]:
    """Resolves, publishes and republishes of ``pubky_domain`` per bucket (hourly counts, so a
    bucket shorter than an hour holds whole hours at its start)."""
    _check_window(since, until, bucket)
    params: list[str | int | datetime] = [
        interval(bucket),
        since,
        UsageKind.RESOLVE.value,
        UsageKind.PUBLISH.value,
        UsageKind.REPUBLISH.value,
        pubky_domain.pk,
        since,
        until,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_USAGE, params)
        return [
            UsageBucket(
                start=start,
                resolves=int(resolves),
                publishes=int(publishes),
                republishes=int(republishes),
                failures=int(failures),
            )
            for start, resolves, publishes, republishes, failures in cursor.fetchall()
        ]
