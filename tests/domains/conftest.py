"""Fixtures for the domain services: a real Pubky testnet and a real DNS server on loopback.

* ``testnet`` — one session-wide :class:`pubky.testnet.Testnet` (two relays, a homeserver with
  open signup) on ephemeral loopback ports. Don't stop its relays; use ``make_testnet`` for
  outages.
* ``dns_server`` — one session-wide :class:`tests.dnsserver.LoopbackDnsServer`; cleared before
  each test.
* ``pubky_settings`` (autouse) — points every ``PUBKY_*`` setting at those two, so no test can
  reach the defaults (127.0.0.1:15411) by accident.
* ``make_testnet(**kwargs)`` — a dedicated testnet for one test (stopped afterwards); combine
  with ``use_testnet(net)`` to point the settings at it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from domains.models import DomainRecord, PubkyDomain
from families.models import Family
from pubky import z32
from pubky.packet import SignedPacket
from pubky.testnet import Testnet
from pubkyproject.pubky_client import pubky_client
from tests.dnsserver import LoopbackDnsServer
from tests.factories import DnsRecordFactory, DomainFactory, FamilyFactory

CHALLENGE_PREFIX = "_pubky-challenge"
NOT_A_CURVE_POINT = "c1bkg8tfsyy8wcedtmw4fwhdmm7bbzhgg3z58tf43m5ow8w9mbus"


def _canonical_non_point() -> str:
    """The same 32 bytes as NOT_A_CURVE_POINT, canonically encoded.

    NOT_A_CURVE_POINT (a pubky-core test key that is not an Ed25519 point) has non-zero
    trailing bits in its last character, which pkarr (Rust) ignores and ``pubky.z32``
    rejects; re-encoding the bytes gives text that every decoder accepts, so only the
    curve-point check can refuse it.
    """
    number = 0
    for char in NOT_A_CURVE_POINT:
        number = (number << 5) | z32.ALPHABET.index(char)
    return z32.encode((number >> 4).to_bytes(32, "big"))


NOT_A_CURVE_POINT_CANONICAL = _canonical_non_point()


def make_family(**kwargs: Any) -> Family:
    """A family (typed wrapper around the factory)."""
    return cast(Family, FamilyFactory(**kwargs))


def make_domain(**kwargs: Any) -> DomainRecord:
    return cast(DomainRecord, DomainFactory(**kwargs))


def linked_domain(pubky_domain: PubkyDomain) -> DomainRecord:
    """The registrar-side domain of a Pubky domain (fails the test when there is none)."""
    pubky_domain.refresh_from_db()
    assert pubky_domain.domain is not None
    return pubky_domain.domain


def resolved(public_key: str) -> SignedPacket:
    """The packet the configured relays serve for ``public_key`` (fails when none does)."""
    packet = pubky_client().resolve(public_key)
    assert packet is not None, f"no relay serves a packet for {public_key}"
    return packet


def record_set(
    packet: SignedPacket, *, ttl: bool = False, identity: bool = False
) -> set[tuple[object, ...]]:
    """``{(name, type, value[, ttl])}`` of a packet, TXT values as their text.

    The ``_pubky`` record the service adds to every domain it signs up (its homeserver) is
    left out unless ``identity``: the tests compare the family's own records.
    """
    return {
        (r.name, r.rtype, r.text() if r.rtype == "TXT" else r.value, *((r.ttl,) if ttl else ()))
        for r in packet.records()
        if identity or r.name != "_pubky"
    }


@pytest.fixture(scope="session")
def testnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    net = Testnet.ephemeral(tmp_path_factory.mktemp("domains-testnet"), relays=2)
    net.start()
    try:
        yield net
    finally:
        net.stop()


@pytest.fixture(scope="session")
def _dns_server() -> Iterator[LoopbackDnsServer]:
    with LoopbackDnsServer() as server:
        yield server


@pytest.fixture
def dns_server(_dns_server: LoopbackDnsServer) -> LoopbackDnsServer:
    _dns_server.clear()
    return _dns_server


def point_settings_at(settings: Any, net: Testnet) -> None:
    settings.PUBKY_RELAYS = list(net.relay_urls)
    settings.PUBKY_HOMESERVER = net.homeserver_public_key.z32()
    settings.PUBKY_HOMESERVER_URL = net.homeserver_url
    settings.PUBKY_SIGNUP_TOKEN = None
    settings.PUBKY_HTTP_TIMEOUT = 2.0
    settings.PUBKY_HTTP_RELAY_URL = net.http_relay_link_url


@pytest.fixture(autouse=True)
def pubky_settings(settings: Any, testnet: Testnet, dns_server: LoopbackDnsServer) -> Any:
    point_settings_at(settings, testnet)
    settings.PUBKY_DNS_RESOLVERS = [dns_server.address]
    settings.PUBKY_REPUBLISH_BEFORE_EXPIRY = 3600
    return settings


@pytest.fixture
def make_testnet(tmp_path: Path) -> Iterator[Callable[..., Testnet]]:
    started: list[Testnet] = []

    def factory(**kwargs: Any) -> Testnet:
        net = Testnet.ephemeral(tmp_path / f"net{len(started)}", **kwargs)
        net.start()
        started.append(net)
        return net

    yield factory
    for net in started:
        net.stop()


@pytest.fixture
def use_testnet(settings: Any) -> Callable[[Testnet], Testnet]:
    def apply(net: Testnet) -> Testnet:
        point_settings_at(settings, net)
        return net

    return apply


@pytest.fixture
def family(db: None) -> Family:
    return make_family()


@pytest.fixture
def registrar_domain(family: Family) -> DomainRecord:
    """A registrar domain with three DNS records, as a family brings it in."""
    domain = make_domain(
        name="grandma-bakery.example", family=family, registrar="Example Registrar"
    )
    DnsRecordFactory(domain=domain, name="@", rtype="A", value="192.0.2.10", ttl=3600)
    DnsRecordFactory(domain=domain, name="www", rtype="CNAME", value="grandma-bakery.example.")
    DnsRecordFactory(domain=domain, name="@", rtype="TXT", value="v=spf1 -all", ttl=600)
    return domain
