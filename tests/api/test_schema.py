"""The OpenAPI schema validates, documents every error, and the live API keeps to it.

The schema-driven test generates requests for every operation from ``/api/schema/`` with
schemathesis (a bounded, derandomized number of examples each) and sends them to the real
Django application in-process (WSGI, the same middleware and views daphne serves) against the
test database and the loopback Pubky testnet. Besides what the schema allows (and what it
does not), the generated bodies and queries are spiked with hostile input: NUL and other
control characters, lone surrogates, strings far past any limit and deep JSON nesting. No
request may get a server error, and every answer must match what the schema documents
(status code, content type, body).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
import schemathesis
import yaml
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from domains.services.migration import create_domain_migration
from families.models import AccessGrant
from tests.api.conftest import World

pytestmark = [pytest.mark.django_db, pytest.mark.shared_world]


def test_the_schema_validates_without_warnings() -> None:
    out = StringIO()
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", stdout=out
    )
    assert '"openapi": "3' in out.getvalue()


@functools.cache
def _schema() -> dict[str, Any]:
    """The schema as /api/schema/ serves it (fetched once: it is the same for every test)."""
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_every_operation_documents_its_errors() -> None:
    missing: list[str] = []
    for path, item in _schema()["paths"].items():
        for method, operation in item.items():
            documented = set(operation["responses"])
            needed = {"401", "429"}
            if "{" in path:
                needed.add("404")
            queries = [
                p
                for p in operation.get("parameters", [])
                if p["in"] == "query" and p["name"] not in ("limit", "offset", "format")
            ]
            if "requestBody" in operation or queries:
                needed.add("400")
            if method != "get" and "{" in path and not path.startswith("/api/auth/"):
                needed.add("403")
            if not needed <= documented:
                missing.append(f"{method.upper()} {path}: {sorted(needed - documented)}")
            success = [code for code in documented if code.startswith("2")]
            assert success, f"{method.upper()} {path} documents no success response"
    assert missing == []


def test_the_schema_documents_bearer_tokens_and_every_endpoint_family() -> None:
    schema = _schema()
    assert "jwtAuth" in schema["components"]["securitySchemes"]
    paths = set(schema["paths"])
    for expected in (
        "/api/auth/token/",
        "/api/auth/token/refresh/",
        "/api/auth/token/verify/",
        "/api/auth/logout/",
        "/api/families/",
        "/api/families/{family_id}/members/{user_id}/",
        "/api/families/{family_id}/pubky/enable/",
        "/api/families/{family_id}/keypairs/",
        "/api/domains/{domain_id}/dns-records/{record_id}/",
        "/api/domains/{domain_id}/score/",
        "/api/domains/{domain_id}/scores/",
        "/api/migrations/{migration_id}/advance/",
        "/api/migrations/{migration_id}/approve/",
        "/api/migrations/{migration_id}/reject/",
        "/api/migrations/{migration_id}/rollback/",
        "/api/pubky-domains/{pubky_domain_id}/publish/",
        "/api/pubky-domains/{pubky_domain_id}/resolve/",
        "/api/pubky-domains/{pubky_domain_id}/pkarr-records/",
        "/api/relays/",
        "/api/relays/history/",
        "/api/domains/{domain_id}/activity/",
        "/api/grants/{grant_id}/revoke/",
        "/api/families/{family_id}/guardians/",
        "/api/guardians/{guardian_id}/backup-status/",
        "/api/families/{family_id}/notifications/",
        "/api/notifications/{notification_id}/read/",
        "/api/audit/security-events/",
        "/api/audit/log-entries/",
    ):
        assert expected in paths, expected
    names = {
        name
        for component in schema["components"]["schemas"].values()
        for name in component.get("properties", {})
    }
    assert not [name for name in names if "private" in name]
    assert "private_key" not in yaml.safe_dump(schema).lower()


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _unbounded_strings(schema: dict[str, Any], node: dict[str, Any], where: str) -> list[str]:
    """Every string in ``node`` (a request schema) with neither ``maxLength`` nor ``enum``."""
    node = _resolve(schema, node)
    found: list[str] = []
    for part in node.get("allOf", []) + node.get("oneOf", []) + node.get("anyOf", []):
        found += _unbounded_strings(schema, part, where)
    bounded = {"maxLength", "enum"} & set(node) or node.get("format") in ("date-time", "date")
    if node.get("type") == "string" and not bounded:
        found.append(where)
    for name, child in node.get("properties", {}).items():
        found += _unbounded_strings(schema, child, f"{where}.{name}")
    if node.get("type") == "array":
        found += _unbounded_strings(schema, node.get("items", {}), f"{where}[]")
    return found


def test_every_text_input_documents_its_maximum_length() -> None:
    schema = _generated_schema()
    unbounded: list[str] = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            name = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    unbounded += _unbounded_strings(
                        schema, parameter["schema"], f"{name} ?{parameter['name']}"
                    )
                elif parameter["in"] == "path":  # ids: digits, bounded by their pattern
                    assert parameter["schema"].get("pattern", "").endswith("{1,18}$"), name
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                unbounded += _unbounded_strings(schema, body["schema"], f"{name} body")
    assert unbounded == []


def test_the_docs_page_is_served() -> None:
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


# --- schema-driven test against the live application ----------------------------------------


def _generated_schema() -> dict[str, Any]:
    """The schema as /api/schema/ serves it (generated in-process: no request, no database)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


