"""PubkyClient: the settings-configured facade over the pubky library."""

from __future__ import annotations

from typing import Any

import pytest

from pubky.keys import Keypair
from pubky.testnet import Testnet
from pubkyproject.pubky_client import (
    InvalidPubkyKey,
    PubkyClient,
    PubkyNetworkError,
    parse_public_key,
    pubky_client,
)
from tests.domains.conftest import NOT_A_CURVE_POINT, NOT_A_CURVE_POINT_CANONICAL


def test_it_is_configured_from_settings_and_reused_per_configuration(
    testnet: Testnet, settings: Any
) -> None:
    client = pubky_client()
    assert client.relay_urls == testnet.relay_urls
    assert client.homeserver == testnet.homeserver_public_key
    assert client.homeserver_base_url == testnet.homeserver_url
    assert pubky_client() is client

    settings.PUBKY_RELAYS = testnet.relay_urls[:1]
    assert pubky_client() is not client
    assert pubky_client().relay_urls == testnet.relay_urls[:1]


def test_it_generates_keypairs_and_pubky_urls() -> None:
    client = pubky_client()
    keypair = client.generate_keypair()
    assert keypair != client.generate_keypair()
    z32 = keypair.public_key.z32()
    assert client.create_pubky_url(z32) == f"pubky://{z32}/"
    assert client.create_pubky_url(keypair.public_key, "/pub/a.txt") == f"pubky://{z32}/pub/a.txt"
    assert client.create_pubky_url(f"pubky{z32}", "/pub/") == f"pubky://{z32}/pub/"


def test_a_key_that_is_not_a_curve_point_is_a_clear_error() -> None:
    with pytest.raises(InvalidPubkyKey) as excinfo:
        pubky_client().create_pubky_url(NOT_A_CURVE_POINT_CANONICAL)
    assert excinfo.value.code == "invalid_public_key"
    assert "cannot decompress Edwards point" in str(excinfo.value)
    # The protocol notes' spelling of the same bytes fails earlier, on its encoding.
    with pytest.raises(InvalidPubkyKey, match="non-canonical z-base-32"):
        pubky_client().create_pubky_url(NOT_A_CURVE_POINT)
    for bad in ("", "not-a-key", "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ew0"):
        with pytest.raises(InvalidPubkyKey):
            parse_public_key(bad)


def test_it_signs_up_signs_in_and_stores_data(testnet: Testnet) -> None:
    client = pubky_client()
    keypair = client.generate_keypair()

    result = client.signup(keypair)
    assert result.homeserver == testnet.homeserver_public_key
    assert result.report.ok
    assert {r.relay_url for r in result.report.succeeded} == set(testnet.relay_urls)
    url = client.put_data(
        keypair, "/pub/app/data.json", b'{"a": 1}', content_type="application/json"
    )
    assert client.get_data(url) == b'{"a": 1}'
    assert client.get_data(client.create_pubky_url(keypair.public_key, "/pub/app/none")) is None

    # A fresh client (another process) signs in before writing.
    other = PubkyClient(
        relays=testnet.relay_urls,
        homeserver=testnet.homeserver_public_key.z32(),
        homeserver_url=testnet.homeserver_url,
    )
    session = other.signin(keypair)
    assert session.public_key == keypair.public_key
    other.put_data(keypair, "/pub/app/data.json", "v2")
    assert client.get_data(url) == b"v2"


def test_signing_in_an_unknown_user_is_a_network_error(testnet: Testnet) -> None:
    with pytest.raises(PubkyNetworkError, match="signin of"):
        pubky_client().signin(Keypair.random())


def test_resolving_a_key_nobody_published_gives_none(testnet: Testnet) -> None:
    report = pubky_client().resolve_report(Keypair.random().public_key)
    assert report.packet is None
    assert report.ok  # every relay answered a clean 404


def test_writing_after_the_session_was_lost_signs_in_again(testnet: Testnet) -> None:
    client = pubky_client()
    keypair = client.generate_keypair()
    client.signup(keypair)
    client.homeservers.set_session_cookie(keypair, "not-a-session-the-homeserver-knows")

    url = client.put_data(keypair, "/pub/app/after-expiry.txt", "still works")

    assert client.get_data(url) == b"still works"
