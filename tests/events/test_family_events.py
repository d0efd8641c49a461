"""Events of guardians, memberships, grants and sessions: the family topic and the control
events that make sockets re-check access or close."""

from __future__ import annotations

import pytest

from domains.models import DomainRecord
from families.models import Family, FamilyRole, User
from families.services.families import family_member_add, family_member_remove
from families.services.grants import access_grant_create, access_grant_revoke
from guardians.models import GuardianStatus
from guardians.services import guardian_create, guardian_update
from pubkyproject import topics
from pubkyproject.api.sessions import end_all_sessions, end_session
from tests.events.capture import of_type, verify_action
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def someone() -> User:
    return UserFactory()  # type: ignore[return-value]


def test_inviting_a_guardian_announces_them_on_the_family(family: Family, someone: User) -> None:
    guardian, events = verify_action(
        lambda: guardian_create(family=family, name="Gran", user=someone),
        [
            (topics.family(family.pk), "pubky_guardian_notification"),
            (topics.user(someone.pk), "access_changed"),
            (topics.family(family.pk), "guardian_created"),
        ],
    )
    (notification,) = of_type(events, "pubky_guardian_notification")
    assert notification["kind"] == "guardian_updated"
    assert notification["guardian"]["id"] == guardian.pk
    assert notification["guardian"]["status"] == GuardianStatus.INVITED
    (listed,) = of_type(events, "guardian_created")
    assert listed == {**notification["guardian"], "familyId": family.pk}


def test_removing_a_guardian_announces_it_and_ends_their_access(
    family: Family, someone: User
) -> None:
    guardian = guardian_create(
        family=family, name="Gran", user=someone, status=GuardianStatus.ACTIVE
    )
    _, events = verify_action(
        lambda: guardian_update(guardian=guardian, status=GuardianStatus.REVOKED),
        [
            (topics.family(family.pk), "pubky_guardian_notification"),
            (topics.user(someone.pk), "access_changed"),
        ],
    )
    (notification,) = of_type(events, "pubky_guardian_notification")
    assert notification["guardian"]["status"] == GuardianStatus.REVOKED


def test_adding_a_member_announces_them_and_changes_their_access(
    family: Family, someone: User
) -> None:
    membership, events = verify_action(
        lambda: family_member_add(family=family, user=someone),
        [
            (topics.user(someone.pk), "access_changed"),
            (topics.family(family.pk), "family_membership_created"),
        ],
    )
    assert of_type(events, "access_changed") == [{"userId": someone.pk}]
    (created,) = of_type(events, "family_membership_created")
    assert created["id"] == membership.pk and created["userId"] == someone.pk
    assert created["role"] == FamilyRole.MEMBER


def test_changing_a_members_role_changes_their_access(family: Family, someone: User) -> None:
    family_member_add(family=family, user=someone)
    verify_action(
        lambda: family_member_add(family=family, user=someone, role=FamilyRole.ADMIN),
        [(topics.user(someone.pk), "access_changed")],
    )


def test_removing_a_member_announces_it_and_changes_their_access(
    family: Family, someone: User
) -> None:
    family_member_add(family=family, user=someone)
    _, events = verify_action(
        lambda: family_member_remove(family=family, user=someone),
        [
            (topics.user(someone.pk), "access_changed"),
            (topics.family(family.pk), "family_membership_deleted"),
        ],
    )
    assert of_type(events, "family_membership_deleted")[0]["userId"] == someone.pk


def test_granting_access_to_a_domain_announces_the_grant(
    registrar_domain: DomainRecord, someone: User
) -> None:
    grant, events = verify_action(
        lambda: access_grant_create(grantee=someone, target=registrar_domain),
        [
            (topics.user(someone.pk), "access_changed"),
            (topics.family(registrar_domain.family_id), "access_grant_created"),
        ],
    )
    (created,) = of_type(events, "access_grant_created")
    assert created["id"] == grant.pk and created["targetId"] == registrar_domain.pk
    assert created["targetType"] == "domainrecord" and created["revokedAt"] is None


def test_revoking_a_grant_changes_the_grantees_access(
    registrar_domain: DomainRecord, someone: User
) -> None:
    grant = access_grant_create(grantee=someone, target=registrar_domain)
    # The grant is kept (with revoked_at) for the audit trail: no family event, only the
    # grantee's sockets re-check what they may read.
    verify_action(
        lambda: access_grant_revoke(grant=grant), [(topics.user(someone.pk), "access_changed")]
    )


def test_ending_a_session_tells_the_users_sockets(someone: User) -> None:
    _, events = verify_action(
        lambda: end_session(user_id=someone.pk, session_id="s1"),
        [(topics.user(someone.pk), "session_revoked")],
    )
    assert of_type(events, "session_revoked") == [{"sessions": ["s1"]}]


def test_ending_every_session_tells_the_users_sockets(someone: User) -> None:
    _, events = verify_action(
        lambda: end_all_sessions(user_id=someone.pk),
        [(topics.user(someone.pk), "session_revoked")],
    )
    (revoked,) = of_type(events, "session_revoked")
    assert revoked["all"] is True and isinstance(revoked["before"], int)
