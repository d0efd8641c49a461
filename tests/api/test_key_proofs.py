"""Proof of key possession over the API: request, approve through the HTTP relay, read back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from families.models import KeyProof, SecurityEvent, SecurityEventKind, User
from pubky import pubkyauth
from pubky.keys import Keypair
from pubky.testnet import Testnet
from tests.api.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def approve_in_background(keypair: Keypair, url: str) -> Callable[[], None]:
    """Approve ``url`` with ``keypair`` on a thread (the relay holds the POST until taken)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            pubkyauth.approve(keypair, pubkyauth.AuthRequest.parse(url), timeout=30)
        except BaseException as exc:  # reported by join()
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def join() -> None:
        thread.join(timeout=35)
        assert not thread.is_alive(), "the approval never reached the service"
        assert not errors, errors

    return join


def request_proof(user: User, key: str) -> dict[str, Any]:
    response = client_for(user).post("/api/key-proofs/", {"public_key": key}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def read_proof(user: User, proof_id: int, wait: float = 10) -> dict[str, Any]:
    response = client_for(user).get(f"/api/key-proofs/{proof_id}/?wait={wait}")
    assert response.status_code == 200, response.content
    return response.json()


def prove(user: User, keypair: Keypair) -> int:
    """A proven proof of ``keypair``'s key by ``user`` (the whole flow, for other tests)."""
    body = request_proof(user, keypair.public_key.z32())
    join = approve_in_background(keypair, body["pubkyauth_url"])
    proof = read_proof(user, body["id"])
    join()
    assert proof["status"] == "proven", proof
    return int(body["id"])


def test_a_proof_request_returns_a_pubkyauth_link_on_the_configured_relay(
    testnet: Testnet,
) -> None:
    user = UserFactory()
    key = Keypair.random().public_key.z32()
    body = request_proof(user, key)
    assert set(body) >= {"id", "public_key", "status", "pubkyauth_url", "expires_at"}
    assert body["public_key"] == key and body["status"] == "pending"
    prefix = f"pubkyauth://signin?caps=&relay={testnet.http_relay_link_url}&secret="
    assert body["pubkyauth_url"].startswith(prefix)
    request = pubkyauth.AuthRequest.parse(body["pubkyauth_url"])
    assert request.capabilities == ""
    proof = KeyProof.objects.get(pk=body["id"])
    assert bytes(proof.secret_encrypted) != request.client_secret  # sealed at rest
    assert proof.expires_at > timezone.now() + timedelta(minutes=5)


def test_the_key_holder_approves_and_the_proof_is_proven(testnet: Testnet) -> None:
    user = UserFactory()
    keypair = Keypair.random()
    proof_id = prove(user, keypair)
    proof = read_proof(user, proof_id, wait=0)
    assert proof["status"] == "proven" and proof["proven_at"]
    assert proof["pubkyauth_url"] is None
    event = SecurityEvent.objects.get(kind=SecurityEventKind.KEY_PROOF_MADE)
    assert event.user == user and event.target == f"key:{keypair.public_key.z32()}"


def test_another_key_signing_fails_the_proof_with_the_reason(testnet: Testnet) -> None:
    user = UserFactory()
    claimed = Keypair.random()
    impostor = Keypair.random()
    body = request_proof(user, claimed.public_key.z32())
    join = approve_in_background(impostor, body["pubkyauth_url"])
    proof = read_proof(user, body["id"])
    join()
    assert proof["status"] == "failed"
    assert f"signed by {impostor.public_key.z32()}" in proof["failure_reason"]
    event = SecurityEvent.objects.get(kind=SecurityEventKind.KEY_PROOF_FAILED)
    assert event.user == user and "signed by" in event.detail["reason"]


def test_a_proof_nobody_approves_expires(testnet: Testnet) -> None:
    user = UserFactory()
    body = request_proof(user, Keypair.random().public_key.z32())
    KeyProof.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    proof = read_proof(user, body["id"])
    assert proof["status"] == "expired"
    assert proof["failure_reason"] == "nobody approved it before it expired"


def test_a_proof_belongs_to_the_user_who_asked_for_it(testnet: Testnet) -> None:
    owner, other = UserFactory(), UserFactory()
    body = request_proof(owner, Keypair.random().public_key.z32())
    assert client_for(other).get(f"/api/key-proofs/{body['id']}/").status_code == 404
    assert client_for(other).get("/api/key-proofs/").json()["count"] == 0
    assert client_for(owner).get("/api/key-proofs/").json()["count"] == 1
    assert client_for(None).post("/api/key-proofs/", {"public_key": "x"}).status_code == 401


@pytest.mark.parametrize(
    "key", ["", "not-a-key", "c1bkg8tfsyy8wcedtmw4fwhdmm7bbzhgg3z58tf43m5ow8w9mbus"]
)
def test_a_malformed_key_is_a_field_error(key: str) -> None:
    response = client_for(UserFactory()).post(
        "/api/key-proofs/", {"public_key": key}, format="json"
    )
    assert response.status_code == 400
    assert "public_key" in response.json()


@pytest.mark.django_db(transaction=True)
def test_the_receive_worker_takes_the_approval_off_the_relay(testnet: Testnet) -> None:
    user = UserFactory()
    keypair = Keypair.random()
    body = request_proof(user, keypair.public_key.z32())
    join = approve_in_background(keypair, body["pubkyauth_url"])
    call_command("receive_key_proofs", "--once", "--poll-seconds", "20")
    join()
    assert KeyProof.objects.get(pk=body["id"]).status == "proven"
    assert read_proof(user, body["id"], wait=0)["status"] == "proven"


def test_the_python_cli_approves_a_key_proof(testnet: Testnet, tmp_path: Any) -> None:
    from tests.pubky.test_cli import run

    user = UserFactory()
    keypair = Keypair.random()
    secret = tmp_path / "secret.hex"
    secret.write_text(keypair.secret.hex())
    body = request_proof(user, keypair.public_key.z32())
    done: list[Any] = []
    cli = threading.Thread(
        target=lambda: done.append(
            run("approve", body["pubkyauth_url"], "--secret-file", str(secret), "--timeout", "30")
        ),
        daemon=True,
    )
    cli.start()
    proof = read_proof(user, body["id"], wait=20)
    cli.join(timeout=35)
    assert done and done[0].returncode == 0, done and done[0].stderr
    assert proof["status"] == "proven", proof
