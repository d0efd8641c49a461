"""What guardians see: scoped through the access policy."""

from __future__ import annotations

from typing import Any, cast

import pytest
from django.contrib.auth.models import AnonymousUser

from domains.models import DomainMigration, DomainRecord, MigrationDirection
from domains.services.migration import create_domain_migration
from families.models import Family, User, Visibility
from guardians.models import BackupStatus, FederationGuardian, GuardianStatus
from guardians.selectors import (
    guardian_domains_list,
    guardian_migrations_awaiting_decision,
    guardian_notifications_list,
    guardian_status_summary,
)
from guardians.services import guardian_migration_approve, guardian_notification_create
from tests.factories import DomainFactory, FamilyFactory, GuardianFactory, UserFactory

pytestmark = pytest.mark.django_db


def make(factory: Any, **kwargs: Any) -> Any:
    return factory(**kwargs)


def guardian_user(guardian: FederationGuardian) -> User:
    assert guardian.user is not None
    return guardian.user


def test_guardians_see_the_domains_of_the_families_they_guard(settings: Any) -> None:
    guarded = cast(Family, make(FamilyFactory))
    other = cast(Family, make(FamilyFactory))
    mine = [make(DomainFactory, family=guarded) for _ in range(2)]
    make(DomainFactory, family=other)  # private, another family
    public_elsewhere = make(DomainFactory, family=other, visibility=Visibility.PUBLIC)
    guardian = cast(FederationGuardian, make(GuardianFactory, family=guarded))

    listed = list(guardian_domains_list(user=guardian_user(guardian)))

    assert sorted(d.pk for d in listed) == sorted(d.pk for d in mine)
    assert public_elsewhere not in listed  # public, but not one they guard
    assert list(guardian_domains_list(user=guardian_user(guardian), family=other)) == []


def test_a_revoked_guardian_sees_nothing() -> None:
    family = cast(Family, make(FamilyFactory))
    make(DomainFactory, family=family)
    guardian = cast(
        FederationGuardian, make(GuardianFactory, family=family, status=GuardianStatus.REVOKED)
    )
    assert list(guardian_domains_list(user=guardian_user(guardian))) == []


def test_migrations_awaiting_a_guardians_decision() -> None:
    family = cast(
        Family, make(FamilyFactory, guardian_approval_required=True, guardian_threshold=1)
    )
    alice = cast(FederationGuardian, make(GuardianFactory, family=family))
    bob = cast(FederationGuardian, make(GuardianFactory, family=family))
    domains = [cast(DomainRecord, make(DomainFactory, family=family)) for _ in range(2)]
    migrations: list[DomainMigration] = [
        create_domain_migration(domain=d, direction=MigrationDirection.DNS_TO_PUBKY)
        for d in domains
    ]
    guardian_migration_approve(user=guardian_user(alice), migration=migrations[0])

    assert list(guardian_migrations_awaiting_decision(user=guardian_user(alice))) == [migrations[1]]
    assert list(guardian_migrations_awaiting_decision(user=guardian_user(bob))) == migrations
    stranger = cast(User, make(UserFactory))
    assert list(guardian_migrations_awaiting_decision(user=stranger)) == []


def test_notifications_and_status_summary_are_for_those_who_may_read_them() -> None:
    family = cast(Family, make(FamilyFactory, guardian_approval_required=True))
    alice = cast(
        FederationGuardian,
        make(GuardianFactory, family=family, pubky_backup_status=BackupStatus.CURRENT),
    )
    make(GuardianFactory, family=family, status=GuardianStatus.INVITED)
    guardian_notification_create(family=family, kind="relay_down", title="Relay down")
    stranger = cast(User, make(UserFactory))

    notes = guardian_notifications_list(user=guardian_user(alice), family=family)
    assert [n.kind for n in notes] == ["relay_down"]
    assert list(guardian_notifications_list(user=stranger, family=family)) == []
    assert list(guardian_notifications_list(user=AnonymousUser(), family=family)) == []

    summary = guardian_status_summary(user=guardian_user(alice), family=family)
    assert summary is not None
    assert summary.approval_required is True
    assert summary.active_guardians == 1
    assert summary.current_backups == 1
    assert len(summary.guardians) == 2
    assert guardian_status_summary(user=stranger, family=family) is None
