"""The audit trail: model changes with their actor (JWT calls too), security events, staff views."""

from __future__ import annotations

from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from rest_framework.test import APIClient

from domains.models import DomainRecord
from families.models import Family, SecurityEvent
from tests.api.conftest import World, client_for
from tests.api.test_auth import fresh_address
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.shared_world]


def _entries(model: type, pk: int) -> Any:
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(model), object_pk=str(pk)
    ).order_by("-timestamp", "-pk")


def test_a_change_made_with_a_bearer_token_is_logged_with_its_actor(world: World) -> None:
    address = fresh_address()
    client = client_for(world.people["member"], REMOTE_ADDR=address)
    response = client.patch(
        f"/api/domains/{world.domain.pk}/", {"registrar": "Gandi"}, format="json"
    )
    assert response.status_code == 200
    entries = list(_entries(DomainRecord, world.domain.pk).filter(remote_addr=address))
    assert entries, "the change was not logged"
    assert {entry.actor for entry in entries} == {world.people["member"]}
    assert any(entry.changes_dict.get("registrar") == ["", "Gandi"] for entry in entries)


def test_every_write_endpoint_leaves_an_actor_on_its_log_entries(world: World) -> None:
    owner = world.people["owner"]
    client = client_for(owner)
    created = client.post("/api/families/", {"name": "Second home"}, format="json")
    family_id = created.json()["id"]
    client.patch(f"/api/families/{family_id}/", {"description": "Holidays"}, format="json")
    client.post(f"/api/families/{family_id}/members/", {"username": "newbie"}, format="json")
    entries = LogEntry.objects.filter(timestamp__gte=world.family.created_at)
    entries = entries.exclude(actor=None)
    family_entries = _entries(Family, family_id)
    assert family_entries.count() == 2
    assert set(family_entries.values_list("actor_id", flat=True)) == {owner.pk}
    assert entries.filter(content_type__model="familymembership").exists()


def test_anonymous_writes_never_happen_so_no_entry_lacks_an_actor(world: World) -> None:
    before = LogEntry.objects.count()
    response = APIClient().patch(f"/api/domains/{world.public_domain.pk}/", {"registrar": "x"})
    assert response.status_code == 401
    assert LogEntry.objects.count() == before


def test_publishing_records_the_use_of_the_domains_private_key(world: World) -> None:
    client = client_for(world.people["owner"])
    response = client.post(f"/api/pubky-domains/{world.pubky_domain.pk}/publish/")
    assert response.status_code == 200, response.json()
    event = SecurityEvent.objects.filter(
        kind="private_key_used", target=f"pubky_domain:{world.pubky_domain.pk}"
    ).first()
    assert event is not None
    assert event.detail["purpose"] == "sign PKARR packet"


def test_user_rate_limit_hits_answer_429_and_are_recorded(world: World, settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "user": "2/min",
        },
    }
    viewer = UserFactory()  # a user no other test (or run) has spent requests for
    client = client_for(viewer)
    assert [client.get("/api/families/").status_code for _ in range(2)] == [200, 200]
    limited = client.get("/api/domains/")
    assert limited.status_code == 429
    assert "Retry-After" in limited
    event = SecurityEvent.objects.get(kind="rate_limited", user=viewer)
    assert event.target == "GET /api/domains/"


def test_anonymous_rate_limit_is_per_address(db, settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "anon": "1/min",
        },
    }
    client = APIClient(REMOTE_ADDR=fresh_address())
    assert client.get("/api/relays/").status_code == 200
    assert client.get("/api/relays/").status_code == 429
    assert APIClient(REMOTE_ADDR=fresh_address()).get("/api/relays/").status_code == 200


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


def test_staff_filter_security_events_by_kind_user_and_address(world: World, staff) -> None:
    address = fresh_address()
    client_for(world.people["viewer"], REMOTE_ADDR=address).delete(
        f"/api/domains/{world.domain.pk}/"
    )
    client = client_for(staff)
    response = client.get(
        "/api/audit/security-events/",
        {"kind": "access_denied", "ip_address": address, "username": "viewer-user"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    event = body["results"][0]
    assert event["user"]["username"] == "viewer-user"
    assert event["target"] == f"DELETE /api/domains/{world.domain.pk}/"
    everything = client.get("/api/audit/security-events/", {"user": world.people["viewer"].pk})
    assert everything.json()["count"] >= 1
    assert client.get("/api/audit/security-events/", {"kind": "nonsense"}).status_code == 400


def test_staff_filter_model_changes_by_model_and_actor(world: World, staff) -> None:
    member = world.people["member"]
    client_for(member).post(
        f"/api/domains/{world.domain.pk}/dns-records/",
        {"name": "mail", "type": "MX", "value": "10 mx.smith.example."},
        format="json",
    )
    response = client_for(staff).get(
        "/api/audit/log-entries/", {"model": "domains.dnsrecord", "actor": member.pk}
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 1
    assert results[0]["actor"]["username"] == "member-user"
    assert results[0]["model"] == "domains.dnsrecord"
    assert results[0]["changes"]["rtype"][-1] == "MX"


def test_the_admin_shows_staff_only_the_families_the_policy_lets_them_read(world: World, client):
    admin_of_smiths = world.people["admin"]
    admin_of_smiths.is_staff = True
    admin_of_smiths.save()
    client.force_login(admin_of_smiths)
    changelist = client.get("/admin/families/family/")
    assert changelist.status_code == 200
    assert "Smiths" in changelist.content.decode()
    assert "Joneses" not in changelist.content.decode()
    assert client.get(f"/admin/families/family/{world.other_family.pk}/change/").status_code in (
        302,
        404,
    )
    own = client.get(f"/admin/families/family/{world.family.pk}/change/")
    assert own.status_code == 200
    assert 'name="name"' in own.content.decode()  # an administrator may change it
    assert client.get("/admin/families/securityevent/").status_code == 200


def test_the_admin_lets_a_staff_viewer_look_but_not_change(world: World, client) -> None:
    viewer = world.people["viewer"]
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)
    page = client.get(f"/admin/families/family/{world.family.pk}/change/")
    assert page.status_code == 200
    assert 'name="name"' not in page.content.decode()
    refused = client.post(f"/admin/families/family/{world.family.pk}/change/", {"name": "Mine"})
    assert refused.status_code == 403
    world.family.refresh_from_db()
    assert world.family.name == "Smiths"


def test_superusers_keep_seeing_everything_in_the_admin(world: World, client) -> None:
    root = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(root)
    page = client.get("/admin/families/family/").content.decode()
    assert "Smiths" in page
    assert "Joneses" in page
