"""Migrations between registrar DNS and Pubky: real DNS challenge lookups, real relays."""

from __future__ import annotations

from collections.abc import Callable

import dns.rcode
import pytest

from domains.models import (
    DnsRecord,
    DomainMigration,
    DomainRecord,
    DomainStatus,
    MigrationDirection,
    MigrationState,
    PkarrRecord,
    PubkyDomain,
    PubkyDomainStatus,
    SovereigntyScore,
)
from domains.services.migration import (
    ApprovalRequired,
    ChallengeMismatch,
    DnsLookupFailed,
    InvalidTransition,
    MigrationConflict,
    create_domain_migration,
    dns_txt_lookup,
    domain_migration_cancel,
    domain_migration_execute,
    domain_migration_fail,
    domain_migration_retry,
    domain_migration_rollback,
    domain_migration_verify,
)
from domains.services.migration.advance import domain_migration_advance
from domains.services.publishing import PacketTooLargeError
from domains.services.registration import register_pubky_domain
from families.models import Family, User
from guardians.models import (
    FederationGuardian,
    GuardianApproval,
    GuardianNotification,
    GuardianStatus,
)
from guardians.services import (
    guardian_migration_approve,
    guardian_migration_reject,
    guardian_update,
)
from pubky.testnet import Testnet
from tests.dnsserver import LoopbackDnsServer
from tests.domains.conftest import linked_domain, make_domain, record_set, resolved
from tests.factories import DnsRecordFactory, GuardianFactory

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, ...]:
    return (
        DomainRecord.objects.count(),
        DnsRecord.objects.count(),
        PubkyDomain.objects.count(),
        PkarrRecord.objects.count(),
        DomainMigration.objects.count(),
    )


def publish_challenge(dns_server: LoopbackDnsServer, migration: DomainMigration) -> None:
    """What the family does at its registrar: put the token in the challenge TXT record."""
    dns_server.set_txt(migration.challenge_name, migration.challenge_value)


def verified_migration(
    dns_server: LoopbackDnsServer, domain: DomainRecord, direction: str
) -> DomainMigration:
    migration = create_domain_migration(domain=domain, direction=direction)
    publish_challenge(dns_server, migration)
    return domain_migration_verify(migration=migration)


def guardians(family: Family, n: int) -> list[User]:
    users = []
    for _ in range(n):
        guardian: FederationGuardian = GuardianFactory(family=family)  # type: ignore[assignment]
        assert guardian.user is not None
        users.append(guardian.user)
    return users


# --- DNS → Pubky -------------------------------------------------------------------------------


def test_a_dns_domain_migrates_to_pubky_after_its_txt_challenge(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer, testnet: Testnet
) -> None:
    migration = create_domain_migration(registrar_domain, MigrationDirection.DNS_TO_PUBKY)
    assert migration.state == MigrationState.PENDING
    assert migration.challenge_name == "_pubky-challenge.grandma-bakery.example"
    assert len(migration.challenge_value) >= 32
    registrar_domain.refresh_from_db()
    assert registrar_domain.status == DomainStatus.MIGRATING

    publish_challenge(dns_server, migration)
    domain_migration_verify(migration=migration)
    assert migration.state == MigrationState.VERIFIED
    assert migration.verified_at is not None

    domain_migration_execute(migration=migration)

    migration.refresh_from_db()
    assert migration.state == MigrationState.COMPLETED
    assert migration.completed_at is not None
    assert migration.previous_state["domain"]["status"] == DomainStatus.ACTIVE
    assert migration.previous_state["pubky_domain"] is None
    assert len(migration.previous_state["dns_records"]) == 3
    pubky_domain = migration.pubky_domain
    assert pubky_domain is not None
    assert pubky_domain.status == PubkyDomainStatus.ACTIVE
    packet = resolved(pubky_domain.public_key)
    assert record_set(packet) == {
        ("@", "A", "192.0.2.10"),
        ("@", "TXT", "v=spf1 -all"),
        ("www", "CNAME", "grandma-bakery.example."),
    }
    assert pubky_domain.pkarr_records.filter(status="published").count() == 2
    domain = linked_domain(pubky_domain)
    assert domain.status == DomainStatus.ACTIVE
    assert domain.pubky_enabled
    score = SovereigntyScore.objects.filter(domain=domain).latest()
    assert score.reason == "migration_completed"
    assert score.breakdown["facts"]["migrated_to_pubky"] is True
    assert score.breakdown["facts"]["relays_published"] == 2
    # The lookup went over the wire to our loopback server.
    assert any(q.name == migration.challenge_name for q in dns_server.queries)


