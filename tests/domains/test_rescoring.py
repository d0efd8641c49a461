"""Scores follow their facts on every write path: triggers queue, the bridge rescores once."""

from __future__ import annotations

import io

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone as django_timezone

from domains.models import (
    DnsRecord,
    DomainRecord,
    KeyCustody,
    PkarrPublishStatus,
    PkarrRecord,
    PubkyDomain,
    PubkyDomainStatus,
    RelayStatus,
    RescoreRequest,
    SovereigntyScore,
)
from domains.services.registration import create_pubky_domain
from domains.services.rescoring import (
    domain_rescore_request,
    domain_rescores_pending_in,
    domain_rescores_process,
)
from domains.services.scoring import calculate_sovereignty_score
from families.models import Family
from guardians.models import BackupStatus
from realtime import topics
from realtime.models import OutboxEvent
from tests.factories import DnsRecordFactory, DomainFactory, FamilyFactory, GuardianFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _scored_domain(**kwargs: object) -> DomainRecord:
    domain = DomainFactory(**kwargs)
    calculate_sovereignty_score(domain=domain, reason="test")
    RescoreRequest.objects.all().delete()
    return domain


def _raw_sql(sql: str, params: list[object]) -> None:
    """A write from another program: its own connection, not the app's application_name."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
    ) as conn:
        conn.execute(sql, params)


def _queued() -> set[int]:
    return set(RescoreRequest.objects.values_list("domain_id", flat=True))


def _latest(domain: DomainRecord) -> SovereigntyScore:
    return domain.sovereignty_scores.order_by("-calculated_at", "-id")[0]


def test_a_bulk_update_that_bypasses_signals_still_rescores_the_domain() -> None:
    domain = _scored_domain(registrar="Registrar Inc.")
    before = _latest(domain)
    DomainRecord.objects.filter(pk=domain.pk).update(registrar="")  # no post_save
    assert _queued() == {domain.pk}

    report = domain_rescores_process(debounce=0)

    assert (report.domains, report.changed) == (1, 1)
    after = _latest(domain)
    assert after.pk != before.pk and after.total > before.total
    assert after.reason == "facts_changed:domain_records"
    domain.refresh_from_db()
    assert domain.sovereignty_score == after.total
    assert _queued() == set()
    # Live like any score change: one event on the domain's score topic, in the same commit.
    event = OutboxEvent.objects.filter(topic=topics.sovereignty_score(domain.pk)).latest("id")
    assert event.type == "pubky_sovereignty_score"
    assert event.payload["sovereignty_score"] == after.total


def test_a_raw_sql_change_queues_a_rescore_that_the_bridge_command_serves() -> None:
    domain = _scored_domain(visibility="private")
    before = _latest(domain)
    _raw_sql("UPDATE domain_records SET visibility = 'public' WHERE id = %s", [domain.pk])
    assert _queued() == {domain.pk}

    out = io.StringIO()
    call_command("pubky_listen", "--once", stdout=out)

    assert "rescored 1 domain(s)" in out.getvalue()
    assert _latest(domain).privacy == before.privacy - 6


def test_a_burst_of_changes_gives_one_recalculation_per_domain() -> None:
    domain = _scored_domain()
    other = _scored_domain()
    for index in range(20):
        DnsRecordFactory(domain=domain, value=f"192.0.2.{index + 1}")
    DnsRecordFactory(domain=other)
    DnsRecord.objects.filter(domain=domain).update(ttl=60)
    scores_before = SovereigntyScore.objects.count()

    report = domain_rescores_process(debounce=0)

    assert report.requests >= 22 and report.domains == 2
    assert SovereigntyScore.objects.count() == scores_before + 2  # DNS records now stored
    assert domain_rescores_process(debounce=0).domains == 0


def test_requests_wait_for_the_debounce_and_a_rescore_that_changes_nothing_stores_nothing() -> None:
    domain = _scored_domain()
    domain_rescore_request(domain_ids=[domain.pk, domain.pk], reason="key_proof")
    assert RescoreRequest.objects.filter(domain_id=domain.pk).count() == 1
    pending = domain_rescores_pending_in(debounce=3600)
    assert pending is not None and pending > 3500
    assert domain_rescores_process(debounce=3600).domains == 0
    assert _queued() == {domain.pk}  # still queued, not lost

    scores_before = SovereigntyScore.objects.count()
    report = domain_rescores_process(debounce=0)
    assert (report.domains, report.changed) == (1, 0)
    assert SovereigntyScore.objects.count() == scores_before
    assert domain_rescores_pending_in(debounce=0) is None


def test_a_rescore_never_queues_another() -> None:
    domain = _scored_domain(registrar="Registrar Inc.")
    DomainRecord.objects.filter(pk=domain.pk).update(registrar="")
    domain_rescores_process(debounce=0)  # writes domain_records.sovereignty_score
    assert _queued() == set()


def test_requests_for_a_deleted_domain_are_dropped() -> None:
    domain = _scored_domain()
    domain_rescore_request(domain_ids=[domain.pk], reason="test")
    DomainRecord.objects.filter(pk=domain.pk).delete()
    report = domain_rescores_process(debounce=0)
    assert report.domains == 0 and report.dropped >= 1
    assert _queued() == set()


def test_guardian_backup_changes_rescore_every_domain_of_the_family() -> None:
    family = FamilyFactory()
    first = _scored_domain(family=family)
    second = _scored_domain(family=family)
    create_pubky_domain(domain=first)
    guardian = GuardianFactory(family=family)
    RescoreRequest.objects.all().delete()
    # A backup counts once verify_facts saw it on its homeserver (the verified time is a fact).
    type(guardian).objects.filter(pk=guardian.pk).update(
        pubky_backup_status=BackupStatus.CURRENT,
        pubky_backup_url="pubky://x/pub/backup",
        pubky_backup_verified_at=django_timezone.now(),
    )
    assert _queued() == {first.pk, second.pk}
    domain_rescores_process(debounce=0)
    assert _latest(first).key_ownership == 14  # sealed key (10) + guardian backup (4)


def test_relay_copies_and_relay_outages_queue_the_domains_on_that_relay() -> None:
    domain = _scored_domain()
    pubky = create_pubky_domain(domain=domain)
    PubkyDomain.objects.filter(pk=pubky.pk).update(status=PubkyDomainStatus.ACTIVE)
    unrelated = _scored_domain()
    url = "http://127.0.0.1:1"
    # A relay counts while it serves the current packet (what it served is a fact).
    PkarrRecord.objects.create(
        pubky_domain=pubky, relay_url=url, status=PkarrPublishStatus.PUBLISHED, served_timestamp=1
    )
    assert domain.pk in _queued()
    domain_rescores_process(debounce=0)
    assert _latest(domain).censorship_resistance == 8

    status = RelayStatus.objects.create(url=url, is_up=True)
    RelayStatus.objects.filter(pk=status.pk).update(latency_ms=3.0)  # not a fact
    assert _queued() == set()
    RelayStatus.objects.filter(pk=status.pk).update(is_up=False)
    assert _queued() == {domain.pk}
    assert unrelated.pk not in _queued()


def test_family_and_key_custody_changes_queue_rescores() -> None:
    family = FamilyFactory()
    domain = _scored_domain(family=family)
    pubky = create_pubky_domain(domain=domain)
    RescoreRequest.objects.all().delete()
    PubkyDomain.objects.filter(pk=pubky.pk).update(key_custody=KeyCustody.FAMILY)
    assert _queued() == {domain.pk}
    RescoreRequest.objects.all().delete()
    Family.objects.filter(pk=family.pk).update(description="changed")
    assert _queued() == {domain.pk}


def test_relay_copies_that_expire_without_any_write_are_rescored() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from domains.services.rescoring import domain_rescores_request_expired

    domain = _scored_domain()
    pubky = create_pubky_domain(domain=domain)
    PubkyDomain.objects.filter(pk=pubky.pk).update(status=PubkyDomainStatus.ACTIVE)
    now = timezone.now()
    PkarrRecord.objects.create(
        pubky_domain=pubky,
        relay_url="http://127.0.0.1:2",
        status=PkarrPublishStatus.PUBLISHED,
        served_timestamp=1,
        expires_at=now + timedelta(seconds=30),
    )
    domain_rescores_process(debounce=0)
    assert _latest(domain).censorship_resistance == 8

    assert domain_rescores_request_expired(since=now - timedelta(hours=1), until=now) == 0
    later = now + timedelta(minutes=1)
    assert domain_rescores_request_expired(since=now, until=later) == 1
    # The rescore reads the clock too: the copy has not expired yet, so nothing changes now.
    assert domain_rescores_process(debounce=0).domains == 1
