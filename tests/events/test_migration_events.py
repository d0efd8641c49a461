"""Events of the migration services and the guardians' decisions on them."""

from __future__ import annotations

import pytest

from domains.models import (
    DomainMigration,
    DomainRecord,
    MigrationDirection,
    MigrationState,
    PubkyDomain,
)
from domains.services.migration import (
    create_domain_migration,
    domain_migration_cancel,
    domain_migration_execute,
    domain_migration_fail,
    domain_migration_retry,
    domain_migration_verify,
)
from families.models import Family, User
from guardians.models import FederationGuardian, GuardianStatus
from guardians.services import guardian_migration_approve, guardian_migration_reject
from pubky.testnet import Testnet
from pubkyproject import topics
from tests.dnsserver import LoopbackDnsServer
from tests.events.capture import of_type, verify_action
from tests.factories import GuardianFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def guardian_user(family: Family) -> User:
    """The family requires one guardian's approval; this is the guardian."""
    family.guardian_approval_required = True
    family.guardian_threshold = 1
    family.save()
    guardian: FederationGuardian = GuardianFactory(  # type: ignore[assignment]
        family=family, status=GuardianStatus.ACTIVE
    )
    assert guardian.user is not None
    return guardian.user


def _pubky_id(domain: DomainRecord) -> int:
    return int(PubkyDomain.objects.get(domain=domain).pk)


def _open(domain: DomainRecord) -> DomainMigration:
    return create_domain_migration(domain=domain, direction=MigrationDirection.DNS_TO_PUBKY)


def _verified(domain: DomainRecord, dns_server: LoopbackDnsServer) -> DomainMigration:
    migration = _open(domain)
    dns_server.set_txt(migration.challenge_name, migration.challenge_value)
    return domain_migration_verify(migration=migration)


def test_opening_a_migration_announces_it_and_asks_the_guardians(
    registrar_domain: DomainRecord, guardian_user: User
) -> None:
    family = topics.family(registrar_domain.family_id)
    migration, events = verify_action(
        lambda: _open(registrar_domain),
        lambda: [
            (
                topics.domain_migration(registrar_domain.migrations.get().pk),
                "domain_migration_update",
            ),
            (family, "domain_migration_created"),
            (family, "pubky_guardian_notification"),
        ],
    )
    (update,) = of_type(events, "domain_migration_update")
    assert update == of_type(events, "domain_migration_created")[0]  # one shape per object
    assert update["id"] == migration.pk and update["state"] == MigrationState.PENDING
    assert update["approvalsRequired"] == 1
    (asked,) = of_type(events, "pubky_guardian_notification")
    assert asked["kind"] == "migration_approval_requested"
    assert asked["payload"]["migration_id"] == migration.pk


def test_a_guardian_approving_announces_the_decision(
    registrar_domain: DomainRecord, guardian_user: User
) -> None:
    migration = _open(registrar_domain)
    _, events = verify_action(
        lambda: guardian_migration_approve(user=guardian_user, migration=migration),
        [(topics.family(registrar_domain.family_id), "pubky_guardian_notification")],
    )
    (approved,) = of_type(events, "pubky_guardian_notification")
    assert approved["kind"] == "migration_approved"


def test_a_guardian_rejecting_fails_the_migration_and_says_so(
    registrar_domain: DomainRecord, guardian_user: User
) -> None:
    migration = _open(registrar_domain)
    _, events = verify_action(
        lambda: guardian_migration_reject(user=guardian_user, migration=migration),
        [
            (topics.domain_migration(migration.pk), "domain_migration_update"),
            (topics.family(registrar_domain.family_id), "pubky_guardian_notification"),
        ],
    )
    assert of_type(events, "domain_migration_update")[0]["state"] == MigrationState.FAILED
    assert of_type(events, "pubky_guardian_notification")[0]["kind"] == "migration_failed"


def test_completing_a_migration_announces_each_step_the_publish_and_the_new_score(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer, testnet: Testnet
) -> None:
    migration = _verified(registrar_domain, dns_server)
    _, events = verify_action(
        lambda: domain_migration_execute(migration=migration),
        lambda: [
            (topics.domain_migration(migration.pk), "domain_migration_update"),
            (topics.pubky_domain(_pubky_id(registrar_domain)), "pubky_domain_update"),
            (topics.family(registrar_domain.family_id), "pubky_domain_created"),
            (topics.domain_migration(migration.pk), "domain_migration_update"),
            (topics.pubky_domain(_pubky_id(registrar_domain)), "pkarr_record_update"),
            (topics.pubky_domain(_pubky_id(registrar_domain)), "pkarr_record_update"),
            (topics.pubky_domain(_pubky_id(registrar_domain)), "pubky_domain_update"),
            (topics.sovereignty_score(registrar_domain.pk), "pubky_sovereignty_score"),
        ],
    )
    states = [e["state"] for e in of_type(events, "domain_migration_update")]
    assert states == [MigrationState.PUBLISHING, MigrationState.COMPLETED]
    assert {e["status"] for e in of_type(events, "pkarr_record_update")} == {"published"}
    (score,) = of_type(events, "pubky_sovereignty_score")
    assert score["reason"] == "migration_completed"


def test_cancelling_a_migration_announces_it(registrar_domain: DomainRecord) -> None:
    migration = _open(registrar_domain)
    _, events = verify_action(
        lambda: domain_migration_cancel(migration=migration, reason="changed mind"),
        [(topics.domain_migration(migration.pk), "domain_migration_update")],
    )
    (update,) = of_type(events, "domain_migration_update")
    assert update["state"] == MigrationState.CANCELLED and update["error"] == "changed mind"


def test_retrying_a_failed_migration_announces_it_reopened(registrar_domain: DomainRecord) -> None:
    migration = domain_migration_fail(migration=_open(registrar_domain), reason="resolver down")
    assert migration.state == MigrationState.FAILED
    _, events = verify_action(
        lambda: domain_migration_retry(migration=migration),
        [(topics.domain_migration(migration.pk), "domain_migration_update")],
    )
    (update,) = of_type(events, "domain_migration_update")
    assert update["state"] == migration.state and update["error"] == ""
