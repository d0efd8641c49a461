"""Scores follow their facts: a durable, debounced queue of domains to recalculate.

Every table the rubric reads has PostgreSQL triggers (``domains/migrations/0004``) that queue
the ids of the domains a written row concerns in ``domain_rescore_queue`` and ``NOTIFY
pubky_rescore``, whoever wrote it: a service's ORM save, a bulk ``update()``, raw SQL from
another program. Which domains a row concerns:

==========================  ===============================================================
table                       domains queued
==========================  ===============================================================
``domain_records``          the domain itself (not when only its stored score changed)
``dns_records``             the record's domain
``pubky_domains``           the Pubky domain's domain
``pkarr_records``           the domain of the Pubky domain the relay copy belongs to
``domain_migrations``       the migrated domain
``federation_guardians``    every domain of the guardian's family
``families``                every domain of the family
``relay_statuses``          every domain with a copy on the relay (when it goes up or down)
==========================  ===============================================================

Other code asks for a rescore with :func:`domain_rescore_request` (one entry point, for
facts that live outside these tables, e.g. key proofs); relay copies that expire (a fact that
changes with no write) are queued by :func:`domain_rescores_request_expired` on every poll
of the bridge. Requests are claimed by
:func:`domain_rescores_process`, which ``manage.py pubky_listen`` runs: only once the oldest
request of a domain is ``RESCORE_DEBOUNCE_SECONDS`` old, and then together with every later
request of that domain, so a burst of changes gives one recalculation per domain. The claim
deletes the requests in the transaction that stores the new scores and publishes their live
events (``pubky_sovereignty_score``), so a crash loses nothing and a request is served once.
A score that did not change stores and publishes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from domains.models import DomainRecord, PkarrPublishStatus, PkarrRecord
from domains.selectors import domain_facts
from domains.services.scoring import _recalculate_batch
from pubkyproject.sql import int_array

__all__ = [
    "EXPIRED_COPIES_LOOKBACK",
    "RESCORE_CHANNEL",
    "RescoreReport",
    "domain_rescore_request",
    "domain_rescores_pending_in",
    "domain_rescores_process",
    "domain_rescores_request_expired",
    "family_rescore_request",
]

RESCORE_CHANNEL = "pubky_rescore"
# How far back the bridge looks for expired relay copies when it starts: a copy lives two
# hours (``domains.services.publishing.RELAY_COPY_LIFETIME``), so nothing older matters.
EXPIRED_COPIES_LOOKBACK = timedelta(hours=2)

# The domains claimed: due ones (their oldest request is older than the debounce), locked
# without waiting (a domain being written now is claimed on the next round), with every
# request queued for them so far, due or not: one recalculation answers them all.
_CLAIM = """
WITH due AS (
    SELECT domain_id FROM domain_rescore_queue
     GROUP BY domain_id
    HAVING min(requested_at) <= now() - make_interval(secs => %s)
     ORDER BY min(requested_at)
     LIMIT %s
), locked AS (
    SELECT id FROM domain_records
     WHERE id IN (SELECT domain_id FROM due)
     ORDER BY id
       FOR UPDATE SKIP LOCKED
)
DELETE FROM domain_rescore_queue
 WHERE domain_id IN (SELECT id FROM locked)
RETURNING domain_id, reason
"""

# Requests for domains deleted since they were queued.
_DROP_ORPHANS = """
DELETE FROM domain_rescore_queue q
 WHERE q.requested_at <= now() - make_interval(secs => %s)
   AND NOT EXISTS (SELECT 1 FROM domain_records d WHERE d.id = q.domain_id)
"""

_NEXT_DUE = """
SELECT CASE WHEN min(requested_at) IS NOT NULL THEN greatest(
           0, extract(epoch FROM min(requested_at) + make_interval(secs => %s) - now())
       ) END
  FROM domain_rescore_queue