def test_verification_can_import_the_live_records_of_the_domain(
    family: Family, dns_server: LoopbackDnsServer
) -> None:
    domain = make_domain(name="live-zone.example", family=family, registrar="Registrar Inc")
    dns_server.set_records("live-zone.example", "A", ["192.0.2.44", "192.0.2.45"], ttl=300)
    dns_server.set_records("live-zone.example", "MX", ["10 mx.live-zone.example."])
    dns_server.set_txt("live-zone.example", "v=spf1 mx -all")
    dns_server.set_records("www.live-zone.example", "CNAME", ["live-zone.example."])
    migration = create_domain_migration(domain=domain, direction=MigrationDirection.DNS_TO_PUBKY)
    publish_challenge(dns_server, migration)

    domain_migration_verify(migration=migration, import_records=True)
    domain_migration_execute(migration=migration)

    assert migration.pubky_domain is not None
    packet = resolved(migration.pubky_domain.public_key)
    assert record_set(packet, ttl=True) == {
        ("@", "A", "192.0.2.44", 300),
        ("@", "A", "192.0.2.45", 300),
        ("@", "MX", "10 mx.live-zone.example.", 60),
        ("@", "TXT", "v=spf1 mx -all", 60),
        ("www", "CNAME", "live-zone.example.", 60),
    }


def test_a_challenge_that_does_not_match_is_refused_and_nothing_is_written(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer
) -> None:
    migration = create_domain_migration(
        domain=registrar_domain, direction=MigrationDirection.DNS_TO_PUBKY
    )
    dns_server.set_txt(migration.challenge_name, "somebody-elses-token")
    before = counts()

    with pytest.raises(ChallengeMismatch) as excinfo:
        domain_migration_verify(migration=migration)

    assert excinfo.value.code == "challenge_mismatch"
    assert "somebody-elses-token" in str(excinfo.value)
    assert migration.challenge_value in str(excinfo.value)  # tells the family what to publish
    assert counts() == before
    migration.refresh_from_db()
    assert migration.state == MigrationState.VERIFYING
    assert "does not hold the challenge token" in migration.error
    with pytest.raises(InvalidTransition):
        domain_migration_execute(migration=migration)
    assert counts() == before

    # Once the right token shows up in DNS, verifying again succeeds.
    publish_challenge(dns_server, migration)
    domain_migration_verify(migration=migration)
    assert migration.state == MigrationState.VERIFIED
    assert migration.error == ""


def test_a_missing_challenge_record_says_so(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer
) -> None:
    migration = create_domain_migration(
        domain=registrar_domain, direction=MigrationDirection.DNS_TO_PUBKY
    )
    with pytest.raises(ChallengeMismatch, match="no TXT record"):
        domain_migration_verify(migration=migration)


def test_a_failing_resolver_is_a_lookup_error_not_a_mismatch(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer
) -> None:
    migration = create_domain_migration(
        domain=registrar_domain, direction=MigrationDirection.DNS_TO_PUBKY
    )
    dns_server.fail_with(dns.rcode.SERVFAIL)

    with pytest.raises(DnsLookupFailed) as excinfo:
        domain_migration_verify(migration=migration)

    assert excinfo.value.code == "dns_lookup_failed"
    migration.refresh_from_db()
    assert migration.state == MigrationState.VERIFYING


