"""The official ``@synonymdev/pubky@0.6.0`` client proves key possession to the service.

The service asks for a proof (``POST /api/key-proofs/``); the WASM signer holding the key
approves the returned pubkyauth link (``signer.approveAuthRequest(url)``) through our testnet's
HTTP relay; the service receives the sealed AuthToken, verifies it and the proof is proven.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from families.models import KeyProof
from pubky.keys import Keypair
from pubky.testnet import Testnet
from tests.factories import UserFactory
from tests.interop.oracles import NodeRun, pubky

pytestmark = [pytest.mark.interop, pytest.mark.django_db]


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


@pytest.mark.parametrize("holder", ["right key", "wrong key"])
def test_the_official_client_approves_a_key_proof_through_the_http_relay(
    interop_testnet: Testnet, settings: Any, holder: str
) -> None:
    settings.PUBKY_HTTP_RELAY_URL = interop_testnet.http_relay_link_url
    settings.PUBKY_RELAYS = list(interop_testnet.relay_urls)
    user = UserFactory()
    keypair = Keypair.random()
    signer = keypair if holder == "right key" else Keypair.random()
    created = _client(user).post(
        "/api/key-proofs/", {"public_key": keypair.public_key.z32()}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["pubkyauth_url"].startswith(
        f"pubkyauth://signin?caps=&relay={interop_testnet.http_relay_link_url}&secret="
    )

    outcome: dict[str, NodeRun | BaseException] = {}

    def wasm_authenticator() -> None:
        try:
            outcome["run"] = pubky(
                {
                    "op": "approve_auth_url",
                    "relays": interop_testnet.relay_urls,
                    "secret": signer.secret.hex(),
                    "url": body["pubkyauth_url"],
                },
                timeout=40,
            )
        except BaseException as exc:  # reported below
            outcome["error"] = exc

    thread = threading.Thread(target=wasm_authenticator, name="wasm-approver", daemon=True)
    thread.start()
    proof: dict[str, Any] = {}
    for _ in range(6):  # the WASM process needs a moment to start; each read waits 5 s
        proof = _client(user).get(f"/api/key-proofs/{body['id']}/?wait=5").json()
        if proof["status"] != "pending":
            break
    thread.join(timeout=40)
    assert "error" not in outcome, outcome.get("error")
    run = outcome["run"]
    assert isinstance(run, NodeRun)
    run.value()
    stored = KeyProof.objects.get(pk=body["id"])
    if holder == "right key":
        assert proof["status"] == "proven", proof
        assert stored.token_timestamp is not None
    else:
        assert proof["status"] == "failed", proof
        assert f"signed by {signer.public_key.z32()}" in proof["failure_reason"]
