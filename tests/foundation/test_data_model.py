"""The service's tables and columns exist and round-trip; constraints guard the data."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from domains.models import (
    DnsRecord,
    DomainMigration,
    MigrationDirection,
    MigrationState,
    PkarrRecord,
    PubkyDomain,
    RelayStatus,
    SovereigntyScore,
)
from families.models import AccessGrant, PubkyKeypair, SecurityEvent
from guardians.models import FederationGuardian
from realtime.models import OutboxEvent
from tests.factories import DomainFactory, FamilyFactory, GuardianFactory, UserFactory

pytestmark = pytest.mark.django_db

KEY_A = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"
KEY_B = "yqooxx9u3aemh8mo5wcqq16yufu6jitouq1o4za751dger1igghy"
KEY_C = "xg4icmwxh3kx1odasrjqtkcmw6eb9bj4h4k57i9yhqeozmer131y"

SEED_COLUMNS = {
    "users": {"pubky_url", "pubky_public_key", "pubky_private_key_encrypted"},
    "families": {
        "pubky_url",
        "pubky_public_key",
        "pubky_homeserver_url",
        "pubky_relay_url",
        "pubky_enabled",
    },
    "domain_records": {
        "sovereignty_score",
        "pubky_enabled",
        "pubky_homeserver_url",
        "pubky_relay_url",
    },
    "federation_guardians": {
        "pubky_backup_status",
        "pubky_backup_url",
        "pubky_backup_last_updated",
    },
    "pubky_domains": {"name", "public_key", "private_key_encrypted", "family_id"},
    "pubky_keypairs": {"family_id", "public_key", "private_key_encrypted", "is_active"},
    "domain_migrations": {"domain_id", "direction", "state", "previous_state"},
    "pkarr_records": {"pubky_domain_id", "relay_url", "status", "packet_timestamp"},
    "sovereignty_scores": {
        "domain_id",
        "total",
        "provider_independence",
        "key_ownership",
        "censorship_resistance",
        "privacy",
        "portability",
        "breakdown",
        "calculated_at",
    },
    "relay_statuses": {"url", "is_up", "latency_ms"},
    "access_grants": {"grantee_id", "permission", "expires_at"},
    "realtime_outbox": {"id", "topic", "type", "payload"},
    "security_audit_events": {"kind", "user_id", "detail"},
}


@pytest.mark.parametrize("table", sorted(SEED_COLUMNS))
def test_every_seed_table_has_its_columns(table: str) -> None:
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, table)}
    assert SEED_COLUMNS[table] <= columns


def test_seed_columns_round_trip() -> None:
    now = timezone.now().replace(microsecond=0)
    user = UserFactory(
        pubky_url=f"pubky://{KEY_A}/",
        pubky_public_key=KEY_A,
        pubky_private_key_encrypted=b"\x01sealed",
    )
    family = FamilyFactory(
        pubky_url=f"pubky://{KEY_B}/pub/family/",
        pubky_public_key=KEY_B,
        pubky_homeserver_url="http://127.0.0.1:6286",
        pubky_relay_url="http://127.0.0.1:15411",
        pubky_enabled=True,
    )
    domain = DomainFactory(
        family=family,
        sovereignty_score=87,
        pubky_enabled=True,
        pubky_homeserver_url="http://127.0.0.1:6286",
        pubky_relay_url="http://127.0.0.1:15411",
    )
    guardian = GuardianFactory(
        family=family,
        pubky_backup_status="current",
        pubky_backup_url=f"pubky://{KEY_C}/pub/backup/key",
        pubky_backup_last_updated=now,
    )
    for obj in (user, family, domain, guardian):
        obj.refresh_from_db()
    assert (user.pubky_url, user.pubky_public_key) == (f"pubky://{KEY_A}/", KEY_A)
    assert bytes(user.pubky_private_key_encrypted) == b"\x01sealed"
    assert family.pubky_enabled
    assert family.pubky_public_key == KEY_B
    assert family.pubky_homeserver_url == "http://127.0.0.1:6286"
    assert family.pubky_relay_url == "http://127.0.0.1:15411"
    assert family.pubky_url == f"pubky://{KEY_B}/pub/family/"
    assert (domain.sovereignty_score, domain.pubky_enabled) == (87, True)
    assert domain.pubky_homeserver_url == "http://127.0.0.1:6286"
    assert domain.pubky_relay_url == "http://127.0.0.1:15411"
    assert guardian.pubky_backup_status == "current"
    assert guardian.pubky_backup_url == f"pubky://{KEY_C}/pub/backup/key"
    assert guardian.pubky_backup_last_updated == now


def test_pubky_tables_round_trip() -> None:
    domain = DomainFactory()
    pubky_domain = PubkyDomain.objects.create(
        name="smith.example",
        family=domain.family,
        domain=domain,
        public_key=KEY_A,
        private_key_encrypted=b"\x01x",
        pubky_url=f"pubky://{KEY_A}/",
        last_packet_timestamp=1697016827303000,
    )
    PkarrRecord.objects.create(
        pubky_domain=pubky_domain,
        relay_url="http://127.0.0.1:15411",
        status="published",
        packet_timestamp=1697016827303000,
        http_status=204,
        latency_ms=1.5,
    )
    migration = DomainMigration.objects.create(
        domain=domain,
        direction=MigrationDirection.DNS_TO_PUBKY,
        previous_state={"records": [{"name": "@", "type": "A", "value": "192.0.2.1"}]},
    )
    score = SovereigntyScore.objects.create(
        domain=domain,
        total=50,
        provider_independence=10,
        key_ownership=10,
        censorship_resistance=10,
        privacy=10,
        portability=10,
        breakdown={"key_ownership": {"points": 10, "facts": {"custody": "service"}}},
    )
    keypair = PubkyKeypair.objects.create(family=domain.family, public_key=KEY_B)
    pubky_domain.refresh_from_db()
    assert pubky_domain.pkarr_records.get().packet_timestamp == 1697016827303000
    migration.refresh_from_db()
    assert migration.state == MigrationState.PENDING
    assert migration.previous_state["records"][0]["value"] == "192.0.2.1"
    score.refresh_from_db()
    assert score.components["privacy"] == 10
    assert score.breakdown["key_ownership"]["facts"]["custody"] == "service"
    assert keypair.is_active


def test_it_allows_only_one_active_keypair_per_family() -> None:
    family = FamilyFactory()
    PubkyKeypair.objects.create(family=family, public_key=KEY_A)
    with pytest.raises(IntegrityError), transaction.atomic():
        PubkyKeypair.objects.create(family=family, public_key=KEY_B)
    PubkyKeypair.objects.create(family=family, public_key=KEY_C, is_active=False)


def test_it_rejects_duplicate_domain_names_and_upper_case() -> None:
    DomainFactory(name="smith.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        DomainFactory(name="smith.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        DomainFactory(name="Other.Example")


def test_it_allows_one_open_migration_per_domain() -> None:
    domain = DomainFactory()
    DomainMigration.objects.create(domain=domain, direction=MigrationDirection.DNS_TO_PUBKY)
    with pytest.raises(IntegrityError), transaction.atomic():
        DomainMigration.objects.create(domain=domain, direction=MigrationDirection.DNS_TO_PUBKY)
    DomainMigration.objects.filter(domain=domain).update(state=MigrationState.COMPLETED)
    DomainMigration.objects.create(domain=domain, direction=MigrationDirection.PUBKY_TO_DNS)


def test_score_total_must_equal_its_components() -> None:
    domain = DomainFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        SovereigntyScore.objects.create(
            domain=domain,
            total=99,
            provider_independence=1,
            key_ownership=1,
            censorship_resistance=1,
            privacy=1,
            portability=1,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        DomainFactory(sovereignty_score=101)


def test_service_custody_requires_a_sealed_key() -> None:
    family = FamilyFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        PubkyDomain.objects.create(name="x.example", family=family, public_key=KEY_A)
    PubkyDomain.objects.create(
        name="x.example", family=family, public_key=KEY_A, key_custody="family"
    )


def test_pkarr_records_are_unique_per_relay() -> None:
    family = FamilyFactory()
    pubky_domain = PubkyDomain.objects.create(
        name="x.example", family=family, public_key=KEY_A, key_custody="family"
    )
    PkarrRecord.objects.create(pubky_domain=pubky_domain, relay_url="http://127.0.0.1:1")
    with pytest.raises(IntegrityError), transaction.atomic():
        PkarrRecord.objects.create(pubky_domain=pubky_domain, relay_url="http://127.0.0.1:1")


def test_dns_records_reject_an_exact_duplicate() -> None:
    domain = DomainFactory()
    DnsRecord.objects.create(domain=domain, name="@", rtype="A", value="192.0.2.1")
    with pytest.raises(IntegrityError), transaction.atomic():
        DnsRecord.objects.create(domain=domain, name="@", rtype="A", value="192.0.2.1")


def test_security_events_are_append_only() -> None:
    event = SecurityEvent.objects.create(kind="login_failed", username="mallory")
    event.username = "someone-else"
    with pytest.raises(ValueError):
        event.save()


def test_access_grants_expire() -> None:
    user, family = UserFactory(), FamilyFactory()
    from django.contrib.contenttypes.models import ContentType

    ct = ContentType.objects.get_for_model(family)
    past = timezone.now() - timezone.timedelta(minutes=1)
    AccessGrant.objects.create(grantee=user, content_type=ct, object_id=family.pk, expires_at=past)
    live = AccessGrant.objects.create(grantee=user, content_type=ct, object_id=family.pk)
    assert list(AccessGrant.objects.current()) == [live]
    assert live.target == family


def test_other_tables_exist() -> None:
    RelayStatus.objects.create(url="http://127.0.0.1:15411", is_up=True, latency_ms=3.2)
    assert FederationGuardian.objects.count() == 0
    # Saving a relay status published its event to the outbox.
    event = OutboxEvent.objects.get()
    assert (event.topic, event.type, event.seq) == ("relays", "pubky_relay_status", 1)
