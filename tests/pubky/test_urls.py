"""Pubky URL parsing and endpoint resolution."""

from __future__ import annotations

import pytest

from pubky.errors import InvalidPublicKey, PubkyError, ResolutionError
from pubky.keys import Keypair, PublicKey
from pubky.packet import Record, SignedPacket
from pubky.urls import (
    HTTP_PORT_PARAM,
    Endpoint,
    PubkyUrl,
    canonical_pubky_url,
    endpoint_base_url,
    endpoints_in_packet,
    resolve_base_url,
    resolve_endpoints,
    resolve_url,
)

HS = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"
USER = "yg4gxe7z1r7mr6orids9fh95y7gxhdsxjqi6nngsxxtakqaxr5no"


def test_parse_canonical_and_round_trip() -> None:
    url = PubkyUrl.parse(f"pubky://{USER}/pub/app/file.txt")
    assert url.public_key == PublicKey.from_z32(USER)
    assert url.path == "/pub/app/file.txt"
    assert str(url) == f"pubky://{USER}/pub/app/file.txt"
    assert PubkyUrl.parse(str(url)) == url
    assert not url.is_directory
    assert url.display == f"pubky{USER}/pub/app/file.txt"
    assert url.transport_url == f"https://_pubky.{USER}/pub/app/file.txt"


@pytest.mark.parametrize(
    "text",
    [
        f"pubky{USER}/pub/app/",
        f"pubky://{USER}/pub/app/",
        f"https://_pubky.{USER}/pub/app/",
        f"http://{USER}/pub/app/",
    ],
)
def test_parse_all_forms(text: str) -> None:
    url = PubkyUrl.parse(text)
    assert url == PubkyUrl(PublicKey.from_z32(USER), "/pub/app/")
    assert url.is_directory


def test_root_percent_decoding_and_join() -> None:
    assert PubkyUrl.parse(f"pubky://{USER}").path == "/"
    assert PubkyUrl.parse(f"pubky://{USER}/pub/a%20b.txt").path == "/pub/a b.txt"
    url = PubkyUrl.of(USER, "/pub/a b.txt")
    assert url.transport_url.endswith("/pub/a%20b.txt")
    assert PubkyUrl.of(USER, "pub/x").path == "/pub/x"
    base = PubkyUrl.of(USER, "/pub/app")
    assert str(base.join("f.txt")) == f"pubky://{USER}/pub/app/f.txt"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "pubky://",
        "pubky://short/pub/x",
        f"pubky://pubky{USER}/pub/x",
        f"pubky://{USER[:-1]}!/pub/x",
        "pubky://c1bkg8tfsyy8wcedtmw4fwhdmm7bbzhgg3z58tf43m5ow8w9mbus/pub/x",
        "https://example.com/pub/x",
        "ftp://x",
        f"pk:{USER}",
    ],
)
def test_bad_urls_raise_typed_errors(text: str) -> None:
    with pytest.raises(InvalidPublicKey):
        PubkyUrl.parse(text)


def test_non_string_is_rejected() -> None:
    with pytest.raises(PubkyError):
        PubkyUrl.parse(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        f"pubky://{USER}/pub/app/a b.txt",
        f"pubky://{USER}/pub/app/a%20b.txt",
        f"  pubky://{USER}/pub/app/a%20b.txt  ",
        f"pubky://{USER}/pub/app/a b.txt?x=1#frag",
        f"pubky{USER}/pub/app/a b.txt",
        f"https://_pubky.{USER}/pub/app/a%20b.txt",
        f"http://{USER}/pub/app/a%20b.txt",
    ],
)
def test_every_spelling_of_a_url_has_one_canonical_form(text: str) -> None:
    assert canonical_pubky_url(text) == f"pubky://{USER}/pub/app/a b.txt"


def test_canonical_form_of_a_parsed_url_a_key_and_a_bare_root() -> None:
    url = PubkyUrl.of(USER, "/pub/x")
    assert canonical_pubky_url(url) == url.canonical() == str(url) == f"pubky://{USER}/pub/x"
    assert canonical_pubky_url(PublicKey.from_z32(USER)) == f"pubky://{USER}/"
    assert canonical_pubky_url(f"pubky://{USER}") == f"pubky://{USER}/"
    # Canonical text is a fixed point: making it canonical again changes nothing.
    assert canonical_pubky_url(canonical_pubky_url(f"pubky{USER}/pub/x")) == f"pubky://{USER}/pub/x"


