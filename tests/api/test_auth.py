"""JWT: obtaining, refreshing (with rotation), verifying and revoking tokens; failed logins."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from families.models import SecurityEvent
from pubkyproject.async_db import close_pool
from realtime.auth import aauthenticate_token
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def fresh_address() -> str:
    """A loopback address no other test (or earlier run) used: throttles count per address."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"


@pytest.fixture
def alice():
    return UserFactory(username="alice")


def login(client: APIClient, username: str, password: str):
    return client.post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )


def test_a_user_exchanges_a_password_for_tokens_and_calls_the_api(alice) -> None:
    client = APIClient(REMOTE_ADDR=fresh_address())
    response = login(client, "alice", "pw")
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.post("/api/families/", {"name": "Alices"}, format="json").status_code == 201


def test_access_tokens_are_short_lived_and_refresh_tokens_rotate() -> None:
    jwt = django_settings.SIMPLE_JWT
    assert jwt["ACCESS_TOKEN_LIFETIME"] <= timedelta(minutes=15)
    assert jwt["ROTATE_REFRESH_TOKENS"] and jwt["BLACKLIST_AFTER_ROTATION"]


def test_a_failed_login_is_recorded_with_the_callers_address(alice) -> None:
    address = fresh_address()
    response = login(APIClient(REMOTE_ADDR=address), "alice", "wrong")
    assert response.status_code == 401
    event = SecurityEvent.objects.get(kind="login_failed", ip_address=address)
    assert event.username == "alice"
    assert "wrong" not in str(event.detail)


def test_a_login_for_nobody_is_recorded_too(db) -> None:
    address = fresh_address()
    assert login(APIClient(REMOTE_ADDR=address), "mallory", "x").status_code == 401
    assert SecurityEvent.objects.filter(
        kind="login_failed", username="mallory", ip_address=address
    ).exists()


def test_a_login_without_a_password_is_a_field_error(alice) -> None:
    response = APIClient(REMOTE_ADDR=fresh_address()).post(
        "/api/auth/token/", {"username": "alice"}, format="json"
    )
    assert response.status_code == 400
    assert "password" in response.json()