# Built when the module is collected, so that every operation is its own test item.
# Fuzzing only (valid and invalid data), a few derandomized examples per operation: the
# coverage phase's exhaustive boundary cases would take minutes for ~60 operations.
LIVE_CONFIG = schemathesis.Config.from_dict(
    {
        "phases": {
            "examples": {"enabled": False},
            "coverage": {"enabled": False},
            "stateful": {"enabled": False},
        },
        "generation": {"max-examples": 8, "deterministic": True, "mode": "all"},
    }
)
live_schema = schemathesis.openapi.from_dict(_generated_schema(), config=LIVE_CONFIG)
live_schema.app = WSGIHandler()


# Ids of the objects the fixture created, by path parameter name (see ``map_path_parameters``).
KNOWN_IDS: dict[str, int] = {}


@live_schema.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any]) -> dict[str, Any]:
    """Point every other generated (even) id at an existing object, so handlers run past 404."""
    mapped = dict(path_parameters or {})
    for name, value in mapped.items():
        if name in KNOWN_IDS and str(value).isdigit() and int(value) % 2 == 0:
            mapped[name] = KNOWN_IDS[name]
    return mapped


# --- hostile input, mixed into what schemathesis generates ---------------------------------------

HOSTILE_TEXT = [
    "\x00",
    "nul\x00inside",
    "\x01\x1b[31m\x7f",
    "\x85c1",
    "x" * 300_000,  # far past every maxLength, still under the body limit
]
# (Lone surrogates are left to tests/api/test_input_limits.py: the generated form bodies could
# not encode one, and no client can put one in a URL.)
NESTED = 500  # deeper than API_MAX_JSON_DEPTH, shallow enough for the client to serialise


def _nested(value: Any) -> Any:
    for _ in range(NESTED):
        value = [value]
    return value


def _spiked(value: dict[str, Any], draw: Any) -> dict[str, Any]:
    """``value`` with one of its fields (or a new one) replaced by hostile input."""
    spiked = dict(value)
    key = draw(st.sampled_from(sorted(spiked) or ["extra"]))
    spiked[key] = draw(st.sampled_from(HOSTILE_TEXT))
    return spiked


@live_schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """The generated body as is, with one hostile field, or nested past the depth limit."""
    if not isinstance(body, dict):
        return st.just(body)

    @st.composite
    def hostile(draw: Any) -> Any:
        kind = draw(st.sampled_from(["as-generated", "text", "text", "nested", "nested-field"]))
        if kind == "as-generated":
            return body
        if kind == "nested":
            return _nested(body)
        if kind == "nested-field":
            return {**body, draw(st.sampled_from(sorted(body) or ["extra"])): _nested(1)}
        return _spiked(body, draw)

    return hostile()


@live_schema.hook
def flatmap_query(context: Any, query: Any) -> Any:
    """The generated query as is, or with one parameter replaced by hostile text."""
    if not isinstance(query, dict) or not query:
        return st.just(query)

    @st.composite
    def hostile(draw: Any) -> Any:
        if draw(st.booleans()):
            return query
        spiked = dict(query)
        spiked[draw(st.sampled_from(sorted(spiked)))] = draw(
            st.sampled_from([text[:5000] for text in HOSTILE_TEXT])
        )
        return spiked

    return hostile()


@pytest.fixture(scope="module")
def _owner_token(_module_world: World | None, django_db_blocker: Any) -> str:
    """Made once, in the module's shared world (``tests/shared_world.py``)."""
    assert _module_world is not None, "test_schema.py is a shared_world module"
    with django_db_blocker.unblock():
        return _token(_module_world)


@pytest.fixture
def staff_token(_owner_token: str, db: None) -> Iterator[str]:
    """A family's worth of data, and the token of its owner (also staff: the audit trail).

    Django closes the database connection when a WSGI request starts and finishes; the test
    database lives in this test's transaction, so (as Django's own test client does) the
    requests keep the connection open.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield _owner_token
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _token(world: World) -> str:
    owner = world.people["owner"]
    viewer = world.people["viewer"]
    assert owner is not None and viewer is not None
    owner.is_staff = True
    owner.save()
    migration = create_domain_migration(domain=world.domain, direction="dns_to_pubky")
    KNOWN_IDS.clear()
    KNOWN_IDS.update(
        family_id=world.family.pk,
        user_id=viewer.pk,
        domain_id=world.domain.pk,
        record_id=world.dns.pk,
        pubky_domain_id=world.pubky_domain.pk,
        migration_id=migration.pk,
        guardian_id=world.guardian_id,
        notification_id=world.notification.pk,
        grant_id=AccessGrant.objects.get(grantee=world.people["granted"]).pk,
    )
    return str(AccessToken.for_user(owner))


@live_schema.parametrize()
@hypothesis_settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_never_get_a_server_error_and_match_the_schema(
    case: Any, staff_token: str
) -> None:
    response = case.call(headers={"Authorization": f"Bearer {staff_token}"})
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
