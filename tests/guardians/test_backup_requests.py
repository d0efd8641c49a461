"""Asking a guardian for a fresh key backup: only the family's administrators, never a revoked
guardian; the guardian is notified and the request audited, the reported status untouched."""

from __future__ import annotations

from typing import cast

import pytest
from django.core.exceptions import PermissionDenied

from families.models import Family, FamilyRole, SecurityEvent, SecurityEventKind, User
from guardians.models import BackupStatus, FederationGuardian, GuardianNotification, GuardianStatus
from guardians.services import GuardianRevoked, guardian_backup_request
from tests.factories import FamilyFactory, GuardianFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def family() -> Family:
    return cast(Family, FamilyFactory(name="Keepers"))


def member(family: Family, role: str) -> User:
    return cast(User, MembershipFactory(family=family, role=role).user)


def test_an_administrator_asks_and_the_guardian_is_notified(family: Family) -> None:
    guardian = cast(
        FederationGuardian,
        GuardianFactory(family=family, name="Grandma", pubky_backup_status=BackupStatus.STALE),
    )
    admin = member(family, FamilyRole.ADMIN)

    notification = guardian_backup_request(user=admin, guardian=guardian, message="Key rotated.")

    assert notification.guardian == guardian
    assert notification.kind == "backup_requested"
    assert notification.message == (
        "Keepers asks you to back up its key again. The backup you last reported: backup "
        "stale. Key rotated."
    )
    assert notification.payload["requested_by"] == admin.username
    guardian.refresh_from_db()
    assert guardian.pubky_backup_status == BackupStatus.STALE
    event = SecurityEvent.objects.get(kind=SecurityEventKind.GUARDIAN_ACTION)
    assert (event.user, event.detail["action"]) == (admin, "backup_requested")


@pytest.mark.parametrize("who", ["member", "the_guardian", "stranger"])
def test_only_administrators_ask(family: Family, who: str) -> None:
    guardian = cast(FederationGuardian, GuardianFactory(family=family))
    if who == "member":
        user = member(family, FamilyRole.MEMBER)
    elif who == "the_guardian":
        assert guardian.user is not None
        user = guardian.user
    else:
        user = cast(User, UserFactory())

    with pytest.raises(PermissionDenied, match="only a family administrator"):
        guardian_backup_request(user=user, guardian=guardian)

    assert not GuardianNotification.objects.exists()


def test_a_revoked_guardian_is_not_asked(family: Family) -> None:
    guardian = cast(
        FederationGuardian,
        GuardianFactory(family=family, name="Uncle", status=GuardianStatus.REVOKED),
    )

    with pytest.raises(GuardianRevoked, match="Uncle is no longer a guardian of Keepers"):
        guardian_backup_request(user=family.owner, guardian=guardian)

    assert not GuardianNotification.objects.exists()
