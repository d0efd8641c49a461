"""A domain's activity over time: live events, resolves, publishes and republishes per bucket.

Events are the outbox rows of the domain's own topics (its score, its Pubky domain, its
migrations), so they reach back only as far as the outbox keeps them
(``REALTIME["OUTBOX_RETENTION_SECONDS"]``); the answer says from when (``events_since``).
Resolves and publishes come from the hourly usage counters of its Pubky domain
(:mod:`domains.history_selectors`), kept for as long as the domain exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from domains.history_selectors import interval, pubky_domain_usage
from domains.models import DomainRecord, PubkyDomain
from realtime import topics

__all__ = ["ActivityBucket", "DomainActivity", "domain_activity", "domain_topics"]


@dataclass
class ActivityBucket:
    start: datetime
    events: int = 0
    resolves: int = 0
    publishes: int = 0
    republishes: int = 0
    failures: int = 0


@dataclass
class DomainActivity:
    domain_id: int
    since: datetime
    until: datetime
    bucket_seconds: int
    events_since: datetime
    buckets: list[ActivityBucket] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        names = ("events", "resolves", "publishes", "republishes", "failures")
        return {name: sum(getattr(b, name) for b in self.buckets) for name in names}


def domain_topics(domain: DomainRecord) -> list[str]:
    """The topics whose events are about ``domain`` alone (not its family's)."""
    names = [topics.sovereignty_score(domain.pk)]
    pubky = PubkyDomain.objects.filter(domain=domain).values_list("pk", flat=True).first()
    if pubky is not None:
        names.append(topics.pubky_domain(pubky))
    names += [topics.domain_migration(pk) for pk in domain.migrations.values_list("pk", flat=True)]
    return names


_EVENTS = """
SELECT date_bin(%s::interval, created_at, %s) AS start, count(*)
FROM realtime_outbox
WHERE topic = ANY(%s) AND created_at >= %s AND created_at < %s
GROUP BY start
"""


def domain_activity(
    *, domain: DomainRecord, hours: int, now: datetime | None = None
) -> DomainActivity:
    """The last ``hours`` (whole hours, ending with the current one) in about 24 buckets of
    whole hours each."""
    if hours < 1:
        raise ValueError("the activity window is at least one hour")
    now = now or timezone.now()
    until = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    since = until - timedelta(hours=hours)
    bucket = timedelta(hours=max(1, -(-hours // 24)))
    retention = timedelta(seconds=settings.REALTIME["OUTBOX_RETENTION_SECONDS"])
    buckets: dict[datetime, ActivityBucket] = {}

    def at(start: datetime) -> ActivityBucket:
        return buckets.setdefault(start, ActivityBucket(start=start))

    with connection.cursor() as cursor:
        cursor.execute(_EVENTS, [interval(bucket), since, domain_topics(domain), since, until])
        for start, count in cursor.fetchall():
            at(start).events = int(count)
    pubky = PubkyDomain.objects.filter(domain=domain).first()
    if pubky is not None:
        for usage in pubky_domain_usage(
            pubky_domain=pubky, since=since, until=until, bucket=bucket
        ):
            row = at(usage.start)
            row.resolves = usage.resolves
            row.publishes = usage.publishes
            row.republishes = usage.republishes
            row.failures = usage.failures
    return DomainActivity(
        domain_id=domain.pk,
        since=since,
        until=until,
        bucket_seconds=int(bucket.total_seconds()),
        events_since=max(since, now - retention),
        buckets=[buckets[start] for start in sorted(buckets)],
    )
