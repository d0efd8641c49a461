"""Lists: a constant number of queries whatever the page holds, and never another family's data."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from domains.models import (
    DomainMigration,
    DomainRecord,
    PkarrRecord,
    RelayStatus,
    SovereigntyScore,
)
from domains.services.registration import create_pubky_domain
from families.models import AccessGrant, FamilyMembership, SecurityEvent
from families.services.pubky import create_family_keypair
from guardians.models import GuardianApproval, GuardianNotification
from tests.api.conftest import World, client_for
from tests.factories import (
    DnsRecordFactory,
    DomainFactory,
    FamilyFactory,
    GuardianFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.shared_world]


def _families(w: World, n: int) -> None:
    for _ in range(n):
        FamilyFactory(owner=w.people["owner"])


def _members(w: World, n: int) -> None:
    for _ in range(n):
        FamilyMembership.objects.create(family=w.family, user=UserFactory(), role="viewer")


def _keypairs(w: World, n: int) -> None:
    for _ in range(n):
        create_family_keypair(family=w.family, activate=False)


def _grants(w: World, n: int) -> None:
    content_type = ContentType.objects.get_for_model(DomainRecord)
    for _ in range(n):
        AccessGrant.objects.create(
            grantee=UserFactory(),
            granted_by=w.people["owner"],
            content_type=content_type,
            object_id=w.domain.pk,
        )


def _domains(w: World, n: int) -> None:
    for _ in range(n):
        create_pubky_domain(domain=DomainFactory(family=w.family))


def _dns(w: World, n: int) -> None:
    for _ in range(n):
        DnsRecordFactory(domain=w.domain, name="www")


def _scores(w: World, n: int) -> None:
    for i in range(n):
        SovereigntyScore.objects.create(
            domain=w.domain,
            total=i % 20,
            provider_independence=i % 20,
            key_ownership=0,
            censorship_resistance=0,
            privacy=0,
            portability=0,
        )


def _migrations(w: World, n: int) -> None:
    guardian = w.family.guardians.get()
    for _ in range(n):
        migration = DomainMigration.objects.create(
            domain=DomainFactory(family=w.family), direction="dns_to_pubky"
        )
        GuardianApproval.objects.create(migration=migration, guardian=guardian, decision="approved")


def _pubky_domains(w: World, n: int) -> None:
    _domains(w, n)


def _pkarr(w: World, n: int) -> None:
    start = PkarrRecord.objects.filter(pubky_domain=w.pubky_domain).count()
    for i in range(start, start + n):
        PkarrRecord.objects.create(pubky_domain=w.pubky_domain, relay_url=f"http://relay{i}.test")


def _guardians(w: World, n: int) -> None:
    for _ in range(n):
        GuardianFactory(family=w.family)


def _notifications(w: World, n: int) -> None:
    for i in range(n):
        GuardianNotification.objects.create(family=w.family, kind="note", title=f"Note {i}")


def _relays(w: World, n: int) -> None:
    from django.conf import settings

    start = RelayStatus.objects.count()
    for i in range(start, start + n):
        RelayStatus.objects.create(url=f"http://relay{i}.test", is_up=True)
        # Only configured relays are listed (the list is reset by the `configured` fixture).
        settings.PUBKY_RELAYS.append(f"http://relay{i}.test")


@pytest.fixture(autouse=True)
def configured(settings: Any) -> None:
    """No relay is configured to start with; ``_relays`` configures those it adds."""
    settings.PUBKY_RELAYS = []


def _events(w: World, n: int) -> None:
    for i in range(n):
        SecurityEvent.objects.create(
            kind="login_failed", username=f"guess{i}", user=w.people["viewer"]
        )


def _log_entries(w: World, n: int) -> None:
    for _ in range(n):
        w.domain.registrar = f"Registrar {uuid.uuid4().hex[:8]}"
        w.domain.save()


LISTS: list[tuple[str, str, Callable[[World, int], None], str]] = [
    ("families", "/api/families/", _families, "owner"),
    ("members", "/api/families/{w.family.pk}/members/", _members, "owner"),
    ("keypairs", "/api/families/{w.family.pk}/keypairs/", _keypairs, "owner"),
    ("grants", "/api/grants/", _grants, "owner"),
    ("domains", "/api/domains/", _domains, "owner"),
    ("dns records", "/api/domains/{w.domain.pk}/dns-records/", _dns, "owner"),
    ("score history", "/api/domains/{w.domain.pk}/scores/", _scores, "owner"),
    ("migrations", "/api/migrations/", _migrations, "owner"),
    ("pubky domains", "/api/pubky-domains/", _pubky_domains, "owner"),
    ("pkarr records", "/api/pubky-domains/{w.pubky_domain.pk}/pkarr-records/", _pkarr, "owner"),
    ("guardians", "/api/families/{w.family.pk}/guardians/", _guardians, "owner"),
    ("notifications", "/api/families/{w.family.pk}/notifications/", _notifications, "owner"),
    ("relays", "/api/relays/", _relays, "owner"),
    ("security events", "/api/audit/security-events/?user={w.people[viewer].pk}", _events, "staff"),
    ("log entries", "/api/audit/log-entries/?model=domains.domainrecord", _log_entries, "staff"),
]


@pytest.mark.parametrize(
    ("path", "add", "role"), [row[1:] for row in LISTS], ids=[r[0] for r in LISTS]
)
def test_a_list_costs_the_same_queries_for_one_item_and_for_twenty(
    world: World, path: str, add: Callable[[World, int], None], role: str, django_assert_num_queries
) -> None:
    world.people["staff"] = UserFactory(is_staff=True)
    client = client_for(world.people[role])
    url = path.format(w=world)
    before = client.get(url).json()["count"]  # also warms per-process caches (content types)
    add(world, 1)
    with CaptureQueriesContext(connection) as one:
        small = client.get(url)
    assert small.json()["count"] == before + 1
    add(world, 19)
    with django_assert_num_queries(len(one.captured_queries)):
        large = client.get(url)
    body = large.json()
    assert body["count"] == before + 20
    assert len(body["results"]) == min(before + 20, 50)


def _names(response: Any, key: str = "name") -> set[str]:
    assert response.status_code == 200, response.content
    return {row[key] for row in response.json()["results"]}


def test_lists_never_show_another_familys_private_objects(world: World) -> None:
    other = world.other_family
    other_pubky = create_pubky_domain(domain=world.other_domain)
    DomainMigration.objects.create(domain=world.other_domain, direction="dns_to_pubky")
    GuardianNotification.objects.create(family=other, kind="secret", title="Joneses only")
    smith = client_for(world.people["owner"])
    assert "Joneses" not in _names(smith.get("/api/families/"))
    assert "jones.example" not in _names(smith.get("/api/domains/"))
    assert other_pubky.name not in _names(smith.get("/api/pubky-domains/"))
    migrations = smith.get("/api/migrations/").json()["results"]
    assert world.other_domain.pk not in {m["domain"] for m in migrations}
    # Asking for the other family's rows by filter finds nothing rather than an error.
    assert smith.get("/api/domains/", {"family": other.pk}).json()["count"] == 0
    assert smith.get("/api/migrations/", {"family": other.pk}).json()["count"] == 0
    assert smith.get(f"/api/families/{other.pk}/notifications/").status_code == 404


def test_a_stranger_sees_only_what_the_smiths_made_public(world: World) -> None:
    stranger = client_for(world.people["stranger"])
    assert _names(stranger.get("/api/domains/", {"family": world.family.pk})) == {
        "public-smith.example"
    }
    assert "Smiths" not in _names(stranger.get("/api/families/"))
    assert stranger.get("/api/pubky-domains/", {"family": world.family.pk}).json()["count"] == 0
    assert stranger.get("/api/grants/").json()["count"] == 0


def test_anonymous_callers_list_public_objects_only(world: World) -> None:
    anonymous = client_for(None)
    assert _names(anonymous.get("/api/domains/")) == {"public-smith.example"}
    assert anonymous.get("/api/families/").json()["count"] == 0
    assert anonymous.get("/api/grants/").json()["count"] == 0
    assert anonymous.get("/api/migrations/").json()["count"] == 0


def test_a_revoked_or_expired_grant_stops_showing_the_domain(world: World) -> None:
    granted = client_for(world.people["granted"])
    assert "smith.example" in _names(granted.get("/api/domains/"))
    AccessGrant.objects.filter(grantee=world.people["granted"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert "smith.example" not in _names(granted.get("/api/domains/"))
    assert granted.get(f"/api/domains/{world.domain.pk}/").status_code == 404


def test_a_revoked_guardian_no_longer_reads_the_family(world: World) -> None:
    guardian = client_for(world.people["guardian"])
    assert guardian.get(f"/api/families/{world.family.pk}/").status_code == 200
    world.family.guardians.update(status="revoked")
    assert guardian.get(f"/api/families/{world.family.pk}/").status_code == 404
    assert "smith.example" not in _names(guardian.get("/api/domains/"))


def test_keypairs_show_public_parts_only(world: World) -> None:
    keypair = create_family_keypair(family=world.family)
    sealed = bytes(type(keypair).objects.get(pk=keypair.pk).private_key_encrypted)
    response = client_for(world.people["owner"]).get(f"/api/families/{world.family.pk}/keypairs/")
    row = response.json()["results"][0]
    assert row["public_key"] == keypair.public_key
    assert not any("private" in key for key in row)
    assert sealed.hex() not in response.content.decode()


def test_log_entry_changes_never_include_sealed_keys(world: World) -> None:
    create_family_keypair(family=world.family)
    staff = client_for(UserFactory(is_staff=True))
    body = staff.get("/api/audit/log-entries/", {"model": "families.pubkykeypair"}).content
    assert LogEntry.objects.filter(content_type__model="pubkykeypair").exists()
    assert b"private_key" not in body
