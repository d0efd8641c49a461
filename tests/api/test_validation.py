"""Bad input answers 400 with field-level messages, unknown ids 404, state conflicts 409."""

from __future__ import annotations

import pytest

from tests.api.conftest import World, client_for

pytestmark = [pytest.mark.django_db, pytest.mark.shared_world]


@pytest.fixture
def owner(world: World):
    return client_for(world.people["owner"])


def test_a_domain_with_a_bad_name_gets_a_message_on_the_name(owner, world: World) -> None:
    response = owner.post(
        "/api/domains/", {"family": world.family.pk, "name": "not a domain!"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["name"]


def test_missing_and_wrongly_typed_fields_are_each_named(owner) -> None:
    response = owner.post("/api/domains/", {"family": "x", "visibility": "secret"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"family", "name", "visibility"}
    assert all(isinstance(messages, list) and messages for messages in body.values())


def test_a_dns_record_that_cannot_be_published_is_refused_on_its_value(owner, world) -> None:
    response = owner.post(
        f"/api/domains/{world.domain.pk}/dns-records/",
        {"name": "@", "type": "A", "value": "not-an-address"},
        format="json",
    )
    assert response.status_code == 400
    assert "value" in response.json()


def test_a_ttl_out_of_range_is_refused(owner, world: World) -> None:
    response = owner.patch(
        f"/api/domains/{world.domain.pk}/dns-records/{world.dns.pk}/",
        {"ttl": 2**40},
        format="json",
    )
    assert response.status_code == 400
    assert "ttl" in response.json()


def test_a_duplicate_domain_name_is_a_field_error_not_a_crash(owner, world: World) -> None:
    response = owner.post(
        "/api/domains/", {"family": world.family.pk, "name": "SMITH.example"}, format="json"
    )
    assert response.status_code == 400
    assert "name" in response.json()


def test_a_body_that_is_not_json_is_a_400(owner) -> None:
    response = owner.generic("POST", "/api/families/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize(
    "path",
    [
        "/api/families/999999999/",
        "/api/domains/999999999/",
        "/api/domains/999999999/dns-records/1/",
        "/api/pubky-domains/999999999/",
        "/api/migrations/999999999/",
        "/api/guardians/999999999/",
        "/api/grants/999999999/",
        "/api/families/99999999999999999999999/",  # beyond bigint: no route, still 404
        "/api/families/abc/",
        "/api/no-such-thing/",
    ],
)
def test_unknown_ids_and_routes_answer_404_in_json(owner, path: str) -> None:
    response = owner.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_dns_record_is_only_found_under_its_own_domain(owner, world: World) -> None:
    response = owner.get(f"/api/domains/{world.public_domain.pk}/dns-records/{world.dns.pk}/")
    assert response.status_code == 404


def test_filters_refuse_bad_values_with_field_messages(owner) -> None:
    assert owner.get("/api/domains/", {"status": "nope"}).json().keys() == {"status"}
    assert owner.get("/api/domains/", {"family": "-3"}).status_code == 400
    assert owner.get("/api/domains/", {"family": str(2**70)}).status_code == 400
    assert owner.get("/api/domains/", {"search": "a\x00b"}).status_code == 400
    assert owner.get("/api/domains/", {"ordering": "password"}).status_code == 400


def test_a_second_open_migration_is_a_conflict_with_a_code(owner, world: World) -> None:
    body = {"domain": world.domain.pk, "direction": "dns_to_pubky"}
    assert owner.post("/api/migrations/", body, format="json").status_code == 201
    again = owner.post("/api/migrations/", body, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "migration_conflict"


def test_the_owner_cannot_be_demoted_or_removed(owner, world: World) -> None:
    owner_id = world.people["owner"].pk
    path = f"/api/families/{world.family.pk}/members/{owner_id}/"
    demote = owner.patch(path, {"role": "viewer"}, format="json")
    assert demote.status_code == 400
    assert "role" in demote.json()
    assert owner.delete(path).status_code == 400
    promote = owner.post(
        f"/api/families/{world.family.pk}/members/",
        {"username": "newbie", "role": "owner"},
        format="json",
    )
    assert promote.status_code == 400


def test_enabling_pubky_twice_is_a_conflict(owner, world: World) -> None:
    path = f"/api/families/{world.family.pk}/pubky/enable/"
    first = owner.post(path)
    assert first.status_code == 200, first.json()
    assert first.json()["pubky_enabled"] is True
    second = owner.post(path)
    assert second.status_code == 409
    assert second.json()["code"] == "already_enabled"


def test_a_domain_on_pubky_cannot_be_deleted(owner, world: World) -> None:
    assert owner.post(f"/api/pubky-domains/{world.pubky_domain.pk}/publish/").status_code == 200
    response = owner.delete(f"/api/domains/{world.domain.pk}/")
    assert response.status_code == 409
    assert response.json()["code"] == "domain_in_use"


def test_relays_that_cannot_be_reached_answer_502(owner, world: World, settings) -> None:
    settings.PUBKY_RELAYS = ["http://127.0.0.1:9"]  # discard port: nothing listens
    settings.PUBKY_HTTP_TIMEOUT = 0.5
    response = owner.post(f"/api/pubky-domains/{world.pubky_domain.pk}/publish/")
    assert response.status_code == 502
    assert response.json()["code"] == "publish_failed"