def test_long_challenge_answers_come_back_over_tcp(dns_server: LoopbackDnsServer) -> None:
    texts = [f"{i}-" + "t" * 240 for i in range(4)]
    dns_server.set_txt("big.example", *texts)

    assert sorted(dns_txt_lookup("big.example")) == sorted(texts)
    assert {q.transport for q in dns_server.queries} == {"udp", "tcp"}


def test_invalid_transitions_raise_a_clear_error(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer
) -> None:
    migration = create_domain_migration(
        domain=registrar_domain, direction=MigrationDirection.DNS_TO_PUBKY
    )
    with pytest.raises(InvalidTransition, match="is pending; cannot execute it"):
        domain_migration_execute(migration=migration)
    with pytest.raises(InvalidTransition, match="cannot roll back it"):
        domain_migration_rollback(migration=migration)

    publish_challenge(dns_server, migration)
    domain_migration_verify(migration=migration)
    domain_migration_execute(migration=migration)
    with pytest.raises(InvalidTransition, match="is completed; cannot verify"):
        domain_migration_verify(migration=migration)
    with pytest.raises(InvalidTransition, match="is completed; cannot execute"):
        domain_migration_execute(migration=migration)
    with pytest.raises(InvalidTransition, match="cannot fail"):
        domain_migration_fail(migration=migration, reason="too late")


def test_only_one_migration_per_domain_is_open_at_a_time(registrar_domain: DomainRecord) -> None:
    create_domain_migration(domain=registrar_domain, direction=MigrationDirection.DNS_TO_PUBKY)
    with pytest.raises(MigrationConflict, match="already has a migration in progress"):
        create_domain_migration(domain=registrar_domain, direction=MigrationDirection.DNS_TO_PUBKY)
    with pytest.raises(MigrationConflict, match="unknown direction"):
        create_domain_migration(domain=registrar_domain, direction="sideways")


def test_a_migration_that_cannot_publish_fails_and_restores_the_domain(
    registrar_domain: DomainRecord,
    dns_server: LoopbackDnsServer,
    make_testnet: Callable[..., Testnet],
    use_testnet: Callable[[Testnet], Testnet],
) -> None:
    migration = verified_migration(dns_server, registrar_domain, MigrationDirection.DNS_TO_PUBKY)
    net = use_testnet(make_testnet(relays=1))
    net.stop_relay(0)

    with pytest.raises(Exception, match="no relay stored the packet"):
        domain_migration_execute(migration=migration)

    migration.refresh_from_db()
    assert migration.state == MigrationState.FAILED
    assert "no relay stored the packet" in migration.error
    registrar_domain.refresh_from_db()
    assert registrar_domain.status == DomainStatus.ACTIVE
    assert not registrar_domain.pubky_enabled
    assert PubkyDomain.objects.count() == 0
    assert PkarrRecord.objects.count() == 0


def test_a_migration_over_the_packet_limit_fails_without_writing(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer
) -> None:
    for i in range(12):
        DnsRecordFactory(domain=registrar_domain, name=f"r{i}", rtype="TXT", value="y" * 90)
    migration = verified_migration(dns_server, registrar_domain, MigrationDirection.DNS_TO_PUBKY)

    with pytest.raises(PacketTooLargeError):
        domain_migration_execute(migration=migration)

    migration.refresh_from_db()
    assert migration.state == MigrationState.FAILED
    assert "do not fit in a PKARR packet" in migration.error
    assert PubkyDomain.objects.count() == 0


# --- rollback ----------------------------------------------------------------------------------


