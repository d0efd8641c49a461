"""Fixtures for the API tests: a family with one person per role, and JWT clients.

The Pubky testnet (relays + homeserver) and the loopback DNS server come from the domain tests'
fixtures, so endpoints that publish, resolve or verify talk to real servers on loopback.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
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


def commits(item: pytest.Item) -> bool:
    """Whether the test ``item`` commits to the database (transactional, live server)."""
    marker = item.get_closest_marker("django_db")
    if marker is not None and (
        marker.kwargs.get("transaction") or marker.kwargs.get("serialized_rollback")
    ):
        return True
    names = getattr(item, "fixturenames", ())
    return bool({"transactional_db", "live_server", "django_db_reset_sequences"} & set(names))


@pytest.fixture(scope="module", autouse=True)
def _module_world(request: pytest.FixtureRequest, django_db_blocker: Any) -> Iterator[World | None]:
    """The world of a ``shared_world`` module, in a transaction rolled back at the module's end.

    Autouse, so that its transaction opens before the first test's own (``db``) and encloses
    it, whichever test of the module comes first; None in a module without the marker.
    """
    module = request.node
    if module.get_closest_marker("shared_world") is None:
        yield None
        return
    committing = [i.name for i in request.session.items if i.module is module.obj and commits(i)]
    if committing:
        raise pytest.UsageError(
            f"{module.name} is marked shared_world but {committing[0]} commits; the open "
            "transaction of the shared world would swallow its commits"
        )
    request.getfixturevalue("django_db_setup")
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


@pytest.fixture
def world(request: pytest.FixtureRequest, db: None) -> World:
    """The world, fresh for this test: its rows in the database and its objects in memory.

    Building it costs about 150 queries. A module marked ``shared_world`` builds it once, in a
    transaction that stays open until the module is done; each test still runs in its own
    savepoint inside it (pytest-django's ``db``) and gets a deep copy of the objects, so what a
    test changes is gone before the next one, as if it had built its own world. Only for modules
    whose tests do not read PostgreSQL's clock: ``now()`` in SQL is the start of the open
    transaction, not of the test.
    """
    shared: World | None = request.getfixturevalue("_module_world")
    if shared is None:
        return build_world()
    return copy.deepcopy(shared)  # what a test sets on an object stays in its copy
