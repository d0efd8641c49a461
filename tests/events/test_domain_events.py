"""Events of the domain and DNS record services: exactly what each action announces."""

from __future__ import annotations

import pytest

from domains.models import DomainRecord
from domains.services.records import (
    dns_record_create,
    dns_record_delete,
    dns_record_update,
    domain_record_create,
    domain_record_delete,
    domain_record_update,
)
from domains.services.scoring import calculate_sovereignty_score
from families.models import Family
from pubkyproject import topics
from tests.events.capture import of_type, verify_action

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(registrar_domain: DomainRecord) -> DomainRecord:
    """The registrar domain with its score stored: a new score event means the score moved."""
    calculate_sovereignty_score(domain=registrar_domain, reason="setup")
    return registrar_domain


def test_creating_a_domain_announces_it_on_its_family_and_its_first_score(
    family: Family,
) -> None:
    domain, events = verify_action(
        lambda: domain_record_create(family=family, name="new-card.example"),
        lambda: [
            (topics.family(family.pk), "domain_created"),
            (topics.sovereignty_score(family.domains.get().pk), "pubky_sovereignty_score"),
        ],
    )
    (created,) = of_type(events, "domain_created")
    assert created["id"] == domain.pk and created["name"] == "new-card.example"
    assert created["status"] == domain.status and created["familyId"] == family.pk
    (score,) = of_type(events, "pubky_sovereignty_score")
    assert score["domain"] == domain.pk and score["reason"] == "domain_created"
    assert isinstance(score["score_id"], int)


def test_updating_a_domain_without_changing_a_fact_announces_nothing(
    scored: DomainRecord,
) -> None:
    verify_action(lambda: domain_record_update(domain=scored, dns_provider="Other DNS"), [])


def test_updating_a_fact_of_a_domain_announces_its_new_score(scored: DomainRecord) -> None:
    before = scored.sovereignty_score
    _, events = verify_action(
        lambda: domain_record_update(domain=scored, visibility="public"),
        [(topics.sovereignty_score(scored.pk), "pubky_sovereignty_score")],
    )
    (score,) = of_type(events, "pubky_sovereignty_score")
    assert score["reason"] == "domain_updated"
    assert score["total"] < before  # a public domain loses its privacy points


def test_deleting_a_domain_announces_its_records_then_the_domain(scored: DomainRecord) -> None:
    family = topics.family(scored.family_id)
    record_ids = set(scored.dns_records.values_list("pk", flat=True))
    _, events = verify_action(
        lambda: domain_record_delete(domain=scored),
        [
            (family, "dns_record_deleted"),
            (family, "dns_record_deleted"),
            (family, "dns_record_deleted"),
            (family, "domain_deleted"),
        ],
    )
    assert {e["id"] for e in of_type(events, "dns_record_deleted")} == record_ids
    (deleted,) = of_type(events, "domain_deleted")
    assert deleted["id"] == scored.pk and deleted["status"] == "deleted"


def test_creating_a_dns_record_announces_it_on_the_family(scored: DomainRecord) -> None:
    record, events = verify_action(
        lambda: dns_record_create(domain=scored, rtype="AAAA", value="2001:db8::1"),
        [(topics.family(scored.family_id), "dns_record_created")],
    )
    (created,) = of_type(events, "dns_record_created")
    assert created == {
        "id": record.pk,
        "domainId": scored.pk,
        "familyId": scored.family_id,
        "name": "@",
        "type": "AAAA",
        "value": "2001:db8::1",
        "ttl": 3600,
        "updatedAt": record.updated_at.isoformat(),
    }


def test_the_first_dns_record_of_a_domain_also_moves_its_score(family: Family) -> None:
    domain = domain_record_create(family=family, name="empty-zone.example")
    _, events = verify_action(
        lambda: dns_record_create(domain=domain, rtype="A", value="192.0.2.8"),
        [
            (topics.family(family.pk), "dns_record_created"),
            (topics.sovereignty_score(domain.pk), "pubky_sovereignty_score"),
        ],
    )
    (score,) = of_type(events, "pubky_sovereignty_score")
    assert score["components"]["portability"] == 4  # "DNS records stored"


def test_updating_a_dns_record_announces_nothing(scored: DomainRecord) -> None:
    record = scored.dns_records.get(rtype="A")
    verify_action(lambda: dns_record_update(record=record, value="192.0.2.99"), [])


def test_deleting_a_dns_record_announces_it_on_the_family(scored: DomainRecord) -> None:
    record = scored.dns_records.get(rtype="A")
    record_id = record.pk
    _, events = verify_action(
        lambda: dns_record_delete(record=record),
        [(topics.family(scored.family_id), "dns_record_deleted")],
    )
    assert of_type(events, "dns_record_deleted")[0]["id"] == record_id
