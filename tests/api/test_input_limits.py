"""Every body and query is limited and validated before it reaches the database.

Deep JSON nesting and oversized bodies are refused by the parsers (400 ``parse_error`` and 413
``too_large``), control characters anywhere in a body or query answer 400 on the field that
carries them, and long text stops at its documented maximum, against real PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from domains.models import DNS_RECORD_VALUE_MAX_LENGTH
from families.models import FAMILY_DESCRIPTION_MAX_LENGTH, Family
from guardians.models import APPROVAL_COMMENT_MAX_LENGTH
from pubkyproject.api.exceptions import exception_handler
from tests.api.conftest import World, client_for

pytestmark = [pytest.mark.django_db, pytest.mark.shared_world]

DEEP = b"[" * 50_000 + b"]" * 50_000


@pytest.fixture
def owner(world: World) -> APIClient:
    return client_for(world.people["owner"])


def _raw(client: APIClient, method: str, path: str, body: bytes) -> Any:
    return client.generic(method, path, body, content_type="application/json")


# --- nesting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/families/"),
        ("PATCH", "/api/families/{family}/"),
        ("POST", "/api/families/{family}/guardians/"),
        ("POST", "/api/grants/"),
        ("POST", "/api/auth/token/"),
        ("POST", "/api/auth/logout/"),
    ],
)
def test_fifty_thousand_levels_of_nesting_answer_400_not_a_crash(
    owner: APIClient, world: World, method: str, path: str
) -> None:
    response = _raw(owner, method, path.format(family=world.family.pk), DEEP)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error"
    assert "nested deeper than 32 levels" in body["detail"]


def test_nesting_inside_a_field_is_refused_the_same_way(owner: APIClient) -> None:
    body = b'{"name": "Deep", "description": ' + DEEP + b"}"
    response = _raw(owner, "POST", "/api/families/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert not Family.objects.filter(name="Deep").exists()


def test_nesting_up_to_the_limit_is_read_normally(owner: APIClient, settings) -> None:
    settings.API_MAX_JSON_DEPTH = 4
    within = {"name": "Shallow", "ignored": [[["x"]]]}  # four levels with the outer object
    assert owner.post("/api/families/", within, format="json").status_code == 201
    beyond = {"name": "Deeper", "ignored": [[[["x"]]]]}
    response = owner.post("/api/families/", beyond, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].endswith("nested deeper than 4 levels.")


def test_brackets_inside_strings_do_not_count_as_nesting(owner: APIClient) -> None:
    description = "[" * 1000 + "{" * 500
    response = owner.post(
        "/api/families/", {"name": "Brackets", "description": description}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert Family.objects.get(name="Brackets").description == description


# --- size ------------------------------------------------------------------------------------


def test_a_body_over_the_size_limit_answers_413(owner: APIClient, settings) -> None:
    settings.API_MAX_BODY_BYTES = 4096
    body = json.dumps({"name": "Big", "description": "x" * 5000}).encode()
    response = _raw(owner, "POST", "/api/families/", body)
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is larger than 4096 bytes.",
        "code": "too_large",
    }
    assert not Family.objects.filter(name="Big").exists()


def test_a_form_body_over_the_size_limit_answers_413(owner: APIClient, settings) -> None:
    settings.API_MAX_BODY_BYTES = 4096
    form = f"name=Big&description={'x' * 5000}"
    response = owner.generic(
        "POST", "/api/families/", form, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_a_form_with_more_fields_than_django_reads_is_a_400(owner: APIClient) -> None:
    form = "&".join(f"f{i}=x" for i in range(1500))  # DATA_UPLOAD_MAX_NUMBER_FIELDS: 1000
    response = owner.generic(
        "POST", "/api/families/", form, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


# --- control characters ----------------------------------------------------------------------


def test_a_nul_in_a_guardians_username_is_a_field_error(owner: APIClient, world: World) -> None:
    response = owner.post(
        f"/api/families/{world.family.pk}/guardians/",
        {"name": "Gran", "username": "newbie\x00"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"username": ["Control characters (such as NUL) are not allowed."]}


def test_a_nul_in_a_grantee_is_a_field_error(owner: APIClient, world: World) -> None:
    response = owner.post(
        "/api/grants/",
        {"grantee": "\x00", "target_type": "family", "target_id": world.family.pk},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["grantee"]


@pytest.mark.parametrize(
    "text",
    ["a\x00b", "bell\x07", "esc\x1b[0m", "del\x7f", "c1\x85", "form\x0cfeed", "\ud800"],
    ids=["nul", "bell", "escape", "del", "c1", "form-feed", "lone-surrogate"],
)
def test_control_characters_in_any_text_field_are_refused(owner: APIClient, text: str) -> None:
    # json.dumps writes each as an escape (\u0000, \ud800), as a client would send them.
    body = json.dumps({"name": "Smith family", "description": text}).encode()
    response = _raw(owner, "POST", "/api/families/", body)
    assert response.status_code == 400
    assert list(response.json()) == ["description"]
    assert response.json()["description"][0].startswith("Control characters")


def test_tabs_and_line_breaks_are_ordinary_text(owner: APIClient) -> None:
    description = "Line one\r\nLine two\n\tindented"
    response = owner.post(
        "/api/families/", {"name": "Lines", "description": description}, format="json"
    )
    assert response.status_code == 201
    assert Family.objects.get(name="Lines").description == description


def test_a_control_character_in_a_list_item_names_the_item(owner: APIClient, world) -> None:
    response = owner.post(
        "/api/pubky-domains/",
        {
            "family": world.family.pk,
            "name": "list.example",
            "records": [
                {"type": "A", "value": "192.0.2.1"},
                {"type": "TXT", "value": "bad\x00value"},
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "records": {"1": {"value": ["Control characters (such as NUL) are not allowed."]}}
    }


def test_a_control_character_in_a_field_name_is_refused(owner: APIClient) -> None:
    response = owner.post("/api/families/", {"name": "Keys", "x\x00": 1}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["non_field_errors"]


def test_form_bodies_are_checked_too(owner: APIClient) -> None:
    response = owner.post("/api/families/", {"name": "Form\x00"})  # multipart
    assert response.status_code == 400
    assert list(response.json()) == ["name"]


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/families/", "search"),
        ("/api/domains/", "search"),
        ("/api/audit/security-events/", "username"),
        ("/api/audit/log-entries/", "object_id"),
        ("/api/families/{family}/notifications/", "kind"),
    ],
)
def test_control_characters_in_a_query_are_a_field_error(
    owner: APIClient, world: World, path: str, param: str
) -> None:
    world.people["owner"].is_staff = True  # type: ignore[union-attr]
    world.people["owner"].save()  # type: ignore[union-attr]
    response = owner.get(path.format(family=world.family.pk), {param: "x\x01y"})
    assert response.status_code == 400
    assert list(response.json()) == [param]


# --- lengths ---------------------------------------------------------------------------------


def test_a_description_over_its_maximum_is_refused_and_at_it_stored(owner: APIClient) -> None:
    too_long = "d" * (FAMILY_DESCRIPTION_MAX_LENGTH + 1)
    response = owner.post(
        "/api/families/", {"name": "Long", "description": too_long}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["description"]
    assert not Family.objects.filter(name="Long").exists()

    exact = "d" * FAMILY_DESCRIPTION_MAX_LENGTH
    response = owner.post("/api/families/", {"name": "Long", "description": exact}, format="json")
    assert response.status_code == 201
    assert len(Family.objects.get(name="Long").description) == FAMILY_DESCRIPTION_MAX_LENGTH


def test_a_megabyte_description_is_refused_on_update(owner: APIClient, world: World) -> None:
    response = owner.patch(
        f"/api/families/{world.family.pk}/", {"description": "m" * 1_000_000}, format="json"
    )
    assert response.status_code == 400
    assert "description" in response.json()
    world.family.refresh_from_db()
    assert world.family.description == ""


def test_a_dns_record_value_over_its_maximum_is_refused(owner: APIClient, world: World) -> None:
    response = owner.post(
        f"/api/domains/{world.domain.pk}/dns-records/",
        {"name": "@", "type": "TXT", "value": "v" * (DNS_RECORD_VALUE_MAX_LENGTH + 1)},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["value"]


def test_a_dns_record_value_of_wide_characters_is_refused_by_its_size_not_a_crash(
    owner: APIClient, world: World
) -> None:
    # 1000 four-byte characters: within the character limit, but past the byte limit that keeps
    # the value inside PostgreSQL's unique index (which would otherwise fail the insert).
    response = owner.post(
        f"/api/domains/{world.domain.pk}/dns-records/",
        {"name": "@", "type": "TXT", "value": "\U0001f600" * DNS_RECORD_VALUE_MAX_LENGTH},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["value"] == [
        "Ensure this value has at most 1000 bytes in UTF-8 (it has 4000)."
    ]


def test_an_unknown_username_longer_than_any_is_refused_before_a_lookup(
    owner: APIClient, world: World
) -> None:
    response = owner.post(
        f"/api/families/{world.family.pk}/members/", {"username": "u" * 10_000}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["username"] == ["Ensure this field has no more than 150 characters."]


def test_a_guardians_comment_has_a_maximum(world: World) -> None:
    from domains.services.migration import create_domain_migration

    migration = create_domain_migration(domain=world.domain, direction="dns_to_pubky")
    guardian = client_for(world.people["guardian"])
    response = guardian.post(
        f"/api/migrations/{migration.pk}/approve/",
        {"comment": "c" * (APPROVAL_COMMENT_MAX_LENGTH + 1)},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["comment"]


# --- one error format, no debug page -----------------------------------------------------------


def test_bad_input_answers_json_even_with_debug_on(owner: APIClient, world, settings) -> None:
    settings.DEBUG = True
    for response in (
        _raw(owner, "POST", "/api/families/", DEEP),
        _raw(owner, "POST", "/api/families/", b'{"name": "\\u0000"}'),
        _raw(owner, "POST", "/api/families/", b"\xff\xfe not utf-8"),
        owner.get("/api/domains/", {"search": "\x00"}),
        owner.get("/api/no-such-route/"),
    ):
        assert response["Content-Type"] == "application/json", response.content[:200]
        assert 400 <= response.status_code < 500
        assert isinstance(response.json(), dict)


def test_an_unexpected_error_answers_500_in_the_error_format(caplog) -> None:
    request = APIView().initialize_request(APIRequestFactory().get("/api/families/"))
    response = exception_handler(RuntimeError("boom"), {"request": request, "view": None})
    assert response is not None
    assert response.status_code == 500
    assert response.data == {"detail": "Server error.", "code": "server_error"}
    assert "boom" in caplog.text  # logged with its traceback


def test_every_error_that_is_not_about_fields_has_a_detail_and_a_code(owner: APIClient) -> None:
    for response in (
        owner.delete("/api/families/"),  # 405
        owner.generic("POST", "/api/families/", b"x", content_type="text/plain"),  # 415
        APIClient().post("/api/families/", {}, format="json"),  # 401
        _raw(owner, "POST", "/api/families/", b"{"),  # 400 parse_error
    ):
        body = response.json()
        assert set(body) == {"detail", "code"}, (response.status_code, body)