def test_rolling_back_a_completed_migration_restores_the_previous_state(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer
) -> None:
    migration = verified_migration(dns_server, registrar_domain, MigrationDirection.DNS_TO_PUBKY)
    domain_migration_execute(migration=migration)
    # Records changed after the move are undone too.
    DnsRecordFactory(domain=registrar_domain, name="new", rtype="A", value="198.51.100.9")
    registrar_domain.dns_records.filter(rtype="TXT").delete()

    domain_migration_rollback(migration=migration, reason="family changed its mind")

    migration.refresh_from_db()
    assert migration.state == MigrationState.ROLLED_BACK
    assert migration.rolled_back_at is not None
    registrar_domain.refresh_from_db()
    assert registrar_domain.status == DomainStatus.ACTIVE
    assert not registrar_domain.pubky_enabled
    assert registrar_domain.pubky_relay_url == ""
    assert sorted(
        registrar_domain.dns_records.values_list("name", "rtype", "value", "ttl")
    ) == sorted(tuple(r) for r in migration.previous_state["dns_records"])
    pubky_domain = PubkyDomain.objects.get(domain=registrar_domain)
    assert pubky_domain.status == PubkyDomainStatus.DISABLED
    assert pubky_domain.has_private_key  # kept for audit and a later retry
    score = SovereigntyScore.objects.filter(domain=registrar_domain).latest()
    assert score.reason == "migration_rolled_back"
    assert score.breakdown["facts"]["pubky_active"] is False
    assert score.breakdown["facts"]["migrated_to_pubky"] is False
    with pytest.raises(InvalidTransition):
        domain_migration_rollback(migration=migration)


def test_migrating_again_after_a_rollback_reuses_the_domain_key(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer
) -> None:
    first = verified_migration(dns_server, registrar_domain, MigrationDirection.DNS_TO_PUBKY)
    domain_migration_execute(migration=first)
    domain_migration_rollback(migration=first)
    key = PubkyDomain.objects.get(domain=registrar_domain).public_key

    second = verified_migration(dns_server, registrar_domain, MigrationDirection.DNS_TO_PUBKY)
    domain_migration_execute(migration=second)

    assert second.pubky_domain is not None
    assert second.pubky_domain.public_key == key
    assert second.previous_state["pubky_domain"]["status"] == PubkyDomainStatus.DISABLED
    assert resolved(key).timestamp == second.pubky_domain.last_packet_timestamp


# --- Pubky → DNS -------------------------------------------------------------------------------


def test_a_pubky_domain_moves_back_to_registrar_dns_and_rolls_back(
    family: Family, dns_server: LoopbackDnsServer
) -> None:
    pubky_domain = register_pubky_domain(
        name="homecoming.example",
        family=family,
        records=[("@", "A", "192.0.2.77"), ("blog", "CNAME", "homecoming.example.")],
    )
    domain = linked_domain(pubky_domain)
    # Records added on the Pubky side only (e.g. by the family's own tooling) come along too.
    domain.dns_records.filter(name="blog").delete()
    with pytest.raises(MigrationConflict, match="already on Pubky"):
        create_domain_migration(domain=domain, direction=MigrationDirection.DNS_TO_PUBKY)

    migration = verified_migration(dns_server, domain, MigrationDirection.PUBKY_TO_DNS)
    domain_migration_execute(migration=migration)

    domain.refresh_from_db()
    pubky_domain.refresh_from_db()
    assert migration.state == MigrationState.COMPLETED
    assert not domain.pubky_enabled
    assert pubky_domain.status == PubkyDomainStatus.DISABLED
    assert set(domain.dns_records.values_list("name", "rtype", "value")) == {
        ("@", "A", "192.0.2.77"),
        ("blog", "CNAME", "homecoming.example."),
    }
    assert (
        SovereigntyScore.objects.filter(domain=domain).latest().breakdown["facts"]["pubky_active"]
        is False
    )

    domain_migration_rollback(migration=migration)

    domain.refresh_from_db()
    pubky_domain.refresh_from_db()
    assert pubky_domain.status == PubkyDomainStatus.ACTIVE
    assert domain.pubky_enabled
    assert set(domain.dns_records.values_list("name", "rtype", "value")) == {
        ("@", "A", "192.0.2.77")
    }


# --- guardian approval gate --------------------------------------------------------------------