@pytest.mark.parametrize("text", ["", f"pubky://pubky{USER}/pub/x", "https://example.com/x", USER])
def test_canonical_form_of_a_bad_url_is_a_typed_error(text: str) -> None:
    with pytest.raises(InvalidPublicKey):
        canonical_pubky_url(text)


def test_endpoints_in_homeserver_packet(testnet) -> None:
    packet = testnet.homeserver_packet()
    endpoints = endpoints_in_packet(packet, HS)
    assert [e.priority for e in endpoints] == [1, 10]
    tls, icann = endpoints
    assert tls.target == "."
    assert tls.domain is None
    assert tls.port == testnet.pubky_tls_port
    assert tls.addresses == ("127.0.0.1",)
    assert icann.domain == "localhost"
    assert icann.params[HTTP_PORT_PARAM] == testnet.homeserver_port.to_bytes(2, "big")
    assert endpoint_base_url(icann) == f"http://localhost:{testnet.homeserver_port}"


def test_endpoint_base_url_rules() -> None:
    key = Keypair.random().public_key
    assert endpoint_base_url(Endpoint("example.com", key, 10)) == "https://example.com"
    assert endpoint_base_url(Endpoint("example.com", key, 10, port=8443)) == (
        "https://example.com:8443"
    )
    testnet = Endpoint("hs.test", key, 10, params={HTTP_PORT_PARAM: b"\x18\x8e"})
    assert endpoint_base_url(testnet, testnet_host="hs.test") == "http://hs.test:6286"
    assert endpoint_base_url(testnet, testnet_host=None) == "https://hs.test"
    with pytest.raises(ResolutionError, match="key65280"):
        endpoint_base_url(Endpoint("localhost", key, 10))
    with pytest.raises(ResolutionError):
        endpoint_base_url(Endpoint(".", key, 1))


def test_resolution_of_a_signed_up_user(testnet, signed_up) -> None:
    keypair, _ = signed_up
    relays = testnet.relay_client()
    user = keypair.public_key.z32()
    url = PubkyUrl.of(user, "/pub/app/x.txt")
    assert url.resolve(relays) == f"http://localhost:{testnet.homeserver_port}/pub/app/x.txt"
    resolved = resolve_url(f"pubky{user}/pub/app/x.txt?a=1", relays)
    assert resolved.pubky_host == user
    assert resolved.server_key == testnet.homeserver_public_key
    assert resolved.url.endswith("/pub/app/x.txt?a=1")
    endpoints = resolve_endpoints(relays, f"_pubky.{user}")
    assert [e.server_key for e in endpoints] == [testnet.homeserver_public_key] * 2
    base, key = resolve_base_url(relays, HS)
    assert base == f"http://localhost:{testnet.homeserver_port}"
    assert key == testnet.homeserver_public_key


def test_icann_urls_pass_through_and_prefix_is_rejected(relay_client) -> None:
    plain = resolve_url("https://example.com/x", relay_client)
    assert plain.url == "https://example.com/x"
    assert plain.pubky_host is None
    with pytest.raises(InvalidPublicKey):
        resolve_url(f"https://pubky{USER}/x", relay_client)


def test_unresolvable_keys(relay_client) -> None:
    unknown = Keypair.random().public_key.z32()
    assert resolve_endpoints(relay_client, f"_pubky.{unknown}") == []
    with pytest.raises(ResolutionError, match="No HTTPS endpoints"):
        resolve_url(f"pubky://{unknown}/pub/x", relay_client)
    with pytest.raises(ResolutionError):
        resolve_endpoints(relay_client, "example.com")


def test_alias_chain_and_recursion_limit(relay_client) -> None:
    # user -> middle key -> homeserver-like key with a domain endpoint
    leaf = Keypair.random()
    middle = Keypair.random()
    user = Keypair.random()
    relay_client.publish(
        SignedPacket.sign(leaf, [Record("@", "HTTPS", "10 example.org. port=8443", 3600)])
    ).raise_for_failure()
    relay_client.publish(
        SignedPacket.sign(middle, [Record("@", "HTTPS", f"0 {leaf.public_key.z32()}.", 3600)])
    ).raise_for_failure()
    relay_client.publish(
        SignedPacket.sign(user, [Record("_pubky", "HTTPS", f"0 {middle.public_key.z32()}.", 60)])
    ).raise_for_failure()
    base, key = resolve_base_url(relay_client, f"_pubky.{user.public_key.z32()}")
    assert base == "https://example.org:8443"
    assert key == leaf.public_key
    assert resolve_endpoints(relay_client, f"_pubky.{user.public_key.z32()}", max_depth=2) == []
