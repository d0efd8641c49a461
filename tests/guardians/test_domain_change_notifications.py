"""Every change to a family's domains notifies its guardians, through the ORM or raw SQL."""

from __future__ import annotations

import io
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from domains.models import DnsRecord, DomainRecord, PubkyDomain, PubkyDomainStatus
from domains.services.records import dns_record_create, domain_record_update
from domains.services.registration import create_pubky_domain
from families.models import Family
from guardians.models import GuardianNotification
from guardians.services import guardian_domain_change_notify
from realtime import topics
from realtime.models import OutboxEvent
from tests.factories import DomainFactory, FamilyFactory, GuardianFactory

pytestmark = pytest.mark.django_db(transaction=True)

OTHER_KEY = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"


@pytest.fixture
def domain() -> DomainRecord:
    family = FamilyFactory()
    GuardianFactory(family=family)
    return DomainFactory(family=family, registrar="Registrar Inc.")


def _raw_sql(sql: str, params: list[Any]) -> None:
    """A write from another program: its own connection, not the app's application_name."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
    ) as conn:
        conn.execute(sql, params)


def _bridge() -> None:
    call_command("pubky_listen", "--once", stdout=io.StringIO())


def _kinds(family: Family) -> list[str]:
    return list(
        GuardianNotification.objects.filter(family=family)
        .order_by("id")
        .values_list("kind", flat=True)
    )


def _pushed(family: Family) -> list[str]:
    """The kinds of the notifications on the family's live topic."""
    events = OutboxEvent.objects.filter(
        topic=topics.family(family.pk), type="pubky_guardian_notification"
    ).order_by("id")
    return [e.payload["kind"] for e in events if "title" in e.payload]


def _active_pubky(domain: DomainRecord) -> PubkyDomain:
    pubky = create_pubky_domain(domain=domain)
    pubky.status = PubkyDomainStatus.ACTIVE
    pubky.save()
    return pubky


# --- ORM -------------------------------------------------------------------------------------


def test_dns_record_changes_through_the_orm_notify_the_guardians(domain: DomainRecord) -> None:
    record = dns_record_create(domain=domain, rtype="A", value="192.0.2.7")
    record.value = "192.0.2.8"
    record.save()
    record.delete()

    assert _kinds(domain.family) == ["dns_record_added", "dns_record_changed", "dns_record_removed"]
    assert _pushed(domain.family) == _kinds(domain.family)
    added = GuardianNotification.objects.get(kind="dns_record_added")
    assert added.guardian is None  # every guardian of the family
    assert added.payload["domain"] == domain.name and added.payload["domain_id"] == domain.pk
    assert added.payload["record"]["value"] == "192.0.2.7"
    assert domain.name in added.title


def test_a_domain_edit_notifies_but_a_rescore_does_not(domain: DomainRecord) -> None:
    domain_record_update(domain=domain, visibility="public", registrar="")
    assert _kinds(domain.family) == ["domain_edited"]
    edited = GuardianNotification.objects.get(kind="domain_edited")
    assert edited.payload["changes"] == {
        "visibility": ["private", "public"],
        "registrar": ["Registrar Inc.", ""],
    }


def test_pubky_domain_lifecycle_and_key_rotation_notify(domain: DomainRecord) -> None:
    pubky = _active_pubky(domain)
    pubky.status = PubkyDomainStatus.DISABLED
    pubky.save()
    pubky.status = PubkyDomainStatus.ACTIVE
    pubky.save()
    pubky.public_key = OTHER_KEY
    pubky.save()
    pubky.last_published_at = None  # an ordinary save that changes nothing watched
    pubky.save()

    assert _kinds(domain.family) == [
        "pubky_domain_registered",
        "pubky_domain_suspended",
        "pubky_domain_republished",
        "key_rotated",
    ]
    rotated = GuardianNotification.objects.get(kind="key_rotated")
    assert rotated.payload["public_key"] == OTHER_KEY


def test_a_family_without_guardians_stores_nothing() -> None:
    family = FamilyFactory()
    lonely = DomainFactory(family=family)
    dns_record_create(domain=lonely, rtype="A", value="192.0.2.9")
    assert _kinds(family) == []


def test_the_service_entry_point_notifies_with_the_domain(domain: DomainRecord) -> None:
    notification = guardian_domain_change_notify(
        family_id=domain.family_id,
        kind="key_proof_made",
        title="Key proven",
        domain_id=domain.pk,
        domain_name=domain.name,
        detail={"public_key": OTHER_KEY},
    )
    assert notification is not None
    assert notification.title == f"{domain.name}: Key proven"
    assert notification.payload == {
        "change": "key_proof_made",
        "domain": domain.name,
        "domain_id": domain.pk,
        "public_key": OTHER_KEY,
    }


# --- raw SQL (the NOTIFY bridge) ----------------------------------------------------------------


