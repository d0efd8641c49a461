"""Events of the Pubky domain services: registration, republishing, suspension."""

from __future__ import annotations

import pytest

from domains.models import DomainRecord, PubkyDomain
from domains.services.key_claims import pubky_domain_suspend
from domains.services.publishing import pubky_domain_publish
from domains.services.registration import register_pubky_domain
from families.models import Family
from pubky.testnet import Testnet
from pubkyproject import topics
from tests.events.capture import of_type, verify_action

pytestmark = pytest.mark.django_db


def _next_pubky_id() -> int:
    """The id of the Pubky domain the action under test created (read after it ran)."""
    return int(PubkyDomain.objects.latest("pk").pk)


def _next_domain_id() -> int:
    return int(DomainRecord.objects.latest("pk").pk)


def _register(family: Family) -> PubkyDomain:
    return register_pubky_domain(
        name="events.example", family=family, records=[("@", "A", "192.0.2.7")]
    )


def test_registering_a_pubky_domain_announces_it_its_relays_and_its_score(
    family: Family, testnet: Testnet
) -> None:
    pubky_domain, events = verify_action(
        lambda: _register(family),
        lambda: [
            (topics.family(family.pk), "domain_created"),
            (topics.family(family.pk), "dns_record_created"),
            (topics.pubky_domain(_next_pubky_id()), "pubky_domain_update"),
            (topics.family(family.pk), "pubky_domain_created"),
            (topics.pubky_domain(_next_pubky_id()), "pkarr_record_update"),
            (topics.pubky_domain(_next_pubky_id()), "pkarr_record_update"),
            (topics.pubky_domain(_next_pubky_id()), "pubky_domain_update"),
            (topics.sovereignty_score(_next_domain_id()), "pubky_sovereignty_score"),
        ],
    )
    first, last = of_type(events, "pubky_domain_update")
    assert first == of_type(events, "pubky_domain_created")[0]
    assert last["status"] == "active" and last["lastPublishedAt"] is not None
    assert last["pubkyUrl"] == f"pubky://{pubky_domain.public_key}/"
    assert {e["relayUrl"] for e in of_type(events, "pkarr_record_update")} == set(
        testnet.relay_urls
    )


def test_republishing_announces_each_relay_and_the_domain(family: Family, testnet: Testnet) -> None:
    pubky_domain = _register(family)
    topic = topics.pubky_domain(pubky_domain.pk)
    # Facts unchanged (the same relays serve a newer packet): no new score.
    verify_action(
        lambda: pubky_domain_publish(pubky_domain=pubky_domain),
        [
            (topic, "pkarr_record_update"),
            (topic, "pkarr_record_update"),
            (topic, "pubky_domain_update"),
        ],
    )


def test_suspending_a_pubky_domain_announces_it_and_its_lower_score(
    family: Family, testnet: Testnet
) -> None:
    pubky_domain = _register(family)
    assert pubky_domain.domain is not None
    _, events = verify_action(
        lambda: pubky_domain_suspend(pubky_domain=pubky_domain, reason="unproven", by=None),
        [
            (topics.pubky_domain(pubky_domain.pk), "pubky_domain_update"),
            (topics.sovereignty_score(pubky_domain.domain.pk), "pubky_sovereignty_score"),
        ],
    )
    assert of_type(events, "pubky_domain_update")[0]["status"] == "suspended"
    assert of_type(events, "pubky_sovereignty_score")[0]["reason"] == "pubky_domain_suspended"
