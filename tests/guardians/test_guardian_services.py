"""Guardian actions: deciding on migrations, recording backups, notifications, audit trail."""

from __future__ import annotations

from typing import Any, cast

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError

from domains.models import (
    DomainMigration,
    DomainRecord,
    MigrationDirection,
    MigrationState,
    SovereigntyScore,
)
from domains.services.migration import (
    InvalidTransition,
    create_domain_migration,
    domain_migration_approvals,
    domain_migration_fail,
)
from domains.services.registration import create_pubky_domain
from families.models import Family, FamilyRole, SecurityEvent, SecurityEventKind, User
from guardians.models import (
    ApprovalDecision,
    BackupStatus,
    FederationGuardian,
    GuardianApproval,
    GuardianNotification,
    GuardianStatus,
)
from guardians.services import (
    AlreadyDecided,
    guardian_backup_status_record,
    guardian_migration_approve,
    guardian_migration_decide,
    guardian_migration_reject,
    guardian_notification_create,
    guardian_notification_mark_read,
)
from tests.factories import (
    DomainFactory,
    FamilyFactory,
    GuardianFactory,
    MembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def make(factory: Any, **kwargs: Any) -> Any:
    return factory(**kwargs)


@pytest.fixture
def family() -> Family:
    return cast(Family, make(FamilyFactory, guardian_approval_required=True, guardian_threshold=2))


@pytest.fixture
def guardians(family: Family) -> list[FederationGuardian]:
    return [cast(FederationGuardian, make(GuardianFactory, family=family)) for _ in range(3)]


@pytest.fixture
def migration(family: Family, guardians: list[FederationGuardian]) -> DomainMigration:
    domain = cast(DomainRecord, make(DomainFactory, family=family, name="guarded.example"))
    return create_domain_migration(domain=domain, direction=MigrationDirection.DNS_TO_PUBKY)


def user_of(guardian: FederationGuardian) -> User:
    assert guardian.user is not None
    return guardian.user


def guardian_events(action: str) -> list[SecurityEvent]:
    return [
        e
        for e in SecurityEvent.objects.filter(kind=SecurityEventKind.GUARDIAN_ACTION)
        if e.detail.get("action") == action
    ]


# --- deciding ----------------------------------------------------------------------------------


def test_an_approval_is_recorded_and_audited(
    migration: DomainMigration, guardians: list[FederationGuardian]
) -> None:
    approval = guardian_migration_approve(
        user=user_of(guardians[0]), migration=migration, comment="yes"
    )

    assert approval.decision == ApprovalDecision.APPROVED
    assert approval.guardian == guardians[0]
    assert domain_migration_approvals(migration) == 1
    (event,) = guardian_events("migration_approved")
    assert event.user == user_of(guardians[0])
    assert event.target == f"domain_migration:{migration.pk}"
    content_type = ContentType.objects.get_for_model(GuardianApproval)
    assert LogEntry.objects.filter(
        content_type=content_type, object_pk=str(approval.pk), action=LogEntry.Action.CREATE
    ).exists()


def test_reaching_the_threshold_notifies_the_family(
    migration: DomainMigration, guardians: list[FederationGuardian]
) -> None:
    guardian_migration_approve(user=user_of(guardians[0]), migration=migration)
    assert not GuardianNotification.objects.filter(kind="migration_approved").exists()
    guardian_migration_approve(user=user_of(guardians[1]), migration=migration)
    note = GuardianNotification.objects.get(kind="migration_approved")
    assert note.payload == {"migration_id": migration.pk, "domain": "guarded.example"}


def test_each_guardian_decides_once(
    migration: DomainMigration, guardians: list[FederationGuardian]
) -> None:
    alice = user_of(guardians[0])
    guardian_migration_approve(user=alice, migration=migration)

    with pytest.raises(AlreadyDecided, match="already decided"):
        guardian_migration_approve(user=alice, migration=migration)
    with pytest.raises(AlreadyDecided):
        guardian_migration_reject(user=alice, migration=migration)

    assert GuardianApproval.objects.filter(migration=migration).count() == 1
    migration.refresh_from_db()
    assert migration.state == MigrationState.PENDING


def test_a_rejection_fails_the_migration_and_says_who(
    migration: DomainMigration, guardians: list[FederationGuardian]
) -> None:
    guardian_migration_reject(user=user_of(guardians[2]), migration=migration, comment="too soon")

    migration.refresh_from_db()
    assert migration.state == MigrationState.FAILED
    assert migration.error == f"rejected by guardian {guardians[2].name}: too soon"
    assert guardian_events("migration_rejected")
    assert GuardianNotification.objects.filter(kind="migration_failed").exists()
    with pytest.raises(InvalidTransition, match="decisions are taken before publishing"):
        guardian_migration_approve(user=user_of(guardians[0]), migration=migration)


@pytest.mark.parametrize(
    "who", ["member", "stranger", "other_family_guardian", "invited", "revoked"]
)
def test_only_active_guardians_of_the_family_decide(
    who: str, family: Family, migration: DomainMigration
) -> None:
    if who == "member":
        user = cast(User, make(MembershipFactory, family=family, role=FamilyRole.ADMIN).user)
    elif who == "stranger":
        user = cast(User, make(UserFactory))
    elif who == "other_family_guardian":
        user = user_of(make(GuardianFactory, family=make(FamilyFactory)))
    else:
        status = GuardianStatus.INVITED if who == "invited" else GuardianStatus.REVOKED
        user = user_of(make(GuardianFactory, family=family, status=status))

    with pytest.raises(PermissionDenied, match="only an active guardian"):
        guardian_migration_approve(user=user, migration=migration)

    assert GuardianApproval.objects.count() == 0
    (event,) = guardian_events("decision_denied")
    assert event.user == user


def test_a_revoked_guardians_approval_stops_counting(
    migration: DomainMigration, guardians: list[FederationGuardian]
) -> None:
    guardian_migration_approve(user=user_of(guardians[0]), migration=migration)
    guardian_migration_approve(user=user_of(guardians[1]), migration=migration)
    assert domain_migration_approvals(migration) == 2
    guardians[1].status = GuardianStatus.REVOKED
    guardians[1].save()
    assert domain_migration_approvals(migration) == 1


def test_an_unknown_decision_is_refused(
    migration: DomainMigration, guardians: list[FederationGuardian]
) -> None:
    with pytest.raises(ValidationError):
        guardian_migration_decide(user=user_of(guardians[0]), migration=migration, decision="maybe")


def test_a_cancelled_migration_takes_no_decisions(
    migration: DomainMigration, guardians: list[FederationGuardian]
) -> None:
    domain_migration_fail(migration=migration, reason="cancelled")
    with pytest.raises(InvalidTransition):
        guardian_migration_approve(user=user_of(guardians[0]), migration=migration)


# --- backups -----------------------------------------------------------------------------------


def test_a_guardian_records_a_current_backup_and_the_family_domains_are_rescored(
    family: Family, guardians: list[FederationGuardian]
) -> None:
    domain = cast(DomainRecord, make(DomainFactory, family=family))
    create_pubky_domain(domain=domain)  # a key worth backing up
    alice = guardians[0]

    guardian_backup_status_record(
        user=user_of(alice),
        guardian=alice,
        status=BackupStatus.CURRENT,
        url="pubky://8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo/pub/backup.key",
    )

    alice.refresh_from_db()
    assert alice.pubky_backup_status == BackupStatus.CURRENT
    assert alice.pubky_backup_url.endswith("/pub/backup.key")
    assert alice.pubky_backup_last_updated is not None
    score = SovereigntyScore.objects.filter(domain=domain).latest()
    # Reported, not yet seen on its homeserver: verify_facts makes it count (see
    # tests/api/test_key_claims.py).
    assert score.breakdown["facts"]["guardian_backup_current"] is False
    (event,) = guardian_events("backup_status")
    assert event.detail["from"] == BackupStatus.NONE
    assert event.detail["to"] == BackupStatus.CURRENT
    content_type = ContentType.objects.get_for_model(FederationGuardian)
    assert LogEntry.objects.filter(
        content_type=content_type, object_pk=str(alice.pk), action=LogEntry.Action.UPDATE
    ).exists()

    guardian_backup_status_record(user=user_of(alice), guardian=alice, status=BackupStatus.STALE)
    latest = SovereigntyScore.objects.filter(domain=domain).latest()
    assert latest.breakdown["facts"]["guardian_backup_current"] is False


def test_only_the_guardian_or_a_family_admin_records_a_backup(
    family: Family, guardians: list[FederationGuardian]
) -> None:
    alice, bob = guardians[0], guardians[1]
    with pytest.raises(PermissionDenied):
        guardian_backup_status_record(user=user_of(bob), guardian=alice, status=BackupStatus.FAILED)
    alice.refresh_from_db()
    assert alice.pubky_backup_status == BackupStatus.NONE

    guardian_backup_status_record(user=family.owner, guardian=alice, status=BackupStatus.FAILED)
    alice.refresh_from_db()
    assert alice.pubky_backup_status == BackupStatus.FAILED


def test_bad_backup_input_is_refused(guardians: list[FederationGuardian]) -> None:
    alice = guardians[0]
    with pytest.raises(ValidationError, match="unknown backup status"):
        guardian_backup_status_record(user=user_of(alice), guardian=alice, status="lost")
    with pytest.raises(ValidationError, match="needs the URL"):
        guardian_backup_status_record(
            user=user_of(alice), guardian=alice, status=BackupStatus.CURRENT
        )
    assert not guardian_events("backup_status")


# --- notifications -----------------------------------------------------------------------------


def test_guardians_mark_notifications_read_but_strangers_cannot(
    family: Family, guardians: list[FederationGuardian]
) -> None:
    note = guardian_notification_create(family=family, kind="test", title="Hello guardians")

    guardian_notification_mark_read(user=user_of(guardians[0]), notification=note)
    assert note.read_at is not None
    with pytest.raises(PermissionDenied):
        guardian_notification_mark_read(user=cast(User, make(UserFactory)), notification=note)
