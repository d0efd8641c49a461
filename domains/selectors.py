"""Reads for the domains app."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from domains.guardianship import guardianship
from domains.models import (
    SCORE_COMPONENTS,
    DnsRecord,
    DomainMigration,
    DomainRecord,
    KeyCustody,
    MigrationDirection,
    MigrationState,
    PkarrPublishStatus,
    PkarrRecord,
    PubkyDomain,
    PubkyDomainStatus,
    RelayStatus,
    SovereigntyScore,
)
from domains.rubric import DomainFacts
from families.models import KeyVerification, Visibility
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
    now = timezone.now()
    # A relay counts while the copy it last served (on publish, or when verify_facts asked it)
    # is the domain's current packet and that copy has not outlived its lifetime.
    serving = (
        PkarrRecord.objects.filter(
            pubky_domain__domain_id=OuterRef("pk"),
            status=PkarrPublishStatus.PUBLISHED,
            served_timestamp__isnull=False,
        )
        .filter(Q(expires_at=None) | Q(expires_at__gt=now))
        .filter(
            Q(pubky_domain__last_packet_timestamp=None)
            | Q(served_timestamp__gte=F("pubky_domain__last_packet_timestamp"))
        )
    )
    return queryset.annotate(
        f_pubky_status=Coalesce("pubky_domain__status", Value("")),
        f_key_custody=Coalesce("pubky_domain__key_custody", Value("")),
        f_key_verification=Coalesce("pubky_domain__key_verification", Value("")),
        f_relays=_count(serving),
        f_dns=_count(DnsRecord.objects.filter(domain_id=OuterRef("pk"))),
        # A guardian's backup counts once verify_facts saw it (the guardians decide).
        f_backup=guardianship().verified_backup_exists(family=OuterRef("family_id")),
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
    "f_key_verification",
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
            (
                status,
                custody,
                verification,
                relays,
                self_hosted,
                visibility,
                registrar,
                migrated,
                backup,
                dns,
            ) = values
            facts = shared[key] = DomainFacts(
                pubky_active=status == PubkyDomainStatus.ACTIVE,
                key_custody=custody or None,
                key_proven=verification in (KeyVerification.HELD, KeyVerification.PROVEN),
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


def fact_verifications(domain: DomainRecord) -> dict[str, dict[str, Any]]:
    """How each fact of ``domain``'s score is known now: ``{fact: {verified, verified_at, how}}``.

    ``verified`` is true when this service checked the fact itself rather than taking the
    family's word for it; ``verified_at`` is when (ISO 8601), where a check has a time.
    """

    def entry(verified: bool, at: Any, how: str) -> dict[str, Any]:
        return {"verified": verified, "verified_at": at.isoformat() if at else None, "how": how}

    pubky = PubkyDomain.objects.filter(domain=domain).first()
    if pubky is None:
        key = entry(False, None, "no Pubky key")
        pubky_entry = entry(True, None, "no Pubky domain")
    elif pubky.key_custody == KeyCustody.SERVICE:
        key = entry(True, pubky.created_at, "generated and sealed by this service")
        pubky_entry = entry(True, pubky.last_published_at, "relays accepted the packet")
    else:
        proven = pubky.key_verification == KeyVerification.PROVEN
        how = "proven by its holder (pubkyauth)" if proven else "claimed, never proven"
        key = entry(proven, pubky.key_proven_at, how)
        pubky_entry = entry(True, pubky.last_published_at, "relays accepted the packet")
    relay_checked = (
        PkarrRecord.objects.filter(pubky_domain__domain=domain)
        .order_by("-verified_at")
        .values_list("verified_at", flat=True)
        .first()
    )
    backup_checked = guardianship().backup_verified_at(family_id=domain.family_id)
    return {
        "pubky": pubky_entry,
        "key": key,
        "relays": entry(True, relay_checked, "what each relay serves (GET), not what we sent"),
        "self_hosted": entry(
            domain.self_hosted_verified_at is not None,
            domain.self_hosted_verified_at,
            "the served packet's _pubky points at the family's proven homeserver key",
        ),
        "backup": entry(
            backup_checked is not None,
            backup_checked,
            "the backup URL answered on its homeserver, newer than the key's last rotation",
        ),
        "registrar": entry(False, None, "as entered by the family"),
        "visibility": entry(True, None, "this service's own setting"),
        "dns_records": entry(True, None, "stored by this service"),
    }


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
