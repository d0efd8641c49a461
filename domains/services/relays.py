"""Relay health: probe every PKARR relay we depend on and record up/down transitions.

Only the configured relays (``PUBKY_RELAYS``) are checked; the status of a relay that left the
configuration is retired (kept as history, never shown or alerted about). A relay is probed
with a GET of a well-known key (200 or 404 = healthy). Each probe updates
its :class:`RelayStatus` row; a *transition* (first seen down, down → up, up → down) is also
written to the security audit trail (``relay_down``/``relay_up``) and announced
(``domains.signals.relay_transition``) with every family that has an active Pubky domain on
that relay, whose guardians are told, because an outage lowers how censorship-resistant
their domains are. Steady states write only the status
row, so a relay that stays down does not flood anybody.

Every probe is also kept as a :class:`RelayProbe` row (uptime and latency history); every
round prunes the probes older than ``PUBKY_RELAY_HISTORY_DAYS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from domains.models import PkarrRecord, PubkyDomainStatus, RelayProbe, RelayStatus
from domains.selectors import relay_urls_configured
from domains.signals import announce_relay_transition
from families.models import SecurityEventKind
from families.security import security_event_record
from pubky.relay_client import RelayResult
from pubkyproject.pubky_client import PubkyClient, pubky_client

__all__ = [
    "RelayCheck",
    "relay_families_affected",
    "relay_probes_prune",
    "relay_status_record",
    "relay_statuses_check",
    "relay_statuses_retire",
    "relay_urls_to_check",
]

UP = "up"
DOWN = "down"


@dataclass(frozen=True)
class RelayCheck:
    """One probe and what it changed; ``transition`` is ``"up"``, ``"down"`` or ``None``."""

    url: str
    result: RelayResult
    status: RelayStatus
    transition: str | None
    notified_families: int = 0


def relay_urls_to_check() -> list[str]:
    """The configured relays (``PUBKY_RELAYS``): the ones this deployment publishes to.

    A relay a domain was published to earlier but that is no longer configured is not
    republished to (``republish_pkarr`` follows ``PUBKY_RELAYS``), so it is not checked either:
    its outage is nobody's concern, and its status row is retired.
    """
    return relay_urls_configured()


@transaction.atomic
def relay_statuses_retire(*, keep: Sequence[str], now: datetime | None = None) -> int:
    """Retire the status of every relay not in ``keep`` (the configured ones); return how many.

    A retired relay is no longer shown (API, dashboard, ``relays`` subscription, metrics) and
    never alerted about. It comes back with its history if it is configured again.
    """
    urls = [url.rstrip("/") for url in keep]
    stale = RelayStatus.objects.filter(retired_at__isnull=True).exclude(url__in=urls)
    return stale.update(retired_at=now or timezone.now())


def relay_probes_prune(*, now: datetime | None = None, days: int | None = None) -> int:
    """Delete the probes older than ``days`` (``PUBKY_RELAY_HISTORY_DAYS``); return how many."""
    days = settings.PUBKY_RELAY_HISTORY_DAYS if days is None else days
    if days < 1:
        raise ValueError(f"relay history must be kept at least 1 day, not {days}")
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = RelayProbe.objects.filter(checked_at__lt=cutoff).delete()
    return deleted


def relay_families_affected(url: str) -> dict[int, list[str]]:
    """Family id → names of its active Pubky domains published on ``url`` (by name)."""
    affected: dict[int, list[str]] = {}
    rows = (
        PkarrRecord.objects.filter(relay_url=url, pubky_domain__status=PubkyDomainStatus.ACTIVE)
        .values_list("pubky_domain__family_id", "pubky_domain__name")
        .order_by("pubky_domain__family_id", "pubky_domain__name")
    )
    for family_id, name in rows:
        affected.setdefault(family_id, []).append(name)
    return affected


@transaction.atomic
def relay_status_record(
    *, url: str, result: RelayResult, now: datetime | None = None
) -> RelayCheck:
    """Store one probe result for ``url`` and act on an up/down transition."""
    now = now or timezone.now()
    url = url.rstrip("/")
    status = RelayStatus.objects.select_for_update().filter(url=url).first()
    if status is None:
        status = RelayStatus(url=url)
    previous = status.is_up
    status.is_up = result.ok
    status.latency_ms = result.latency_ms
    status.last_status_code = result.status
    status.last_error = "" if result.ok else (result.error or f"HTTP {result.status}")[:2000]
    status.consecutive_failures = 0 if result.ok else status.consecutive_failures + 1
    status.last_checked_at = now
    status.retired_at = None
    transition: str | None = None
    if not result.ok and previous is not False:
        transition = DOWN
    elif result.ok and previous is False:
        transition = UP
    if transition is not None or previous is None:
        status.last_changed_at = now
    status.full_clean()
    status.save()
    RelayProbe.objects.create(
        url=url,
        checked_at=now,
        ok=result.ok,
        latency_ms=result.latency_ms,
        status_code=result.status,
        error=status.last_error,
    )
    notified = 0
    if transition is not None:
        security_event_record(
            kind=SecurityEventKind.RELAY_DOWN if transition == DOWN else SecurityEventKind.RELAY_UP,
            target=url,
            detail={
                "status": result.status,
                "error": result.error or "",
                "latency_ms": result.latency_ms,
                "consecutive_failures": status.consecutive_failures,
            },
        )
        affected = relay_families_affected(url)
        announce_relay_transition(url=url, transition=transition, result=result, affected=affected)
        notified = len(affected)
    return RelayCheck(
        url=url, result=result, status=status, transition=transition, notified_families=notified
    )


def relay_statuses_check(
    *, relay_urls: Sequence[str] | None = None, client: PubkyClient | None = None
) -> list[RelayCheck]:
    """Probe every relay concurrently (no transaction open), then record each result."""
    client = client or pubky_client()
    urls = list(relay_urls) if relay_urls is not None else relay_urls_to_check()
    now = timezone.now()
    if relay_urls is None:
        # A full round: whatever is not configured any more is retired, not reported down.
        relay_statuses_retire(keep=urls, now=now)
    relay_probes_prune(now=now)  # every round: the history past its retention goes
    if not urls:
        return []
    results = client.check_relays(urls)
    return [relay_status_record(url=r.relay_url, result=r, now=now) for r in results]
