"""pubkyauth deep links, sealing, and the approve/poll exchange through the testnet HTTP relay."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pubky import pubkyauth
from pubky.auth import AuthToken
from pubky.errors import AuthRequestError, HttpRelayError
from pubky.keys import Keypair
from pubky.testnet import Testnet
from tests.pubky.test_cli import run


def _link(testnet: Testnet) -> str:
    link = testnet.http_relay_link_url
    assert link is not None
    return link


def test_a_deep_link_round_trips_and_keeps_an_empty_capability_list() -> None:
    request = pubkyauth.AuthRequest.new("", "http://127.0.0.1:9/link")
    url = request.url()
    assert url.startswith("pubkyauth://signin?caps=&relay=http://127.0.0.1:9/link&secret=")
    assert pubkyauth.AuthRequest.parse(url) == request
    legacy = url.replace("pubkyauth://signin?", "pubkyring:///?")
    assert pubkyauth.AuthRequest.parse(legacy).client_secret == request.client_secret


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/?relay=x&secret=y",
        "pubkyauth://signin?caps=&secret=AAAA",
        "pubkyauth://signin?caps=&relay=http://r/link",
        "pubkyauth://signin?caps=&relay=http://r/link&secret=c2hvcnQ",
        "pubkyauth://elsewhere?caps=&relay=http://r/link&secret=" + "A" * 43,
        "pubkyauth://signin?caps=&relay=ftp://r/link&secret=" + "A" * 43,
    ],
)
def test_malformed_deep_links_are_refused_with_a_reason(url: str) -> None:
    with pytest.raises(AuthRequestError):
        pubkyauth.AuthRequest.parse(url)


def test_an_approval_sealed_for_another_request_does_not_open() -> None:
    mine = pubkyauth.AuthRequest.new()
    theirs = pubkyauth.AuthRequest.new()
    sealed = pubkyauth.seal(b"token", theirs.client_secret)
    with pytest.raises(AuthRequestError, match="could not be opened"):
        pubkyauth.open_sealed(sealed, mine.client_secret)
    assert pubkyauth.open_sealed(sealed, theirs.client_secret) == b"token"


def test_the_app_receives_the_token_the_authenticator_approved(testnet: Testnet) -> None:
    request = pubkyauth.AuthRequest.new("", _link(testnet))
    keypair = Keypair.random()
    received: list[bytes | None] = []
    waiter = threading.Thread(target=lambda: received.append(pubkyauth.poll(request, timeout=20)))
    waiter.start()
    token = pubkyauth.approve(keypair, request, timeout=20)
    waiter.join(timeout=25)
    sealed = received[0]
    assert sealed is not None
    opened = AuthToken.parse(pubkyauth.open_sealed(sealed, request.client_secret))
    opened.verify()
    assert opened == token
    assert opened.public_key == keypair.public_key


def test_nothing_approved_yet_is_none_not_an_error(testnet: Testnet) -> None:
    request = pubkyauth.AuthRequest.new("", _link(testnet))
    assert pubkyauth.poll(request, timeout=0.3) is None


def test_an_unreachable_relay_is_a_typed_error() -> None:
    from tests.servers import free_port

    request = pubkyauth.AuthRequest.new("", f"http://127.0.0.1:{free_port()}/link")
    with pytest.raises(HttpRelayError, match="unreachable"):
        pubkyauth.poll(request, timeout=2)
    with pytest.raises(HttpRelayError, match="unreachable"):
        pubkyauth.approve(Keypair.random(), request, timeout=2)


def test_cli_approve_hands_a_signed_token_to_the_waiting_app(
    testnet: Testnet, tmp_path: Path
) -> None:
    keypair = Keypair.random()
    secret = tmp_path / "secret.hex"
    secret.write_text(keypair.secret.hex())
    request = pubkyauth.AuthRequest.new("", _link(testnet))
    received: list[bytes | None] = []
    waiter = threading.Thread(target=lambda: received.append(pubkyauth.poll(request, timeout=30)))
    waiter.start()
    result = run("approve", request.url(), "--secret-file", str(secret), "--timeout", "30")
    waiter.join(timeout=35)
    assert result.returncode == 0, result.stderr.decode()
    assert f"approving as {keypair.public_key.z32()}" in result.stdout.decode()
    assert received[0] is not None
    token = AuthToken.parse(pubkyauth.open_sealed(received[0], request.client_secret))
    token.verify()
    assert token.public_key == keypair.public_key


def test_cli_approve_explains_a_bad_link_and_a_missing_secret(tmp_path: Path) -> None:
    result = run("approve", "https://not-pubkyauth.example/")
    assert result.returncode == 1
    assert result.stderr.decode().startswith("error: not a pubkyauth URL")
    url = pubkyauth.AuthRequest.new("", "http://127.0.0.1:9/link").url()
    result = run("approve", url)
    assert result.returncode == 1
    assert "a secret key is required" in result.stderr.decode()
