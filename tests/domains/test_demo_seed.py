"""The demo a first ./scripts/run creates: domains on the testnet, a migration, guardians."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command

from domains.models import (
    DomainMigration,
    DomainRecord,
    DomainStatus,
    MigrationDirection,
    MigrationState,
    PkarrPublishStatus,
    PkarrRecord,
    PubkyDomain,
    PubkyDomainStatus,
)
from guardians.models import FederationGuardian
from pubky.testnet import Testnet
from pubkyproject.demo import DEMO_MIGRATING_DOMAIN, DEMO_PUBKY_DOMAIN, demo_seed
from tests.domains.conftest import resolved

pytestmark = pytest.mark.django_db


def test_the_demo_family_gets_a_published_pubky_domain_a_migration_and_two_guardians(
    testnet: Testnet,
) -> None:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)

    family = demo_seed(password="demo", content=False).family
    pubky = PubkyDomain.objects.get(name=DEMO_PUBKY_DOMAIN)
    assert pubky.family == family
    assert pubky.status == PubkyDomainStatus.ACTIVE
    records = PkarrRecord.objects.filter(pubky_domain=pubky)
    assert {r.relay_url for r in records} == set(testnet.relay_urls)
    assert {r.status for r in records} == {PkarrPublishStatus.PUBLISHED}
    assert resolved(pubky.public_key).timestamp == pubky.last_packet_timestamp

    migrating = DomainRecord.objects.get(name=DEMO_MIGRATING_DOMAIN)
    assert migrating.family == family
    assert migrating.status == DomainStatus.MIGRATING
    assert migrating.dns_records.count() == 3
    migration = DomainMigration.objects.get(domain=migrating)
    assert migration.direction == MigrationDirection.DNS_TO_PUBKY
    assert migration.state == MigrationState.PENDING
    assert migration.challenge_value

    guardians = FederationGuardian.objects.filter(family=family).order_by("name")
    assert [(g.name, g.status) for g in guardians] == [
        ("Alice (demo guardian)", "active"),
        ("Bob (demo guardian)", "invited"),
    ]
    assert "added pubky-demo.example" in out.getvalue()


def test_seeding_again_adds_nothing_twice(testnet: Testnet) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    again = io.StringIO()
    call_command("seed_demo", stdout=again)

    assert "added" not in again.getvalue()
    assert PubkyDomain.objects.count() == 1
    assert DomainRecord.objects.count() == 2
    assert DomainMigration.objects.count() == 1
    assert FederationGuardian.objects.count() == 2


@pytest.mark.parametrize("how", ["setting", "option"])
def test_the_demo_content_can_be_switched_off(settings: Any, how: str) -> None:
    args: list[str] = []
    if how == "setting":
        settings.DEMO_DATA = False
    else:
        args.append("--no-content")

    call_command("seed_demo", *args, stdout=io.StringIO())

    assert DomainRecord.objects.count() == 0
    assert FederationGuardian.objects.count() == 0


def test_demo_records_are_never_published_outside_a_testnet(settings: Any) -> None:
    settings.PUBKY_TESTNET = False
    out = io.StringIO()

    call_command("seed_demo", stdout=out)

    assert not PubkyDomain.objects.exists()
    assert "skipped pubky-demo.example: PUBKY_TESTNET is off" in out.getvalue()
    assert DomainRecord.objects.filter(name=DEMO_MIGRATING_DOMAIN).exists()


def test_relays_that_do_not_answer_cost_only_the_pubky_domain(settings: Any) -> None:
    settings.PUBKY_RELAYS = ["http://127.0.0.1:9"]  # nothing listens on the discard port
    out = io.StringIO()

    call_command("seed_demo", stdout=out)

    assert not PubkyDomain.objects.exists()
    assert "skipped pubky-demo.example" in out.getvalue()
    assert FederationGuardian.objects.count() == 2
    assert DomainMigration.objects.count() == 1
