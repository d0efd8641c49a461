"""Admin actions: the API's operations from the changelist, through the services and the policy.

Each action is posted to its changelist by a logged-in staff user, as the action menu posts it,
and the service's effect is read back from the database. A staff user without the family's
right gets that object refused (message, log line, ``access_denied`` security event, nothing
changed) while the rest of the selection proceeds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

import pytest
from django.contrib.auth.models import Permission

from domains.models import (
    DomainMigration,
    DomainRecord,
    DomainStatus,
    MigrationDirection,
    MigrationState,
    PkarrPublishStatus,
    PubkyDomain,
    PubkyDomainStatus,
    RelayStatus,
    SovereigntyScore,
)
from domains.services.migration import (
    create_domain_migration,
    domain_migration_execute,
    domain_migration_fail,
    domain_migration_verify,
)
from domains.services.registration import register_pubky_domain
from domains.services.relays import relay_statuses_check
from families.models import Family, FamilyRole, SecurityEvent, SecurityEventKind, User
from guardians.models import (
    ApprovalDecision,
    FederationGuardian,
    GuardianApproval,
    GuardianNotification,
    GuardianStatus,
)
from pubky.testnet import Testnet
from tests.admin.conftest import AdminBrowser, staff_user
from tests.dnsserver import LoopbackDnsServer
from tests.factories import DomainFactory, FamilyFactory, GuardianFactory, MembershipFactory

pytestmark = pytest.mark.django_db

Browse = Callable[[User], AdminBrowser]


def family_of(user: User, role: str = FamilyRole.MEMBER, **kwargs: Any) -> Family:
    family = cast(Family, FamilyFactory(**kwargs))
    MembershipFactory(family=family, user=user, role=role)
    return family


def registered(family: Family, name: str) -> PubkyDomain:
    return register_pubky_domain(name=name, family=family, records=[("@", "A", "192.0.2.7")])


def stale_domain(family: Family, name: str) -> DomainRecord:
    """A domain whose stored score is not what its facts give (never calculated)."""
    domain = cast(DomainRecord, DomainFactory(family=family, name=name))
    DomainRecord.objects.filter(pk=domain.pk).update(sovereignty_score=0)
    domain.refresh_from_db()
    assert not SovereigntyScore.objects.filter(domain=domain).exists()
    return domain


def label(migration: DomainMigration) -> str:
    return f"Migration {migration.pk} of {migration.domain.name}"


def denials(user: User) -> list[SecurityEvent]:
    return list(
        SecurityEvent.objects.filter(kind=SecurityEventKind.ACCESS_DENIED, user=user).order_by("pk")
    )


# --- Pubky domains -----------------------------------------------------------------------------


def test_a_member_republishes_a_pubky_domain_from_the_admin(
    browse: Browse, testnet: Testnet
) -> None:
    alice = staff_user("alice")
    pubky_domain = registered(family_of(alice), "republish-me.example")
    before = pubky_domain.last_packet_timestamp
    assert before is not None

    result = browse(alice).act("republish", [pubky_domain])

    assert result.status_code == 200
    pubky_domain.refresh_from_db()
    assert pubky_domain.last_packet_timestamp is not None
    assert pubky_domain.last_packet_timestamp > before
    rows = pubky_domain.pkarr_records.all()
    assert {r.relay_url for r in rows} == set(testnet.relay_urls)
    assert all(r.status == PkarrPublishStatus.PUBLISHED for r in rows)
    assert result.messages == ["Pubky domain republish-me.example: published on 2 of 2 relays"]
    # The key was opened to sign, and the audit trail says for whom.
    key_use = SecurityEvent.objects.filter(kind=SecurityEventKind.PRIVATE_KEY_USED).latest("pk")
    assert key_use.user == alice
    assert key_use.target == f"pubky_domain:{pubky_domain.pk}"


def test_a_staff_user_without_the_family_right_is_refused_and_nothing_changes(
    browse: Browse, testnet: Testnet, caplog: pytest.LogCaptureFixture
) -> None:
    owner = staff_user("owner")
    pubky_domain = registered(family_of(owner), "not-yours.example")
    before = (pubky_domain.last_packet_timestamp, pubky_domain.last_published_at)
    keys_opened = SecurityEvent.objects.filter(kind=SecurityEventKind.PRIVATE_KEY_USED).count()
    mallory = staff_user("mallory")  # staff, may browse Pubky domains, in no family

    with caplog.at_level(logging.WARNING, logger="pubkyproject.admin"):
        result = browse(mallory).act("republish", [pubky_domain])

    assert result.messages == [
        "Pubky domain not-yours.example: not republished, only members of its family (or "
        "holders of a write grant) may republish it."
    ]
    pubky_domain.refresh_from_db()
    assert (pubky_domain.last_packet_timestamp, pubky_domain.last_published_at) == before
    assert (
        SecurityEvent.objects.filter(kind=SecurityEventKind.PRIVATE_KEY_USED).count() == keys_opened
    )
    (event,) = denials(mallory)
    assert event.target == f"admin:republish domains.pubkydomain:{pubky_domain.pk}"
    assert event.detail["via"] == "admin"
    assert event.detail["object"] == "Pubky domain not-yours.example"
    assert event.ip_address == "127.0.0.1"
    assert any(
        "republish refused: user mallory" in r.getMessage() and r.levelno == logging.WARNING
        for r in caplog.records
    )


def test_a_mixed_selection_refuses_some_and_proceeds_with_the_others(
    browse: Browse, testnet: Testnet
) -> None:
    alice = staff_user("alice")
    mine = stale_domain(family_of(alice), "mine.example")
    theirs = stale_domain(cast(Family, FamilyFactory()), "theirs.example")
    also_mine = stale_domain(mine.family, "also-mine.example")

    result = browse(alice).act("recalculate_scores", [mine, theirs, also_mine])

    for domain in (mine, also_mine):
        domain.refresh_from_db()
        score = SovereigntyScore.objects.get(domain=domain)
        assert score.reason == "recalculated"
        assert domain.sovereignty_score == score.total > 0
    theirs.refresh_from_db()
    assert theirs.sovereignty_score == 0
    assert not SovereigntyScore.objects.filter(domain=theirs).exists()
    text = result.text()
    assert f"Domain mine.example: score {mine.sovereignty_score}/100 (was 0)" in text
    assert "Domain also-mine.example: score" in text
    assert "Domain theirs.example: not recalculated, only members" in text
    assert "Recalculate the sovereignty score: 2 done, 1 refused." in text
    (event,) = denials(alice)
    assert event.detail["object_id"] == theirs.pk


def test_check_relays_now_records_relay_health_and_what_each_relay_serves(
    browse: Browse, testnet: Testnet
) -> None:
    alice = staff_user("alice")
    pubky_domain = registered(family_of(alice), "check-me.example")

    result = browse(alice).act("check_relays", [pubky_domain])

    assert result.messages == [
        "Pubky domain check-me.example: 2 of 2 relays up; 2 of 2 relays serve its current packet"
    ]
    statuses = RelayStatus.objects.filter(url__in=testnet.relay_urls)
    assert statuses.count() == 2
    assert all(s.is_up and s.last_checked_at is not None for s in statuses)
    rows = pubky_domain.pkarr_records.all()
    assert all(
        r.verified_at is not None and r.served_timestamp == pubky_domain.last_packet_timestamp
        for r in rows
    )


def test_a_relay_that_is_down_is_reported_in_plain_words(
    browse: Browse,
    make_testnet: Callable[..., Testnet],
    use_testnet: Callable[[Testnet], Testnet],
) -> None:
    net = use_testnet(make_testnet(relays=1))
    alice = staff_user("alice")
    pubky_domain = registered(family_of(alice), "offline.example")
    before = pubky_domain.last_packet_timestamp
    net.stop_relay(0)

    result = browse(alice).act("republish", [pubky_domain])

    (message,) = result.messages
    assert message.startswith(
        "Pubky domain offline.example: not republished. No relay took the packet ("
        f"{net.relay_urls[0]}: The relay did not answer (connection refused"
    )
    for raw in ("HTTPConnectionPool", "Max retries", "Traceback", "PublishFailed"):
        assert raw not in message
    pubky_domain.refresh_from_db()
    assert pubky_domain.last_packet_timestamp == before
    assert pubky_domain.pkarr_records.get().status == PkarrPublishStatus.FAILED


def test_staff_check_a_relay_now_and_hear_when_it_went_down(
    browse: Browse,
    make_testnet: Callable[..., Testnet],
    use_testnet: Callable[[Testnet], Testnet],
) -> None:
    net = use_testnet(make_testnet(relays=1))
    (url,) = net.relay_urls
    relay_statuses_check()
    relay = RelayStatus.objects.get(url=url.rstrip("/"))
    old = RelayStatus.objects.create(url="http://127.0.0.1:9/", is_up=True)
    ops = staff_user("ops")
    ops.user_permissions.add(Permission.objects.get(codename="view_relaystatus"))
    browser = browse(ops)

    result = browser.act("check_now", [relay])
    assert result.messages[0].startswith(f"Relay {relay.url}: up (")

    net.stop_relay(0)
    result = browser.act("check_now", [relay, old])

    relay.refresh_from_db()
    assert relay.is_up is False
    assert relay.consecutive_failures == 1
    text = result.text()
    assert f"Relay {relay.url}: down: The relay did not answer (connection refused" in text
    assert "; it went down" in text
    assert (
        "Relay http://127.0.0.1:9/: not checked. It is no longer configured (PUBKY_RELAYS), so "
        "it is not checked." in text
    )
    assert SecurityEvent.objects.filter(
        kind=SecurityEventKind.RELAY_DOWN, target=relay.url
    ).exists()


# --- families ----------------------------------------------------------------------------------


def test_family_actions_rescore_its_domains_and_republish_its_pubky_domains(
    browse: Browse, testnet: Testnet
) -> None:
    alice = staff_user("alice")
    family = family_of(alice, role=FamilyRole.ADMIN, name="Smiths")
    stale = stale_domain(family, "stale.example")
    pubky_domain = registered(family, "smiths.example")
    before = pubky_domain.last_packet_timestamp
    assert before is not None
    browser = browse(alice)

    page = browser.actions_offered(Family)
    assert "Recalculate the sovereignty scores of their domains" in page
    assert "Republish their Pubky domains now" in page

    result = browser.act("recalculate_family_scores", [family])
    stale.refresh_from_db()
    assert SovereigntyScore.objects.filter(domain=stale, reason="recalculated").exists()
    assert result.messages == [
        f"Family Smiths: 2 domains scored; changed: stale.example 0 → {stale.sovereignty_score}"
    ]

    result = browser.act("republish_family_pubky_domains", [family])
    pubky_domain.refresh_from_db()
    assert pubky_domain.last_packet_timestamp is not None
    assert pubky_domain.last_packet_timestamp > before
    assert result.messages == [
        "Family Smiths: republished 1 of 1 Pubky domain: smiths.example (published on 2 of "
        "2 relays)"
    ]


def test_a_guardian_who_reads_a_family_may_not_rescore_it(browse: Browse) -> None:
    family = cast(Family, FamilyFactory(name="Watched"))
    stale = stale_domain(family, "watched.example")
    grandma = staff_user("grandma")
    GuardianFactory(family=family, user=grandma)  # reads the family, changes nothing

    result = browse(grandma).act("recalculate_family_scores", [family])

    assert result.messages == [
        "Family Watched: not recalculated, only members of the family may recalculate its "
        "domains' scores."
    ]
    assert not SovereigntyScore.objects.filter(domain=stale).exists()
    assert len(denials(grandma)) == 1


# --- migrations --------------------------------------------------------------------------------


def open_migration(family: Family, name: str) -> DomainMigration:
    domain = cast(DomainRecord, DomainFactory(family=family, name=name))
    return create_domain_migration(domain=domain, direction=MigrationDirection.DNS_TO_PUBKY)


def test_advance_checks_the_dns_challenge(browse: Browse, dns_server: LoopbackDnsServer) -> None:
    alice = staff_user("alice")
    migration = open_migration(family_of(alice), "moving.example")
    dns_server.set_txt(migration.challenge_name, migration.challenge_value)

    result = browse(alice).act("advance", [migration])

    migration.refresh_from_db()
    assert migration.state == MigrationState.VERIFIED
    assert migration.verified_at is not None
    assert result.messages == [f"{label(migration)}: now verified"]


def test_a_missing_challenge_record_is_explained_and_the_migration_waits(
    browse: Browse, dns_server: LoopbackDnsServer
) -> None:
    alice = staff_user("alice")
    migration = open_migration(family_of(alice), "no-txt-yet.example")

    result = browse(alice).act("advance", [migration])

    assert result.messages == [
        f"{label(migration)}: not advanced. The DNS check did not find the challenge record: add "
        "the TXT record shown for this migration, give DNS a few minutes, then verify again."
    ]
    migration.refresh_from_db()
    assert migration.state == MigrationState.VERIFYING


def test_a_migration_in_the_wrong_state_is_explained_not_raised(browse: Browse) -> None:
    alice = staff_user("alice")
    migration = open_migration(family_of(alice), "pending.example")

    result = browse(alice).act("retry", [migration])

    (message,) = result.messages
    assert message.startswith(f"{label(migration)}: not retried. Migration ")
    assert "cannot retry it (only from failed)" in message
    assert "InvalidTransition" not in message
    migration.refresh_from_db()
    assert migration.state == MigrationState.PENDING


def test_a_failed_migration_is_retried_from_the_step_that_failed(browse: Browse) -> None:
    alice = staff_user("alice")
    migration = open_migration(family_of(alice), "again.example")
    domain_migration_fail(migration=migration, reason="DNS lookup of x timed out")

    result = browse(alice).act("retry", [migration])

    migration.refresh_from_db()
    assert (migration.state, migration.error) == (MigrationState.PENDING, "")
    assert migration.domain.status == DomainStatus.MIGRATING
    assert result.messages == [f"{label(migration)}: now pending; advance it to go on"]


def test_cancel_asks_first_then_cancels_with_the_reason(browse: Browse) -> None:
    alice = staff_user("alice")
    family = family_of(alice)
    migration = open_migration(family, "cancel-me.example")
    theirs = open_migration(cast(Family, FamilyFactory()), "not-mine.example")
    browser = browse(alice)

    page = browser.act("cancel", [migration, theirs])

    assert page.status_code == 200
    assert "Cancel these migrations for good?" in page.html
    assert "cancel-me.example" in page.html
    assert "(you may not: this one will be refused)" in page.html
    assert 'name="confirmed" value="yes"' in page.html
    for row in (migration, theirs):
        row.refresh_from_db()
        assert row.state == MigrationState.PENDING
    assert denials(alice) == []  # nothing was attempted yet

    result = browser.act("cancel", [migration, theirs], confirmed="yes", reason="wrong domain")

    migration.refresh_from_db()
    assert (migration.state, migration.error) == (MigrationState.CANCELLED, "wrong domain")
    assert migration.domain.status == DomainStatus.ACTIVE
    theirs.refresh_from_db()
    assert theirs.state == MigrationState.PENDING
    assert f"{label(migration)}: now cancelled" in result.text()
    assert f"{label(theirs)}: not cancelled, only members" in result.text()
    assert len(denials(alice)) == 1


def test_a_completed_migration_is_rolled_back_after_confirmation(
    browse: Browse, dns_server: LoopbackDnsServer, testnet: Testnet
) -> None:
    alice = staff_user("alice")
    migration = open_migration(family_of(alice), "undo.example")
    dns_server.set_txt(migration.challenge_name, migration.challenge_value)
    domain_migration_verify(migration=migration)
    domain_migration_execute(migration=migration)
    migration.refresh_from_db()
    assert migration.state == MigrationState.COMPLETED

    result = browse(alice).act("rollback", [migration], confirmed="yes", reason="")

    migration.refresh_from_db()
    assert migration.state == MigrationState.ROLLED_BACK
    assert migration.pubky_domain is not None
    assert migration.pubky_domain.status == PubkyDomainStatus.DISABLED
    assert result.messages == [f"{label(migration)}: now rolled back"]


def test_a_guardian_approves_and_rejects_from_the_admin(browse: Browse) -> None:
    family = cast(Family, FamilyFactory(guardian_approval_required=True, guardian_threshold=1))
    grandma = staff_user("grandma")
    guardian = cast(FederationGuardian, GuardianFactory(family=family, user=grandma))
    approved = open_migration(family, "approve-me.example")
    rejected = open_migration(family, "reject-me.example")
    browser = browse(grandma)

    result = browser.act("approve_as_guardian", [approved])
    assert GuardianApproval.objects.get(migration=approved).guardian == guardian
    assert result.messages == [f"{label(approved)}: approved by you; the migration is pending"]

    page = browser.act("reject_as_guardian", [rejected])
    assert "Reject these migrations as their family&#x27;s guardian?" in page.html
    assert not GuardianApproval.objects.filter(migration=rejected).exists()

    result = browser.act("reject_as_guardian", [rejected], confirmed="yes", reason="too soon")
    approval = GuardianApproval.objects.get(migration=rejected)
    assert (approval.decision, approval.comment) == (ApprovalDecision.REJECTED, "too soon")
    rejected.refresh_from_db()
    assert rejected.state == MigrationState.FAILED
    assert result.messages == [f"{label(rejected)}: rejected by you; the migration is failed"]


def test_only_a_guardian_decides_even_a_superuser_is_refused(browse: Browse) -> None:
    family = cast(Family, FamilyFactory(guardian_approval_required=True, guardian_threshold=1))
    GuardianFactory(family=family)
    migration = open_migration(family, "guarded.example")
    root = staff_user("root", superuser=True)

    result = browse(root).act("approve_as_guardian", [migration])

    assert result.messages == [
        f"{label(migration)}: not approved, only an active guardian of the "
        "domain's family decides on its migrations."
    ]
    assert not GuardianApproval.objects.exists()
    assert len(denials(root)) == 1


def test_a_guardian_who_already_decided_is_told_so(browse: Browse) -> None:
    family = cast(Family, FamilyFactory(guardian_approval_required=True, guardian_threshold=2))
    grandma = staff_user("grandma")
    GuardianFactory(family=family, user=grandma)
    GuardianFactory(family=family)
    migration = open_migration(family, "twice.example")
    browser = browse(grandma)
    browser.act("approve_as_guardian", [migration])

    result = browser.act("approve_as_guardian", [migration])

    (message,) = result.messages
    assert message.startswith(f"{label(migration)}: not approved. ")
    assert "has already decided" in message
    assert GuardianApproval.objects.filter(migration=migration).count() == 1


# --- guardians ---------------------------------------------------------------------------------


def test_an_administrator_asks_guardians_for_a_fresh_backup(browse: Browse) -> None:
    alice = staff_user("alice")
    family = family_of(alice, role=FamilyRole.ADMIN, name="Keepers")
    guardian = cast(FederationGuardian, GuardianFactory(family=family, name="Grandma"))
    revoked = cast(
        FederationGuardian,
        GuardianFactory(family=family, name="Uncle", status=GuardianStatus.REVOKED),
    )
    elsewhere = cast(FederationGuardian, GuardianFactory(name="Stranger"))

    result = browse(alice).act("request_backup", [guardian, revoked, elsewhere])

    notification = GuardianNotification.objects.get(kind="backup_requested")
    assert notification.guardian == guardian
    assert notification.family == family
    assert notification.title == "Please back up the key of Keepers"
    assert "The backup you last reported: no backup." in notification.message
    assert SecurityEvent.objects.filter(
        kind=SecurityEventKind.GUARDIAN_ACTION,
        user=alice,
        target=f"guardian:{guardian.pk}",
        detail__action="backup_requested",
    ).exists()
    text = result.text()
    assert "Guardian Grandma of Keepers: asked for a fresh backup (notified)" in text
    assert (
        "Guardian Uncle of Keepers: not asked. Uncle is no longer a guardian of Keepers "
        "(revoked)." in text
    )
    assert (
        f"Guardian Stranger of {elsewhere.family.name}: not asked, only administrators of the"
        in text
    )
    assert "Ask for a fresh key backup: 1 done, 1 refused, 1 failed." in text
    assert [e.detail["object_id"] for e in denials(alice)] == [elsewhere.pk]


def test_a_member_who_is_not_an_administrator_may_not_ask_for_backups(browse: Browse) -> None:
    bob = staff_user("bob")
    family = family_of(bob, role=FamilyRole.MEMBER)
    guardian = cast(FederationGuardian, GuardianFactory(family=family))

    result = browse(bob).act("request_backup", [guardian])

    assert "not asked, only administrators of the guardian's family may ask" in result.text()
    assert not GuardianNotification.objects.filter(kind="backup_requested").exists()


def test_check_backup_now_records_the_outcome(browse: Browse, testnet: Testnet) -> None:
    alice = staff_user("alice")
    family = family_of(alice, role=FamilyRole.ADMIN, name="Checked")
    guardian = cast(FederationGuardian, GuardianFactory(family=family, name="Grandma"))

    result = browse(alice).act("check_backup", [guardian])

    guardian.refresh_from_db()
    assert guardian.pubky_backup_checked_at is not None
    assert guardian.pubky_backup_check_error == "no backup reported as current"
    assert result.messages == [
        "Guardian Grandma of Checked: checked: the backup does not count (no backup reported "
        "as current)"
    ]
