"""Reads for the domains app."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from domains.models import (
    SCORE_COMPONENTS,
    DnsRecord,
    DomainMigration,
    DomainRecord,
    MigrationDirection,
    MigrationState,
    PkarrPublishStatus,
    PkarrRecord,
    PubkyDomainStatus,
    RelayStatus,
    SovereigntyScore,
)
from domains.scoring import DomainFacts
from families.models import Visibility
from pubkyproject.sql import int_array


class SubqueryCount(Subquery):
    """``(SELECT count(*) FROM (<subquery>))``: a correlated count without join fan-out."""

    template = "(SELECT count(*) FROM (%(subquery)s) _count)"
    output_field = IntegerField()

    def get_db_converters(self, connection: BaseDatabaseWrapper) -> list[Any]:
        # count(*) is a bigint, which psycopg already returns as int: skip the per-row int().
        return []


def _count(queryset: QuerySet) -> SubqueryCount:
    return SubqueryCount(queryset.order_by().values("pk"))


def domains_with_score_facts(queryset: QuerySet[DomainRecord]) -> QuerySet[DomainRecord]:
    """Annotate every fact the rubric needs, in one query however many domains."""
    from guardians.models import BackupStatus, FederationGuardian, GuardianStatus

    now = timezone.now()
    published = PkarrRecord.objects.filter(
        pubky_domain__domain_id=OuterRef("pk"), status=PkarrPublishStatus.PUBLISHED
    ).filter(Q(expires_at=None) | Q(expires_at__gt=now))
    return queryset.annotate(
        f_pubky_status=Coalesce("pubky_domain__status", Value("")),
        f_key_custody=Coalesce("pubky_domain__key_custody", Value("")),
        f_relays=_count(published),
        f_dns=_count(DnsRecord.objects.filter(domain_id=OuterRef("pk"))),
        f_backup=Exists(
            FederationGuardian.objects.filter(
                family_id=OuterRef("family_id"),
                status=GuardianStatus.ACTIVE,
                pubky_backup_status=BackupStatus.CURRENT,
            )
        ),
        f_migrated=Exists(
            DomainMigration.objects.filter(
                domain_id=OuterRef("pk"),
                direction=MigrationDirection.DNS_TO_PUBKY,
                state=MigrationState.COMPLETED,
            )
        ),
    )


_FACT_COLUMNS = (
    "pk",
    "f_pubky_status",
    "f_key_custody",
    "f_relays",
    "self_hosted_homeserver",
    "visibility",
    "registrar",
    "f_migrated",
    "f_backup",
    "f_dns",
)


def domain_facts(queryset: QuerySet[DomainRecord]) -> list[tuple[int, DomainFacts]]:
    """``(id, facts)`` for every domain of ``queryset``, in one query, in its order.

    Rows come back as tuples, not model instances (``recalculate_scores`` reads 100,000), and
    domains with the same facts share one ``DomainFacts`` object (a batch holds only a few
    dozen distinct combinations), so the rubric's cache answers at once.
    """
    shared: dict[tuple[object, ...], DomainFacts] = {}
    result = []
    for pk, *values in domains_with_score_facts(queryset).values_list(*_FACT_COLUMNS):
        key = tuple(values)
        facts = shared.get(key)
        if facts is None:
            status, custody, relays, self_hosted, visibility, registrar, migrated, backup, dns = (
                values
            )
            facts = shared[key] = DomainFacts(
                pubky_active=status == PubkyDomainStatus.ACTIVE,
                key_custody=custody or None,
                relays_published=relays,
                self_hosted_homeserver=self_hosted,
                private=visibility == Visibility.PRIVATE,
                has_registrar=bool(registrar),
                migrated_to_pubky=migrated,
                guardian_backup_current=backup,
                dns_record_count=dns,
            )
        result.append((pk, facts))
    return result


def facts_of(domain: DomainRecord) -> DomainFacts:
    """One domain's facts as stored now (one query)."""
    ((_, facts),) = domain_facts(DomainRecord.objects.filter(pk=domain.pk))
    return facts


def latest_scores(domain_ids: list[int]) -> dict[int, tuple[int, ...]]:
    """The components of each domain's latest stored score (one query).

    One index probe per domain (``LATERAL … LIMIT 1`` on ``score_history``), so the cost does
    not grow with the length of the history.
    """
    if not domain_ids:
        return {}
    columns = ", ".join(f"s.{name}" for name in SCORE_COMPONENTS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT d.id, {columns}
              FROM unnest(%s::bigint[]) AS d(id)
              CROSS JOIN LATERAL (
                  SELECT * FROM sovereignty_scores
                   WHERE domain_id = d.id
                   ORDER BY calculated_at DESC, id DESC
                   LIMIT 1
              ) AS s
            """,  # noqa: S608 - column names come from SCORE_COMPONENTS, not from input
            [int_array(domain_ids)],
        )
        return {row[0]: tuple(row[1:]) for row in cursor.fetchall()}


def score_history(domain: DomainRecord, *, limit: int = 100) -> QuerySet[SovereigntyScore]:
    return domain.sovereignty_scores.order_by("-calculated_at", "-id")[:limit]


def relay_urls_configured() -> list[str]:
    """The relays this deployment publishes to and watches (``PUBKY_RELAYS``), normalised."""
    return list(dict.fromkeys(url.rstrip("/") for url in settings.PUBKY_RELAYS))


def relay_statuses_active() -> list[RelayStatus]:
    """The status of every configured relay, by URL (unsaved and unknown until first checked).

    Rows of relays no longer configured are retired history: never shown, never counted.
    """
    urls = relay_urls_configured()
    rows = {row.url: row for row in RelayStatus.objects.filter(url__in=urls)}
    return [rows.get(url) or RelayStatus(url=url) for url in sorted(urls)]