def test_guardian_approval_gates_publishing_until_m_of_n_approve(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer
) -> None:
    family = registrar_domain.family
    family.guardian_approval_required = True
    family.guardian_threshold = 2
    family.save()
    alice, bob, _carol = guardians(family, 3)

    migration = verified_migration(dns_server, registrar_domain, MigrationDirection.DNS_TO_PUBKY)
    assert migration.approvals_required == 2
    asked = GuardianNotification.objects.get(family=family, kind="migration_approval_requested")
    assert asked.payload["migration_id"] == migration.pk

    with pytest.raises(ApprovalRequired, match="needs 2 guardian approval"):
        domain_migration_execute(migration=migration)
    guardian_migration_approve(user=alice, migration=migration)
    with pytest.raises(ApprovalRequired, match="1 given"):
        domain_migration_execute(migration=migration)
    migration.refresh_from_db()
    assert migration.state == MigrationState.VERIFIED
    assert PubkyDomain.objects.count() == 0

    guardian_migration_approve(user=bob, migration=migration, comment="looks right")
    assert GuardianNotification.objects.filter(kind="migration_approved").count() == 1
    domain_migration_execute(migration=migration)

    assert migration.state == MigrationState.COMPLETED
    assert migration.pubky_domain is not None


def test_one_guardian_rejection_fails_the_migration(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer
) -> None:
    family = registrar_domain.family
    family.guardian_approval_required = True
    family.guardian_threshold = 1
    family.save()
    (alice,) = guardians(family, 1)
    migration = verified_migration(dns_server, registrar_domain, MigrationDirection.DNS_TO_PUBKY)

    guardian_migration_reject(user=alice, migration=migration, comment="not now")

    migration.refresh_from_db()
    assert migration.state == MigrationState.FAILED
    assert "rejected by guardian" in migration.error
    assert "not now" in migration.error
    with pytest.raises(InvalidTransition):
        domain_migration_execute(migration=migration)
    registrar_domain.refresh_from_db()
    assert registrar_domain.status == DomainStatus.ACTIVE


def test_a_family_without_enough_guardians_cannot_start_a_gated_migration(
    registrar_domain: DomainRecord,
) -> None:
    family = registrar_domain.family
    family.guardian_approval_required = True
    family.guardian_threshold = 3
    family.save()
    guardians(family, 2)

    with pytest.raises(MigrationConflict, match="requires 3 guardian approval"):
        create_domain_migration(domain=registrar_domain, direction=MigrationDirection.DNS_TO_PUBKY)
    assert DomainMigration.objects.count() == 0


def _gate(family: Family, *, threshold: int, required: bool = True) -> None:
    family.guardian_approval_required = required
    family.guardian_threshold = threshold
    family.save()


def test_a_threshold_raised_after_creation_holds(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer
) -> None:
    family = registrar_domain.family
    alice, bob = guardians(family, 2)
    migration = verified_migration(dns_server, registrar_domain, MigrationDirection.DNS_TO_PUBKY)
    assert migration.approvals_required == 0  # no approval needed when it was created

    _gate(family, threshold=2)
    with pytest.raises(
        ApprovalRequired, match=r"needs 2 guardian approval.*raised from 0.*0 given"
    ):
        domain_migration_execute(migration=migration)
    guardian_migration_approve(user=alice, migration=migration)
    migration.refresh_from_db()
    assert migration.approvals_required == 2  # the raised policy is recorded on the migration
    assert not GuardianNotification.objects.filter(kind="migration_approved").exists()
    with pytest.raises(ApprovalRequired, match="1 given"):
        domain_migration_execute(migration=migration)

    # Lowering the policy again never goes below what the migration already required.
    _gate(family, threshold=1, required=False)
    with pytest.raises(ApprovalRequired, match="needs 2 guardian approval"):
        domain_migration_execute(migration=migration)
    guardian_migration_approve(user=bob, migration=migration)
    assert GuardianNotification.objects.filter(kind="migration_approved").count() == 1
    domain_migration_execute(migration=migration)
    assert migration.state == MigrationState.COMPLETED