def test_logins_are_throttled_per_address_and_the_hit_is_recorded(alice, settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "login": "3/min",
        },
    }
    address = fresh_address()
    client = APIClient(REMOTE_ADDR=address)
    statuses = [login(client, "alice", "wrong").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    # Even the right password waits: the limit is per address, not per guess.
    blocked = login(client, "alice", "pw")
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    assert blocked.json()["code"] == "throttled"
    event = SecurityEvent.objects.get(kind="rate_limited", ip_address=address)
    assert event.target == "POST /api/auth/token/"
    # A made-up X-Forwarded-For does not buy new attempts; another address is not affected.
    spoofed = APIClient(REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR=fresh_address())
    assert login(spoofed, "alice", "pw").status_code == 429
    assert login(APIClient(REMOTE_ADDR=fresh_address()), "alice", "pw").status_code == 200


def test_refreshing_rotates_the_refresh_token_and_refuses_the_old_one(alice) -> None:
    client = APIClient(REMOTE_ADDR=fresh_address())
    first = login(client, "alice", "pw").json()
    response = client.post("/api/auth/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert response.status_code == 200
    second = response.json()
    assert second["refresh"] != first["refresh"]
    assert str(AccessToken(second["access"])["user_id"]) == str(alice.pk)
    replay = client.post("/api/auth/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert replay.status_code == 401


def test_verify_tells_valid_tokens_from_garbage(alice) -> None:
    client = APIClient(REMOTE_ADDR=fresh_address())
    tokens = login(client, "alice", "pw").json()
    good = client.post("/api/auth/token/verify/", {"token": tokens["access"]}, format="json")
    bad = client.post("/api/auth/token/verify/", {"token": "not-a-token"}, format="json")
    assert good.status_code == 200
    assert bad.status_code == 401


def test_logout_blacklists_the_refresh_token(alice) -> None:
    client = APIClient(REMOTE_ADDR=fresh_address())
    tokens = login(client, "alice", "pw").json()
    out = client.post("/api/auth/logout/", {"refresh": tokens["refresh"]}, format="json")
    assert out.status_code == 204
    refused = client.post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert refused.status_code == 401
    again = client.post("/api/auth/logout/", {"refresh": tokens["refresh"]}, format="json")
    assert again.status_code == 401


def test_an_expired_access_token_is_refused_and_recorded(alice) -> None:
    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=-timedelta(seconds=1))
    address = fresh_address()
    client = APIClient(REMOTE_ADDR=address, HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get("/api/families/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert SecurityEvent.objects.filter(kind="token_invalid", ip_address=address).exists()


@pytest.mark.django_db(transaction=True)  # the WebSocket path reads on its own connection
async def test_the_websocket_accepts_the_tokens_the_api_issues(alice) -> None:
    response = await sync_to_async(login)(APIClient(REMOTE_ADDR=fresh_address()), "alice", "pw")
    try:
        identity = await aauthenticate_token(response.json()["access"])
    finally:
        await close_pool()
    assert identity.user == alice


def test_logout_refuses_the_sessions_access_token_but_not_another_sessions(alice) -> None:
    client = APIClient(REMOTE_ADDR=fresh_address())
    ended = login(client, "alice", "pw").json()
    other = login(client, "alice", "pw").json()
    assert AccessToken(ended["access"])["sid"] != AccessToken(other["access"])["sid"]
    assert (
        client.post("/api/auth/logout/", {"refresh": ended["refresh"]}, format="json").status_code
        == 204
    )

    refused = client.get("/api/families/", HTTP_AUTHORIZATION=f"Bearer {ended['access']}")
    assert refused.status_code == 401
    assert refused.json()["code"] == "token_not_valid"
    assert (
        client.get("/api/families/", HTTP_AUTHORIZATION=f"Bearer {other['access']}").status_code
        == 200
    )


def test_a_refreshed_token_stays_in_its_session_and_ends_with_it(alice) -> None:
    client = APIClient(REMOTE_ADDR=fresh_address())
    first = login(client, "alice", "pw").json()
    rotated = client.post(
        "/api/auth/token/refresh/", {"refresh": first["refresh"]}, format="json"
    ).json()
    assert AccessToken(rotated["access"])["sid"] == AccessToken(first["access"])["sid"]
    assert (
        client.post("/api/auth/logout/", {"refresh": rotated["refresh"]}, format="json").status_code
        == 204
    )
    for access in (first["access"], rotated["access"]):
        assert (
            client.get("/api/families/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401
        )


def test_a_password_change_ends_every_session_but_a_first_password_does_not(alice) -> None:
    client = APIClient(REMOTE_ADDR=fresh_address())
    sessions = [login(client, "alice", "pw").json() for _ in range(2)]
    alice.set_password("another secret")
    alice.save()
    for tokens in sessions:
        bearer = f"Bearer {tokens['access']}"
        assert client.get("/api/families/", HTTP_AUTHORIZATION=bearer).status_code == 401
        again = client.post(
            "/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
        )
        assert again.status_code == 401
    fresh = login(client, "alice", "another secret").json()
    assert (
        client.get("/api/families/", HTTP_AUTHORIZATION=f"Bearer {fresh['access']}").status_code
        == 200
    )
    newcomer = UserFactory()  # created with its first password: nothing to end
    token = str(AccessToken.for_user(newcomer))
    assert client.get("/api/families/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_deactivating_a_user_ends_their_sessions(alice) -> None:
    client = APIClient(REMOTE_ADDR=fresh_address())
    tokens = login(client, "alice", "pw").json()
    alice.is_active = False
    alice.save()
    refresh = client.post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert refresh.status_code == 401
    alice.is_active = True
    alice.save()
    # Reactivated: the old session stays ended.
    assert (
        client.get("/api/families/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}").status_code
        == 401
    )