def test_dns_record_changes_in_raw_sql_notify_the_guardians(domain: DomainRecord) -> None:
    _raw_sql(
        "INSERT INTO dns_records (domain_id, name, rtype, value, ttl, created_at, updated_at) "
        "VALUES (%s, '@', 'TXT', 'hello', 300, now(), now())",
        [domain.pk],
    )
    _bridge()
    _raw_sql("UPDATE dns_records SET ttl = 60 WHERE domain_id = %s", [domain.pk])
    _bridge()
    _raw_sql("DELETE FROM dns_records WHERE domain_id = %s", [domain.pk])
    _bridge()

    assert _kinds(domain.family) == ["dns_record_added", "dns_record_changed", "dns_record_removed"]
    assert _pushed(domain.family) == _kinds(domain.family)
    changed = GuardianNotification.objects.get(kind="dns_record_changed")
    assert (changed.payload["before"]["ttl"], changed.payload["record"]["ttl"]) == (300, 60)
    assert not DnsRecord.objects.filter(domain=domain).exists()


def test_domain_edits_and_pubky_changes_in_raw_sql_notify_the_guardians(
    domain: DomainRecord,
) -> None:
    pubky = _active_pubky(domain)
    GuardianNotification.objects.all().delete()
    _raw_sql("UPDATE domain_records SET dns_provider = 'Elsewhere' WHERE id = %s", [domain.pk])
    _raw_sql("UPDATE domain_records SET sovereignty_score = 1 WHERE id = %s", [domain.pk])
    _raw_sql("UPDATE pubky_domains SET status = 'disabled' WHERE id = %s", [pubky.pk])
    _raw_sql("UPDATE pubky_domains SET status = 'active' WHERE id = %s", [pubky.pk])
    _raw_sql("UPDATE pubky_domains SET public_key = %s WHERE id = %s", [OTHER_KEY, pubky.pk])
    _bridge()

    assert _kinds(domain.family) == [
        "domain_edited",
        "pubky_domain_suspended",
        "pubky_domain_republished",
        "key_rotated",
    ]
    # The bridge's own writes (notifications, rescores) are not caught again by the triggers.
    _bridge()
    assert len(_kinds(domain.family)) == 4


def test_deleting_a_domain_or_a_family_with_records_notifies_nobody_and_fails_nothing(
    domain: DomainRecord,
) -> None:
    dns_record_create(domain=domain, rtype="A", value="192.0.2.7")
    family = domain.family
    GuardianNotification.objects.all().delete()
    domain.delete()
    assert _kinds(family) == []

    other = DomainFactory(family=family)
    dns_record_create(domain=other, rtype="A", value="192.0.2.8")
    Family.objects.filter(pk=family.pk).delete()
    assert not Family.objects.filter(pk=family.pk).exists()


def test_a_key_proven_or_no_longer_proven_notifies_through_the_orm_and_raw_sql(
    domain: DomainRecord,
) -> None:
    pubky = create_pubky_domain(domain=domain, public_key=OTHER_KEY, key_custody="family")
    assert pubky.key_verification == "unverified"
    pubky.key_verification = "proven"
    pubky.save()
    assert _kinds(domain.family) == ["key_proven"]
    proven = GuardianNotification.objects.get(kind="key_proven")
    assert proven.payload["public_key"] == OTHER_KEY and proven.payload["before"] == "unverified"

    GuardianNotification.objects.all().delete()
    _raw_sql("UPDATE pubky_domains SET key_verification = 'unverified' WHERE id = %s", [pubky.pk])
    _raw_sql(
        "UPDATE families SET pubky_key_verification = 'proven' WHERE id = %s", [domain.family_id]
    )
    _bridge()
    assert _kinds(domain.family) == ["key_proof_lost", "key_proven"]
    assert _pushed(domain.family)[-2:] == ["key_proof_lost", "key_proven"]


def test_a_family_identity_taken_away_notifies_once_through_the_orm_and_raw_sql(
    domain: DomainRecord,
) -> None:
    family = domain.family
    Family.objects.filter(pk=family.pk).update(pubky_public_key=OTHER_KEY)
    family.refresh_from_db()
    family.pubky_public_key = None
    family.save()
    assert _kinds(family) == ["family_identity_removed"]
    removed = GuardianNotification.objects.get(kind="family_identity_removed")
    assert "POST /api/key-proofs/" in removed.message
    assert removed.payload["before"] == OTHER_KEY

    GuardianNotification.objects.all().delete()
    _raw_sql("UPDATE families SET pubky_public_key = %s WHERE id = %s", [OTHER_KEY, family.pk])
    _raw_sql("UPDATE families SET pubky_public_key = NULL WHERE id = %s", [family.pk])
    _bridge()
    assert _kinds(family) == ["family_identity_removed"]
