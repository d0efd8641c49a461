"""The access policy: one matrix of callers by objects by actions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from domains.models import (
    DnsRecord,
    DomainMigration,
    DomainRecord,
    PkarrRecord,
    PubkyDomain,
    SovereigntyScore,
)
from families.models import AccessGrant, FamilyMembership, PubkyKeypair
from guardians.models import FederationGuardian
from pubkyproject import policy
from tests.factories import DomainFactory, FamilyFactory, GuardianFactory, UserFactory
from tests.shared_world import module_world, world_for_test

pytestmark = [pytest.mark.django_db, pytest.mark.shared_world]

KEY_A = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"
KEY_B = "yqooxx9u3aemh8mo5wcqq16yufu6jitouq1o4za751dger1igghy"


def build_world() -> tuple[dict[str, Any], dict[str, Any]]:
    family = FamilyFactory(name="Smiths")
    other_family = FamilyFactory(name="Joneses")
    people = {"owner": family.owner, "stranger": other_family.owner}
    for role in ("admin", "member", "viewer"):
        user = UserFactory(username=f"{role}-user")
        FamilyMembership.objects.create(family=family, user=user, role=role)
        people[role] = user
    people["guardian"] = GuardianFactory(family=family).user
    people["granted"] = UserFactory(username="granted")
    people["anonymous"] = AnonymousUser()
    domain = DomainFactory(family=family, name="smith.example")
    public_domain = DomainFactory(family=family, name="public.example", visibility="public")
    AccessGrant.objects.create(
        grantee=people["granted"],
        content_type=ContentType.objects.get_for_model(DomainRecord),
        object_id=domain.pk,
        permission="write",
    )
    pubky_domain = PubkyDomain.objects.create(
        name="smith.pubky", family=family, domain=domain, public_key=KEY_A, key_custody="family"
    )
    objects = {
        "family": family,
        "domain": domain,
        "public_domain": public_domain,
        "dns": DnsRecord.objects.create(domain=domain, rtype="A", value="192.0.2.1"),
        "score": SovereigntyScore.objects.create(
            domain=domain,
            total=0,
            provider_independence=0,
            key_ownership=0,
            censorship_resistance=0,
            privacy=0,
            portability=0,
        ),
        "migration": DomainMigration.objects.create(domain=domain, direction="dns_to_pubky"),
        "pubky_domain": pubky_domain,
        "pkarr": PkarrRecord.objects.create(pubky_domain=pubky_domain, relay_url="http://a"),
        "keypair": PubkyKeypair.objects.create(family=family, public_key=KEY_B),
        "guardian": FederationGuardian.objects.get(family=family),
    }
    return people, objects


@pytest.fixture(scope="module", autouse=True)
def _module_world(request: pytest.FixtureRequest, django_db_blocker: Any) -> Iterator[Any]:
    """Built once for the module (``tests/shared_world.py``): every test reads the same world."""
    yield from module_world(request, django_db_blocker, build_world)


@pytest.fixture
def world(_module_world: Any, db: None) -> tuple[dict[str, Any], dict[str, Any]]:
    return world_for_test(_module_world, build_world)


# Expected (read, change, administer) per caller for the private domain and its children.
DOMAIN_MATRIX = {
    "owner": (True, True, True),
    "admin": (True, True, True),
    "member": (True, True, False),
    "viewer": (True, False, False),
    "guardian": (True, False, False),
    "granted": (True, True, False),
    "stranger": (False, False, False),
    "anonymous": (False, False, False),
}


@pytest.mark.parametrize("caller", sorted(DOMAIN_MATRIX))
@pytest.mark.parametrize("name", ["domain", "dns", "score", "migration", "pubky_domain", "pkarr"])
def test_domain_objects_follow_the_matrix(world, caller: str, name: str) -> None:
    people, objects = world
    obj = objects[name]
    expected = DOMAIN_MATRIX[caller]
    got = tuple(
        policy.can(people[caller], action, obj)
        for action in (policy.Action.READ, policy.Action.CHANGE, policy.Action.ADMINISTER)
    )
    assert got == expected


@pytest.mark.parametrize(
    ("caller", "read", "change"),
    [
        ("owner", True, True),
        ("admin", True, True),
        ("member", True, False),
        ("viewer", True, False),
        ("guardian", True, False),
        ("granted", False, False),  # a grant on one domain is not a grant on the family
        ("stranger", False, False),
        ("anonymous", False, False),
    ],
)
def test_family_level_objects_need_admin_to_change(world, caller, read, change) -> None:
    people, objects = world
    for name in ("family", "keypair", "guardian"):
        assert policy.can_read(people[caller], objects[name]) is read, name
        assert policy.can_change(people[caller], objects[name]) is change, name


def test_public_objects_are_readable_by_anyone_but_not_changeable(world) -> None:
    people, objects = world
    for caller in ("stranger", "anonymous"):
        assert policy.can_read(people[caller], objects["public_domain"])
        assert not policy.can_change(people[caller], objects["public_domain"])


def test_expired_and_revoked_grants_give_nothing(world) -> None:
    people, objects = world
    AccessGrant.objects.filter(grantee=people["granted"]).update(
        expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert not policy.can_read(people["granted"], objects["domain"])
    AccessGrant.objects.filter(grantee=people["granted"]).update(
        expires_at=None, revoked_at=timezone.now()
    )
    assert not policy.can_read(people["granted"], objects["domain"])


def test_a_read_grant_does_not_allow_changes(world) -> None:
    people, objects = world
    AccessGrant.objects.filter(grantee=people["granted"]).update(permission="read")
    assert policy.can_read(people["granted"], objects["dns"])
    assert not policy.can_change(people["granted"], objects["dns"])


def test_only_guardians_decide_migrations(world) -> None:
    people, objects = world
    assert policy.can_decide_migration(people["guardian"], objects["migration"])
    for caller in ("owner", "member", "stranger", "anonymous"):
        assert not policy.can_decide_migration(people[caller], objects["migration"])


@pytest.mark.parametrize(
    ("caller", "visible"),
    [
        ("owner", {"smith.example", "public.example"}),
        ("viewer", {"smith.example", "public.example"}),
        ("guardian", {"smith.example", "public.example"}),
        ("granted", {"smith.example", "public.example"}),
        ("stranger", {"public.example"}),
        ("anonymous", {"public.example"}),
    ],
)
def test_scoped_lists_never_leak(world, caller, visible) -> None:
    people, _ = world
    DomainFactory(name="joneses.example", family=people["stranger"].owned_families.get())
    names = set(
        policy.scope(people[caller], DomainRecord.objects.all()).values_list("name", flat=True)
    )
    expected = set(visible)
    if caller == "stranger":
        expected.add("joneses.example")
    assert names == expected


def test_scope_and_checks_agree_for_every_model(world) -> None:
    people, objects = world
    every = [*objects.values(), AccessGrant.objects.get()]
    for caller, user in people.items():
        principal = policy.principal_for(user)
        for obj in every:
            in_scope = policy.scope(principal, type(obj).objects.filter(pk=obj.pk)).exists()
            assert in_scope == policy.can_read(principal, obj), (caller, obj)


def test_a_principal_answers_many_checks_without_queries(world) -> None:
    people, _ = world
    principal = policy.principal_for(people["member"])
    domains = list(DomainRecord.objects.all())
    with CaptureQueriesContext(connection) as ctx:
        for domain in domains:
            policy.can_read(principal, domain)
            policy.can_change(principal, domain)
    assert len(ctx.captured_queries) == 0


def test_pubky_urls_under_pub_are_public_others_private(world) -> None:
    people, objects = world
    family = objects["family"]
    family.pubky_public_key = KEY_B
    family.save()
    assert policy.can_read_pubky_url(people["stranger"], f"pubky://{KEY_B}/pub/x.txt")
    assert not policy.can_read_pubky_url(people["stranger"], f"pubky://{KEY_B}/priv/x.txt")
    assert policy.can_read_pubky_url(people["member"], f"pubky://{KEY_B}/priv/x.txt")
    assert not policy.can_read_pubky_url(people["member"], "pubky://not-a-key/pub/")
    # A claimed, never proven identity key opens nothing private.
    family.pubky_key_verification = "unverified"
    family.save()
    assert not policy.can_read_pubky_url(people["member"], f"pubky://{KEY_B}/priv/x.txt")


def test_grants_are_visible_to_grantee_and_family_admins(world) -> None:
    people, _ = world
    grant = AccessGrant.objects.get()
    assert policy.can_read(people["granted"], grant)
    assert policy.can_administer(people["admin"], grant)
    assert not policy.can_read(people["viewer"], grant)
    assert list(policy.scope(people["granted"], AccessGrant.objects.all())) == [grant]


def test_only_members_guardians_and_family_grantees_follow_a_family_feed_even_when_public(
    world,
) -> None:
    people, objects = world
    family = objects["family"]
    family.visibility = "public"
    family.save()
    assert policy.can_read(people["stranger"], family)  # the family itself is public...
    for caller in ("owner", "admin", "member", "viewer", "guardian"):
        assert policy.can_follow_family(people[caller], family), caller
    # ...but its feed names private domains, records and notifications.
    for caller in ("stranger", "anonymous", "granted"):
        assert not policy.can_follow_family(people[caller], family), caller
    AccessGrant.objects.create(
        grantee=people["granted"],
        content_type=ContentType.objects.get_for_model(type(family)),
        object_id=family.pk,
        permission="read",
    )
    assert policy.can_follow_family(people["granted"], family)
