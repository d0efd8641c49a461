"""Relay history: every probe is kept (and pruned), uptime and p50/p95 latency per window."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from domains.history_selectors import relay_history
from domains.models import RelayProbe
from domains.services.relays import relay_probes_prune, relay_status_record
from pubky.relay_client import RelayResult
from pubky.testnet import Testnet

pytestmark = pytest.mark.django_db

A = "http://127.0.0.1:1"
B = "http://127.0.0.1:2"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def interpolated(values: list[float], q: float) -> float:
    """What PostgreSQL's percentile_cont answers: linear between the closest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def probe(url: str, minutes_ago: float, ok: bool = True, latency: float | None = 10.0) -> None:
    RelayProbe.objects.create(
        url=url,
        checked_at=NOW - timedelta(minutes=minutes_ago),
        ok=ok,
        latency_ms=latency,
        status_code=200 if ok else None,
        error="" if ok else "connection failed: [Errno 111] Connection refused",
    )


def test_check_relays_keeps_one_probe_per_relay_and_round(testnet: Testnet) -> None:
    call_command("check_relays", stdout=io.StringIO())
    call_command("check_relays", stdout=io.StringIO())

    for url in testnet.relay_urls:
        probes = list(RelayProbe.objects.filter(url=url.rstrip("/")))
        assert len(probes) == 2
        assert all(p.ok and p.latency_ms is not None and p.error == "" for p in probes)
        assert probes[0].checked_at < probes[1].checked_at


def test_a_failed_probe_is_kept_with_its_error() -> None:
    result = RelayResult(
        relay_url=A, ok=False, status=None, latency_ms=5001.0, error="read timed out"
    )
    relay_status_record(url=A, result=result, now=NOW)

    kept = RelayProbe.objects.get(url=A)
    assert (kept.ok, kept.status_code, kept.error) == (False, None, "read timed out")
    assert kept.checked_at == NOW
    assert kept.latency_ms == 5001.0


def test_probes_past_the_retention_are_pruned_by_the_checking_worker(
    testnet: Testnet, settings: Any
) -> None:
    settings.PUBKY_RELAY_HISTORY_DAYS = 2
    now = timezone.now()
    old = RelayProbe.objects.create(url=A, checked_at=now - timedelta(days=2, minutes=1), ok=True)
    recent = RelayProbe.objects.create(url=A, checked_at=now - timedelta(days=1), ok=True)

    call_command("check_relays", stdout=io.StringIO())

    assert not RelayProbe.objects.filter(pk=old.pk).exists()
    assert RelayProbe.objects.filter(pk=recent.pk).exists()
    assert RelayProbe.objects.filter(url__in=[u.rstrip("/") for u in testnet.relay_urls]).count()


def test_pruning_refuses_a_retention_under_one_day() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        relay_probes_prune(days=0)


def test_uptime_and_latency_percentiles_are_computed_over_the_window() -> None:
    latencies = [12.0, 15.0, 11.0, 80.0, 14.0, 13.0, 250.0, 16.0]
    for i, latency in enumerate(latencies):
        probe(A, minutes_ago=60 * i + 5, latency=latency)
    probe(A, minutes_ago=30, ok=False, latency=5000.0)  # a timeout is no latency sample
    probe(A, minutes_ago=90, ok=False, latency=5000.0)
    probe(A, minutes_ago=60 * 25)  # before the window
    probe(B, minutes_ago=10, latency=40.0)

    a, b = relay_history(
        since=NOW - timedelta(hours=24), until=NOW, bucket=timedelta(hours=1), urls=[A, B]
    )

    assert a.url == A
    assert (a.checks, a.up) == (10, 8)
    assert a.uptime_percent == 80.0
    assert a.p50_ms == pytest.approx(interpolated(latencies, 0.5))
    assert a.p95_ms == pytest.approx(interpolated(latencies, 0.95), abs=0.01)
    assert (b.checks, b.up, b.uptime_percent, b.p50_ms) == (1, 1, 100.0, 40.0)


def test_buckets_start_at_the_window_and_leave_out_hours_without_probes() -> None:
    probe(A, minutes_ago=5, latency=10.0)
    probe(A, minutes_ago=20, ok=False, latency=None)
    probe(A, minutes_ago=50, latency=30.0)
    probe(A, minutes_ago=60 * 5 + 1, latency=20.0)

    (a,) = relay_history(
        since=NOW - timedelta(hours=6), until=NOW, bucket=timedelta(hours=1), urls=[A]
    )

    assert [b.start for b in a.buckets] == [NOW - timedelta(hours=6), NOW - timedelta(hours=1)]
    first, last = a.buckets
    assert (first.checks, first.up, first.p50_ms) == (1, 1, 20.0)
    assert (last.checks, last.up, last.uptime_percent) == (3, 2, pytest.approx(66.67))
    assert last.p50_ms == 20.0 and last.p95_ms == pytest.approx(29.0)


def test_a_configured_relay_never_probed_has_unknown_uptime_not_zero(settings: Any) -> None:
    settings.PUBKY_RELAYS = [A + "/"]
    probe(B, minutes_ago=5)  # not configured: not reported

    (a,) = relay_history(since=NOW - timedelta(hours=1), until=NOW, bucket=timedelta(minutes=5))

    assert (a.url, a.checks, a.uptime_percent, a.p50_ms, a.buckets) == (A, 0, None, None, [])


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="end after it starts"):
        relay_history(since=NOW, until=NOW, bucket=timedelta(hours=1), urls=[A])


def test_the_history_api_answers_uptime_and_percentiles_of_the_last_day(settings: Any) -> None:
    settings.PUBKY_RELAYS = [A]
    now = timezone.now()
    for minutes, ok, latency in [(5, True, 10.0), (65, True, 30.0), (125, False, None)]:
        RelayProbe.objects.create(
            url=A, checked_at=now - timedelta(minutes=minutes), ok=ok, latency_ms=latency
        )
    RelayProbe.objects.create(url=A, checked_at=now - timedelta(hours=30), ok=False)

    response = APIClient().get("/api/relays/history/")

    assert response.status_code == 200
    body = response.json()
    assert body["bucket_seconds"] == 3600
    (relay,) = body["relays"]
    assert relay["url"] == A
    assert (relay["checks"], relay["up"]) == (3, 2)
    assert relay["uptime_percent"] == pytest.approx(66.67)
    assert (relay["p50_ms"], relay["p95_ms"]) == (20.0, 29.0)
    assert len(relay["buckets"]) == 3
    assert [b["up"] for b in relay["buckets"]] == [0, 1, 1]


@pytest.mark.parametrize("hours", ["0", "745", "a day"])
def test_the_history_api_refuses_a_window_it_cannot_answer(hours: str) -> None:
    response = APIClient().get("/api/relays/history/", {"hours": hours})
    assert response.status_code == 400
    assert "hours" in response.json()
