"""Sovereignty scores: the rubric, its history, and batched recalculation."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from domains.models import (
    DnsRecord,
    DomainMigration,
    PkarrRecord,
    PubkyDomain,
    SovereigntyScore,
)
from domains.rubric import COMPONENT_MAX, DomainFacts, explain, score
from domains.services.scoring import calculate_sovereignty_score, sovereignty_scores_recalculate
from tests.factories import DomainFactory, FamilyFactory, GuardianFactory

KEY_A = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"

REGISTRAR_ONLY = DomainFacts(
    pubky_active=False,
    key_custody=None,
    relays_published=0,
    self_hosted_homeserver=False,
    private=False,
    has_registrar=True,
    migrated_to_pubky=False,
    guardian_backup_current=False,
    dns_record_count=3,
)
FULLY_SOVEREIGN = DomainFacts(
    pubky_active=True,
    key_custody="family",
    relays_published=3,
    self_hosted_homeserver=True,
    private=True,
    has_registrar=False,
    migrated_to_pubky=True,
    guardian_backup_current=True,
    dns_record_count=3,
)


def test_a_registrar_only_domain_scores_low() -> None:
    result = score(REGISTRAR_ONLY)
    assert result.components == {
        "provider_independence": 0,
        "key_ownership": 0,
        "censorship_resistance": 2,
        "privacy": 0,
        "portability": 4,
    }
    assert result.total == 6


def test_a_fully_sovereign_domain_scores_100() -> None:
    result = score(FULLY_SOVEREIGN)
    assert all(points == COMPONENT_MAX for points in result.components.values())
    assert result.total == 100


@pytest.mark.parametrize(("relays", "points"), [(0, 0), (1, 8), (2, 14), (3, 20), (9, 20)])
def test_censorship_resistance_grows_with_relays(relays: int, points: int) -> None:
    facts = replace(FULLY_SOVEREIGN, relays_published=relays)
    assert score(facts).components["censorship_resistance"] == points


def test_service_custody_scores_below_self_custody() -> None:
    service = score(replace(FULLY_SOVEREIGN, key_custody="service"))
    assert service.components["key_ownership"] == 14
    no_key = score(replace(FULLY_SOVEREIGN, key_custody=None))
    assert no_key.components["key_ownership"] == 0  # a backup of no key is worth nothing


def test_the_breakdown_explains_every_point() -> None:
    result = score(replace(FULLY_SOVEREIGN, relays_published=2, private=False))
    explained = explain(result.breakdown)
    assert set(explained) == set(result.components)
    for name, detail in explained.items():
        assert detail["points"] == result.components[name]
        assert sum(rule["points"] for rule in detail["rules"]) >= detail["points"]
    privacy_rules = {r["rule"]: r["holds"] for r in explained["privacy"]["rules"]}
    assert privacy_rules["not listed publicly"] is False


def _statements(ctx: CaptureQueriesContext) -> int:
    """Queries sent, leaving out the savepoints the test transaction adds around batches."""
    return sum(
        not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT")) for q in ctx.captured_queries
    )


def _pubky(domain, *, relays: int, custody: str = "family") -> PubkyDomain:
    pubky_domain = PubkyDomain.objects.create(
        name=f"p-{domain.name}",
        family=domain.family,
        domain=domain,
        public_key=KEY_A,
        key_custody=custody,
        key_verification="proven" if custody == "family" else "held",
        status="active",
    )
    for i in range(relays):
        PkarrRecord.objects.create(
            pubky_domain=pubky_domain,
            relay_url=f"http://127.0.0.1:{15411 + i}",
            status="published",
            served_timestamp=1,
        )
    return pubky_domain


@pytest.mark.django_db
def test_it_scores_from_stored_facts_and_keeps_history() -> None:
    domain = DomainFactory(registrar="Registrar Inc.")
    DnsRecord.objects.create(domain=domain, rtype="A", value="192.0.2.1")
    first = calculate_sovereignty_score(domain=domain, reason="created")
    # registrar DNS only (2) + private (6) + DNS records stored (4)
    assert first.total == 12
    domain.refresh_from_db()
    assert domain.sovereignty_score == 12
    # Unchanged facts add no history row.
    assert calculate_sovereignty_score(domain=domain).pk == first.pk
    _pubky(domain, relays=2)
    DomainMigration.objects.create(domain=domain, direction="dns_to_pubky", state="completed")
    GuardianFactory(
        family=domain.family,
        pubky_backup_status="current",
        pubky_backup_verified_at=timezone.now(),
    )
    second = calculate_sovereignty_score(domain=domain, reason="published")
    assert second.pk != first.pk
    assert second.components["censorship_resistance"] == 14
    assert second.components["key_ownership"] == 20
    assert second.breakdown["facts"]["relays_published"] == 2
    domain.refresh_from_db()
    assert domain.sovereignty_score == second.total
    history = list(domain.sovereignty_scores.order_by("calculated_at", "id"))
    assert [s.reason for s in history] == ["created", "published"]


@pytest.mark.django_db
def test_failed_and_expired_publishes_do_not_count() -> None:
    domain = DomainFactory()
    pubky_domain = _pubky(domain, relays=1)
    PkarrRecord.objects.create(
        pubky_domain=pubky_domain, relay_url="http://127.0.0.1:9", status="failed"
    )
    PkarrRecord.objects.create(
        pubky_domain=pubky_domain,
        relay_url="http://127.0.0.1:10",
        status="published",
        served_timestamp=1,
        expires_at=timezone.now() - timezone.timedelta(seconds=1),
    )
    result = calculate_sovereignty_score(domain=domain)
    assert result.breakdown["facts"]["relays_published"] == 1


@pytest.mark.django_db
def test_batched_recalculation_runs_a_bounded_number_of_queries() -> None:
    family = FamilyFactory()
    for _ in range(23):
        DomainFactory(family=family)
    with CaptureQueriesContext(connection) as ctx:
        report = sovereignty_scores_recalculate(batch_size=5)
    assert (report.domains, report.batches, report.changed) == (23, 5, 23)
    # facts, latest, update, event seqs and ids per batch (the two COPYs bypass the wrapper),
    # plus the final empty fetch
    assert _statements(ctx) == 5 * 5 + 1
    assert report.statements == 7 * 5 + 1
    assert SovereigntyScore.objects.count() == 23
    with CaptureQueriesContext(connection) as ctx:
        report = sovereignty_scores_recalculate(batch_size=5)
    assert report.changed == 0
    assert _statements(ctx) == 2 * 5 + 1
    assert SovereigntyScore.objects.count() == 23


@pytest.mark.django_db
def test_bulk_recalculation_publishes_changed_scores_live() -> None:
    from realtime.models import OutboxEvent

    first, second = DomainFactory(), DomainFactory()
    sovereignty_scores_recalculate()
    events = OutboxEvent.objects.filter(type="pubky_sovereignty_score").order_by("id")
    assert [e.topic for e in events] == [
        f"sovereigntyScore.{first.pk}",
        f"sovereigntyScore.{second.pk}",
    ]
    assert events[0].payload["sovereignty_score"] == first.sovereignty_scores.get().total
    assert set(events[0].payload["components"]) == set(first.sovereignty_scores.get().components)
    sovereignty_scores_recalculate()  # nothing changed: nothing published
    assert OutboxEvent.objects.filter(type="pubky_sovereignty_score").count() == 2
    forced = sovereignty_scores_recalculate(force=True)  # history rows, but no news
    assert forced.changed == 2
    assert SovereigntyScore.objects.count() == 4
    assert OutboxEvent.objects.filter(type="pubky_sovereignty_score").count() == 2


@pytest.mark.django_db
def test_recalculation_matches_single_calculation() -> None:
    domain = DomainFactory(self_hosted_homeserver=True)
    _pubky(domain, relays=3)
    sovereignty_scores_recalculate()
    bulk = domain.sovereignty_scores.get()
    # The stored facts reproduce the stored points.
    assert score(DomainFacts(**bulk.breakdown["facts"])).components == bulk.components
    domain.refresh_from_db()
    assert domain.sovereignty_score == bulk.total
    forced = sovereignty_scores_recalculate(force=True)
    assert forced.changed == 1
    assert domain.sovereignty_scores.count() == 2


@pytest.mark.django_db
def test_the_command_scores_named_domains_and_reports_progress() -> None:
    a, b = DomainFactory(name="a.example"), DomainFactory(name="b.example")
    out = io.StringIO()
    # One worker: the test's transaction is invisible to other connections.
    call_command("recalculate_scores", "a.example", workers=1, stdout=out)
    assert "1/1 domains" in out.getvalue()
    assert a.sovereignty_scores.count() == 1
    assert b.sovereignty_scores.count() == 0
    with pytest.raises(CommandError, match="unknown domain"):
        call_command("recalculate_scores", "nope.example", stdout=io.StringIO())
    with pytest.raises(CommandError, match="batch-size"):
        call_command("recalculate_scores", batch_size=0, stdout=io.StringIO())
    with pytest.raises(CommandError, match="workers"):
        call_command("recalculate_scores", workers=0, stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_score_exactly_like_one_worker() -> None:
    from realtime.models import OutboxEvent

    family = FamilyFactory()
    domains = [DomainFactory(family=family) for _ in range(23)]
    _pubky(domains[0], relays=2)
    report = sovereignty_scores_recalculate(batch_size=5, workers=2)
    assert (report.domains, report.batches, report.changed) == (23, 5, 23)
    assert SovereigntyScore.objects.count() == 23
    assert OutboxEvent.objects.filter(type="pubky_sovereignty_score").count() == 23
    for domain in domains:
        domain.refresh_from_db()
        assert domain.sovereignty_score == domain.sovereignty_scores.get().total
    # A second pass with one worker finds nothing to change.
    assert sovereignty_scores_recalculate(batch_size=5).changed == 0
