"""Fixtures for the API tests: a family with one person per role, and JWT clients.

The Pubky testnet (relays + homeserver) and the loopback DNS server come from the domain tests'
fixtures, so endpoints that publish, resolve or verify talk to real servers on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from domains.models import DnsRecord, DomainRecord, PubkyDomain
from domains.services.registration import create_pubky_domain
from families.models import AccessGrant, Family, FamilyMembership, User
from guardians.models import GuardianNotification
from tests.domains.conftest import (  # noqa: F401
    _dns_server,
    dns_server,
    make_testnet,
    pubky_settings,
    testnet,
)
from tests.factories import (
    DnsRecordFactory,
    DomainFactory,
    FamilyFactory,
    GuardianFactory,
    UserFactory,
)
from tests.shared_world import module_world, world_for_test

ROLES = ("owner", "admin", "member", "viewer", "guardian", "granted", "stranger", "anonymous")


def client_for(user: User | None, **extra: Any) -> APIClient:
    """An API client sending ``user``'s access token (none for ``None``)."""
    client = APIClient(**extra)
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


@dataclass
class World:
    """The Smiths (private) with one person per role, and the Joneses next door."""

    family: Family
    other_family: Family
    people: dict[str, User | None]
    domain: DomainRecord
    public_domain: DomainRecord
    other_domain: DomainRecord
    dns: DnsRecord
    pubky_domain: PubkyDomain
    guardian_id: int
    notification: GuardianNotification
    objects: dict[str, Any] = field(default_factory=dict)

    def client(self, role: str) -> APIClient:
        return client_for(self.people[role])


def build_world() -> World:
    family = FamilyFactory(name="Smiths", slug="smiths")
    other_family = FamilyFactory(name="Joneses", slug="joneses")
    people: dict[str, User | None] = {"owner": family.owner, "stranger": other_family.owner}
    for role in ("admin", "member", "viewer"):
        user = UserFactory(username=f"{role}-user")
        FamilyMembership.objects.create(family=family, user=user, role=role)
        people[role] = user
    guardian = GuardianFactory(family=family, user=UserFactory(username="guardian-user"))
    people["guardian"] = guardian.user
    people["granted"] = UserFactory(username="granted-user")
    people["anonymous"] = None
    domain = DomainFactory(family=family, name="smith.example")
    public_domain = DomainFactory(family=family, name="public-smith.example", visibility="public")
    other_domain = DomainFactory(family=other_family, name="jones.example")
    dns = DnsRecordFactory(domain=domain, name="@", rtype="A", value="192.0.2.1")
    AccessGrant.objects.create(
        grantee=people["granted"],
        content_type=ContentType.objects.get_for_model(DomainRecord),
        object_id=domain.pk,
        permission="write",
    )
    pubky_domain = create_pubky_domain(domain=domain)
    UserFactory(username="newbie")
    notification = GuardianNotification.objects.create(
        family=family, kind="hello", title="Welcome", message="You guard the Smiths."
    )
    return World(
        family=family,
        other_family=other_family,
        people=people,
        domain=domain,
        public_domain=public_domain,
        other_domain=other_domain,
        dns=dns,
        pubky_domain=pubky_domain,
        guardian_id=guardian.pk,
        notification=notification,
    )


@pytest.fixture(scope="module", autouse=True)
def _module_world(request: pytest.FixtureRequest, django_db_blocker: Any) -> Iterator[World | None]:
    """The world of a ``shared_world`` module (``tests/shared_world.py``); None in others."""
    yield from module_world(request, django_db_blocker, build_world)


@pytest.fixture
def world(_module_world: World | None, db: None) -> World:
    """The world, fresh for this test: its rows in the database and its objects in memory.

    Building it costs about 150 queries; a module marked ``shared_world`` builds it once.
    """
    return world_for_test(_module_world, build_world)