def test_a_guardian_who_leaves_the_family_loses_pending_votes(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer
) -> None:
    family = registrar_domain.family
    _gate(family, threshold=1)
    alice, _bob = guardians(family, 2)
    migration = verified_migration(dns_server, registrar_domain, MigrationDirection.DNS_TO_PUBKY)
    guardian_migration_approve(user=alice, migration=migration)
    guardian = FederationGuardian.objects.get(family=family, user=alice)

    guardian_update(guardian=guardian, status=GuardianStatus.REVOKED)
    assert not GuardianApproval.objects.filter(guardian=guardian).exists()
    guardian_update(guardian=guardian, status=GuardianStatus.ACTIVE)  # back, but must decide anew
    with pytest.raises(ApprovalRequired, match="0 given"):
        domain_migration_execute(migration=migration)


def test_a_failed_migration_is_retried_from_the_step_that_failed_to_completion(
    registrar_domain: DomainRecord,
    dns_server: LoopbackDnsServer,
    make_testnet: Callable[..., Testnet],
    use_testnet: Callable[[Testnet], Testnet],
) -> None:
    family = registrar_domain.family
    _gate(family, threshold=1)
    (alice,) = guardians(family, 1)
    migration = verified_migration(dns_server, registrar_domain, MigrationDirection.DNS_TO_PUBKY)
    guardian_migration_approve(user=alice, migration=migration)
    net = use_testnet(make_testnet(relays=1))
    net.stop_relay(0)
    with pytest.raises(Exception, match="no relay stored the packet"):
        domain_migration_advance(migration=migration)
    migration.refresh_from_db()
    assert (migration.state, migration.failed_step) == (MigrationState.FAILED, "publishing")

    # Every refusal names the real state and what can be done.
    with pytest.raises(InvalidTransition, match=r"failed at publishing: no relay stored.*retry it"):
        domain_migration_advance(migration=migration)
    with pytest.raises(InvalidTransition, match=r"is failed at publishing.*retry it.*or cancel"):
        domain_migration_rollback(migration=migration)

    net.start_relay(0)
    domain_migration_retry(migration=migration)
    assert migration.state == MigrationState.VERIFIED  # the challenge is not asked again
    assert (migration.error, migration.failed_step) == ("", "")
    registrar_domain.refresh_from_db()
    assert registrar_domain.status == DomainStatus.MIGRATING
    domain_migration_advance(migration=migration)  # approvals still hold

    assert migration.state == MigrationState.COMPLETED
    registrar_domain.refresh_from_db()
    assert registrar_domain.status == DomainStatus.ACTIVE and registrar_domain.pubky_enabled
    assert resolved(migration.pubky_domain.public_key) is not None  # type: ignore[union-attr]


def test_a_failed_migration_can_be_cancelled_and_a_rejected_one_is_not_retried(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer
) -> None:
    family = registrar_domain.family
    _gate(family, threshold=1)
    (alice,) = guardians(family, 1)
    migration = verified_migration(dns_server, registrar_domain, MigrationDirection.DNS_TO_PUBKY)
    guardian_migration_reject(user=alice, migration=migration, comment="no")
    with pytest.raises(InvalidTransition, match="rejected by guardian"):
        domain_migration_retry(migration=migration)

    domain_migration_cancel(migration=migration, reason="changed our minds")
    assert migration.state == MigrationState.CANCELLED
    with pytest.raises(InvalidTransition, match=r"is cancelled; cannot retry.*open a new"):
        domain_migration_retry(migration=migration)
    with pytest.raises(InvalidTransition, match="is cancelled; cannot cancel"):
        domain_migration_cancel(migration=migration)
    # The domain is free for a new migration.
    create_domain_migration(domain=registrar_domain, direction=MigrationDirection.DNS_TO_PUBKY)


def test_an_open_migration_is_cancelled_and_the_domain_gets_its_status_back(
    registrar_domain: DomainRecord,
) -> None:
    migration = create_domain_migration(
        domain=registrar_domain, direction=MigrationDirection.DNS_TO_PUBKY
    )
    domain_migration_cancel(migration=migration)
    assert migration.state == MigrationState.CANCELLED
    registrar_domain.refresh_from_db()
    assert registrar_domain.status == DomainStatus.ACTIVE
    with pytest.raises(InvalidTransition, match="is cancelled; nothing to advance"):
        domain_migration_advance(migration=migration)