"""


@dataclass
class RescoreReport:
    """What one :func:`domain_rescores_process` call did."""

    requests: int = 0  # queue rows claimed
    domains: int = 0  # domains recalculated (once each)
    changed: int = 0  # of which the score changed (stored and published)
    dropped: int = 0  # requests for domains that no longer exist


def domain_rescore_request(*, domain_ids: Iterable[int], reason: str) -> int:
    """Queue a recalculation of ``domain_ids`` (deduplicated) and wake the bridge.

    Joins the caller's transaction: the request is durable once it commits, and nothing is
    queued for a rolled-back change. ``reason`` (63 characters at most) ends up in the
    score's ``reason``. Returns how many domains were queued.
    """
    ids = sorted({int(pk) for pk in domain_ids})
    if not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pubky_rescore_request(%s::bigint[], %s)", [int_array(ids), reason])
    return len(ids)


def domain_rescores_request_expired(*, since: datetime, until: datetime) -> int:
    """Queue the domains whose relay copies expired in ``(since, until]``.

    A relay copy stops counting when it expires (``pkarr_records.expires_at``), a fact that
    changes with no write at all; the bridge calls this on every poll so such scores follow
    too (normally the hourly republish refreshes copies long before).
    """
    ids = (
        PkarrRecord.objects.filter(
            status=PkarrPublishStatus.PUBLISHED,
            expires_at__gt=since,
            expires_at__lte=until,
            pubky_domain__domain__isnull=False,
        )
        .values_list("pubky_domain__domain_id", flat=True)
        .distinct()
    )
    return domain_rescore_request(domain_ids=list(ids), reason="pkarr_records_expired")


def family_rescore_request(*, family_id: int, reason: str) -> int:
    """Queue every domain of a family (a family-wide fact changed)."""
    ids = DomainRecord.objects.filter(family_id=family_id).values_list("pk", flat=True)
    return domain_rescore_request(domain_ids=list(ids), reason=reason)


def domain_rescores_pending_in(*, debounce: float | None = None) -> float | None:
    """Seconds until the oldest queued request is due (0 when due now), ``None`` when empty."""
    wait = _debounce(debounce)
    with connection.cursor() as cursor:
        cursor.execute(_NEXT_DUE, [wait])
        (seconds,) = cursor.fetchone()
    return None if seconds is None else float(seconds)


def _debounce(value: float | None) -> float:
    seconds = settings.RESCORE_DEBOUNCE_SECONDS if value is None else value
    if seconds < 0:
        raise ValueError("the rescore debounce must not be negative")
    return float(seconds)


def _reason(reasons: set[str]) -> str:
    tables = sorted(r for r in reasons if r)
    text = "facts_changed:" + ",".join(tables) if tables else "facts_changed"
    return text[:100]


@transaction.atomic
def domain_rescores_process(*, debounce: float | None = None, limit: int = 500) -> RescoreReport:
    """Claim the due rescore requests (up to ``limit`` domains) and recalculate each domain once.

    One transaction: the claim, the new score rows, the domains' totals and the live events
    commit together. Domains are grouped by what changed so each score's ``reason`` names the
    tables (``facts_changed:dns_records,pubky_domains``).
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    wait = _debounce(debounce)
    report = RescoreReport()
    with connection.cursor() as cursor:
        cursor.execute(_DROP_ORPHANS, [wait])
        report.dropped = cursor.rowcount
        cursor.execute(_CLAIM, [wait, limit])
        claimed = cursor.fetchall()
    if not claimed:
        return report
    report.requests = len(claimed)
    reasons: dict[int, set[str]] = defaultdict(set)
    for domain_id, reason in claimed:
        reasons[domain_id].add(reason)
    groups: dict[str, list[int]] = defaultdict(list)
    for domain_id, why in reasons.items():
        groups[_reason(why)].append(domain_id)
    for reason, ids in sorted(groups.items()):
        batch = domain_facts(DomainRecord.objects.filter(pk__in=ids).order_by("pk"))
        domains, changed, _ = _recalculate_batch(batch, force=False, reason=reason)
        report.domains += domains
        report.changed += changed
    return report
