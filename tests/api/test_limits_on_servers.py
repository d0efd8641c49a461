"""The request limits hold on the real ASGI servers (daphne, the default, and uvicorn).

Django's ASGI handler would buffer a whole body (spooling it to disk) before a parser saw it;
the body limit is applied in front of it, so a large body is refused with 413 whether it
declares its length or streams in chunks, and the server stays up for the next request.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from rest_framework_simplejwt.tokens import AccessToken

from families.models import Family
from tests.factories import UserFactory
from tests.realtime.conftest import subprocess_env
from tests.servers import process_group

LIMIT = 4096


@pytest.fixture(params=["daphne", "uvicorn"])
def base_url(request: pytest.FixtureRequest, transactional_db: None) -> Iterator[str]:
    env = subprocess_env(API_MAX_BODY_BYTES=str(LIMIT))
    with process_group(env) as group:
        start = group.daphne if request.param == "daphne" else group.uvicorn
        process = start(f"web-{request.param}")
        yield f"http://127.0.0.1:{process.port}"


@pytest.fixture
def headers(transactional_db: None) -> dict[str, str]:
    user = UserFactory(username="limits-owner")
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"name": "Chunked", "description": "'
    sent = 0
    while sent < total:
        yield b"x" * 1024
        sent += 1024
    yield b'"}'


def test_a_body_declared_over_the_limit_answers_413(base_url: str, headers) -> None:
    body = b'{"name": "Big", "description": "' + b"x" * (2 * LIMIT) + b'"}'
    response = requests.post(
        f"{base_url}/api/families/",
        data=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"The request body is larger than {LIMIT} bytes.",
        "code": "too_large",
    }
    assert not Family.objects.filter(name="Big").exists()


def test_a_chunked_body_is_cut_off_at_the_limit(base_url: str, headers) -> None:
    response = requests.post(
        f"{base_url}/api/families/",
        data=_chunks(64 * LIMIT),
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Family.objects.filter(name="Chunked").exists()


def test_every_route_has_the_limit_and_the_server_stays_up(base_url: str, headers) -> None:
    refused = requests.post(f"{base_url}/admin/login/", data=b"x" * (2 * LIMIT), timeout=10)
    assert refused.status_code == 413
    nested = b'{"name": "Nest", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    deep = requests.post(
        f"{base_url}/api/families/",
        data=nested,
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )
    assert deep.status_code == 400
    assert deep.json()["code"] == "parse_error"
    created = requests.post(
        f"{base_url}/api/families/",
        json={"name": "Small", "description": "fits\x00"},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 400
    assert created.json() == {"description": ["Control characters (such as NUL) are not allowed."]}
    created = requests.post(
        f"{base_url}/api/families/", json={"name": "Small"}, headers=headers, timeout=10
    )
    assert created.status_code == 201, created.text
