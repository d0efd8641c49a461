"""The API's reads of domains: every list is scoped by the one access policy.

(``domains.selectors`` holds the score facts the services use; these are the listing queries.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from domains.guardianship import guardianship
from domains.models import (
    DnsRecord,
    DomainMigration,
    DomainRecord,
    PkarrRecord,
    PubkyDomain,
    RelayStatus,
    SovereigntyScore,
)
from domains.rubric import RUBRIC_VERSION, explain, score
from domains.selectors import fact_verifications, facts_of, relay_statuses_active
from families.models import User
from families.selectors import ordered
from pubkyproject import policy
from pubkyproject.event_types import SovereigntyScore as SovereigntyScoreObject
from pubkyproject.event_types import sovereignty_score_object
from pubkyproject.pubky_client import PubkyClient, pubky_client

Who = policy.Principal | User | AnonymousUser | None


def domains_list(
    *,
    who: Who,
    family: int | None = None,
    status: str | None = None,
    visibility: str | None = None,
    pubky_enabled: bool | None = None,
    search: str | None = None,
    ordering: str | None = None,
) -> QuerySet[DomainRecord]:
    queryset = policy.scope(who, DomainRecord.objects.select_related("owner", "pubky_domain"))
    if family is not None:
        queryset = queryset.filter(family_id=family)
    if status:
        queryset = queryset.filter(status=status)
    if visibility:
        queryset = queryset.filter(visibility=visibility)
    if pubky_enabled is not None:
        queryset = queryset.filter(pubky_enabled=pubky_enabled)
    if search:
        queryset = queryset.filter(name__icontains=search)
    return ordered(queryset, ordering, "name")


def dns_records_list(
    *,
    domain: DomainRecord,
    type: str | None = None,
    name: str | None = None,
    ordering: str | None = None,
) -> QuerySet[DnsRecord]:
    """The DNS records of a domain the caller may read (checked by the caller)."""
    queryset = DnsRecord.objects.filter(domain=domain)
    if type:
        queryset = queryset.filter(rtype=type)
    if name:
        queryset = queryset.filter(name=name)
    mapped = {"type": "rtype", "-type": "-rtype"}.get(ordering or "", ordering)
    return ordered(queryset, mapped, "name")


def pubky_domains_list(
    *,
    who: Who,
    family: int | None = None,
    status: str | None = None,
    key_custody: str | None = None,
    search: str | None = None,
    ordering: str | None = None,
) -> QuerySet[PubkyDomain]:
    queryset = policy.scope(who, PubkyDomain.objects.all())
    if family is not None:
        queryset = queryset.filter(family_id=family)
    if status:
        queryset = queryset.filter(status=status)
    if key_custody:
        queryset = queryset.filter(key_custody=key_custody)
    if search:
        queryset = queryset.filter(Q(name__icontains=search) | Q(public_key__icontains=search))
    return ordered(queryset, ordering, "name")


def pkarr_records_list(
    *, pubky_domain: PubkyDomain, status: str | None = None
) -> QuerySet[PkarrRecord]:
    queryset = PkarrRecord.objects.filter(pubky_domain=pubky_domain)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("relay_url", "pk")


def _with_approvals(queryset: QuerySet[DomainMigration]) -> QuerySet[DomainMigration]:
    return queryset.select_related("created_by").prefetch_related(
        guardianship().approvals_prefetch()
    )


def migrations_list(
    *,
    who: Who,
    domain: int | None = None,
    family: int | None = None,
    state: str | None = None,
    direction: str | None = None,
    ordering: str | None = None,
) -> QuerySet[DomainMigration]:
    queryset = _with_approvals(policy.scope(who, DomainMigration.objects.all()))
    if domain is not None:
        queryset = queryset.filter(domain_id=domain)
    if family is not None:
        queryset = queryset.filter(domain__family_id=family)
    if state:
        queryset = queryset.filter(state=state)
    if direction:
        queryset = queryset.filter(direction=direction)
    return ordered(queryset, ordering, "-created_at")


def migration_queryset() -> QuerySet[DomainMigration]:
    """Migrations with what their output shows (for one-object fetches)."""
    return _with_approvals(DomainMigration.objects.select_related("domain"))


def score_history_list(
    *,
    domain: DomainRecord,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[SovereigntyScore]:
    queryset = SovereigntyScore.objects.filter(domain=domain)
    if since is not None:
        queryset = queryset.filter(calculated_at__gte=since)
    if until is not None:
        queryset = queryset.filter(calculated_at__lt=until)
    return queryset.order_by("-calculated_at", "-pk")


def current_score(*, domain: DomainRecord) -> SovereigntyScoreObject:
    """The domain's score from its stored facts now, explained (read only: nothing is stored).

    The same object the WebSocket ``pubky_sovereignty_score`` reply carries.
    """
    result = score(facts_of(domain))
    latest = (
        SovereigntyScore.objects.filter(domain=domain)
        .order_by("-calculated_at", "-pk")
        .values_list("calculated_at", flat=True)
        .first()
    )
    return sovereignty_score_object(
        domain_id=domain.pk,
        total=result.total,
        components=result.components,
        rubric_version=RUBRIC_VERSION,
        calculated_at=latest,
        explanation=explain(result.breakdown, fact_verifications(domain)),
    )


def relay_statuses() -> list[RelayStatus]:
    """Every configured relay with its last check (relays no longer configured are retired)."""
    return relay_statuses_active()


@dataclass(frozen=True)
class ResolvedRecord:
    name: str
    type: str
    value: str
    ttl: int


@dataclass(frozen=True)
class RelayAnswer:
    relay_url: str
    ok: bool
    status: int | None
    latency_ms: float
    error: str
    packet_timestamp: int | None


@dataclass(frozen=True)
class Resolution:
    public_key: str
    found: bool
    timestamp: int | None
    records: list[ResolvedRecord]
    relays: list[RelayAnswer]


def pubky_domain_resolve(
    *, pubky_domain: PubkyDomain, client: PubkyClient | None = None
) -> Resolution:
    """What the relays serve for the domain's key now: the newest valid packet's records."""
    client = client or pubky_client()
    report = client.resolve_report(pubky_domain.public_key)
    packet = report.packet
    records = [
        ResolvedRecord(r.name, r.rtype, r.text() if r.rtype == "TXT" else r.value, r.ttl)
        for r in (packet.records() if packet is not None else [])
    ]
    relays = [
        RelayAnswer(
            relay_url=r.relay_url,
            ok=r.ok,
            status=r.status,
            latency_ms=r.latency_ms,
            error=r.error or "",
            packet_timestamp=r.packet.timestamp if r.packet is not None else None,
        )
        for r in report.results
    ]
    return Resolution(
        public_key=pubky_domain.public_key,
        found=packet is not None,
        timestamp=packet.timestamp if packet is not None else None,
        records=records,
        relays=relays,
    )
