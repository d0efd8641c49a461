"""Usage counters of Pubky domains: resolves, publishes and republishes per hour.

The counts feed the per-domain activity chart of the dashboard. One upsert per use: the
row of the (domain, kind, hour) is created or incremented in one statement, so concurrent
workers never lose a count and never collide on the unique constraint.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.utils import timezone

from domains.models import PubkyDomain, UsageKind

__all__ = ["pubky_domain_usage_record", "usage_kind_for_publish"]

_UPSERT = """
INSERT INTO pubky_domain_usage AS u (pubky_domain_id, kind, hour, count, failures)
VALUES (%s, %s, date_trunc('hour', %s::timestamptz, 'UTC'), 1, %s)
ON CONFLICT (pubky_domain_id, kind, hour)
DO UPDATE SET count = u.count + 1, failures = u.failures + EXCLUDED.failures
"""


def usage_kind_for_publish(reason: str) -> UsageKind:
    """The hourly keep-alive (``pkarr_republished``) is a republish; anything else a publish."""
    return UsageKind.REPUBLISH if reason == "pkarr_republished" else UsageKind.PUBLISH


def pubky_domain_usage_record(
    *,
    pubky_domain: PubkyDomain,
    kind: UsageKind | str,
    ok: bool = True,
    at: datetime | None = None,
) -> None:
    """Count one use of ``pubky_domain`` in the hour of ``at`` (now by default)."""
    kind = UsageKind(kind)
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise ValueError("usage times must be timezone-aware")
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [pubky_domain.pk, kind.value, at, 0 if ok else 1])
