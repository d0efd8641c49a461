"""PKARR packets and relays: our ``pubky.packet`` / ``RelayClient`` against npm ``pkarr@1.3.0``.

Directions covered:

* pkarr's ``SignedPacket.fromPacket`` builds/signs → our ``SignedPacket`` verifies and decodes;
* our ``SignedPacket.sign`` → pkarr's ``SignedPacket.fromBytes`` verifies and decodes;
* our ``RelayClient`` → the npm relay (on a private loopback DHT);
* pkarr's ``Pkarr.relayPut/relayGet`` → our testnet relay (see ``test_npm_pkarr_client_*``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
import requests

from pubky.errors import InvalidSignature, PayloadTooLarge, RelayBadRequest
from pubky.keys import Keypair, PublicKey
from pubky.packet import Record, SignedPacket, now_us
from pubky.relay_client import RelayClient
from tests.interop.oracles import NpmPkarrRelay, pkarr

if TYPE_CHECKING:
    from pubky.testnet import Testnet

pytestmark = pytest.mark.interop

ZERO_SEED = bytes(32)
ZERO_SEED_KEY = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"

# The test vector of pubky/pkarr js/test/signed_packet.js (npm pkarr 1.3.0 era).
VECTOR_TIMESTAMP = 1697016827303000
VECTOR_ANSWERS = [
    {"name": "@", "type": "A", "data": "1.1.1.1"},
    {"name": "foo", "type": "TXT", "ttl": 30, "data": "bar"},
]
VECTOR_PAYLOAD = bytes.fromhex(
    "c45d1577e6c0d7fe24d1cd6696776a25628b438ffa10b1419dfdede3c51f8577d8447d44df4523fa43f574d6f1"
    "3a65433fa828eb280065c271fcdcaef5365c010006076d852b5458000080000000000200000000343870696e78"
    "7867717334316e346169646964656e773561707170317572666d7a647a7472386a74346162726b646e34333565"
    "776f00000100010000000000040101010103666f6f343870696e787867717334316e346169646964656e773561"
    "707170317572666d7a647a7472386a74346162726b646e34333565776f00001000010000001e000403626172"
)

# HTTPS (type 65) is unknown to dns-packet 5.6: pkarr carries it as raw rdata.
PUBKY_HTTPS_RDATA = "0000" + "34" + ZERO_SEED_KEY.encode().hex() + "00"  # "0 <hs>."
LOCAL_HTTPS_RDATA = "000a096c6f63616c686f737400ff000002188e"  # '10 localhost. key65280=6286'


def _seed() -> bytes:
    return os.urandom(32)


def _fresh_packet(
    keypair: Keypair, text: str = "hello", *, timestamp: int | None = None
) -> SignedPacket:
    return SignedPacket.sign(
        keypair,
        [
            Record("@", "A", "127.0.0.1", 300),
            Record.txt("_interop", text, 60),
            Record("_pubky", "HTTPS", f"0 {ZERO_SEED_KEY}.", 3600),
        ],
        timestamp=timestamp,
    )


def _summary(packet: SignedPacket) -> list[tuple[str, str, str, int]]:
    """(name, type, value, ttl) per record; TXT values as their decoded text."""
    return [
        (r.name, r.rtype, r.text() if r.rtype == "TXT" else r.value, r.ttl)
        for r in packet.records()
    ]


def _tampered(packet: SignedPacket) -> SignedPacket:
    """Same packet with one signature bit flipped (constructing does not verify)."""
    bad_signature = bytes([packet.signature[0] ^ 1]) + packet.signature[1:]
    return SignedPacket(packet.public_key, bad_signature, packet.timestamp, packet.dns_packet)


# --- SignedPacket bytes ------------------------------------------------------------------------


def test_npm_pkarr_reproduces_the_official_signed_packet_vector() -> None:
    signed = pkarr(
        {
            "op": "sign",
            "seed": ZERO_SEED.hex(),
            "timestamp": VECTOR_TIMESTAMP,
            "answers": VECTOR_ANSWERS,
        }
    ).value()
    assert signed["public_key"] == ZERO_SEED_KEY
    assert bytes.fromhex(signed["payload"]) == VECTOR_PAYLOAD


def test_python_verifies_the_official_vector_and_reproduces_it_uncompressed() -> None:
    key = PublicKey.from_z32(ZERO_SEED_KEY)
    packet = SignedPacket.from_relay_payload(key, VECTOR_PAYLOAD)
    assert packet.timestamp == VECTOR_TIMESTAMP
    assert _summary(packet) == [("@", "A", "1.1.1.1", 0), ("foo", "TXT", "bar", 30)]
    assert packet.to_relay_payload() == VECTOR_PAYLOAD

    resigned = SignedPacket.sign(
        Keypair.from_secret(ZERO_SEED),
        [Record("@", "A", "1.1.1.1", 0), Record.txt("foo", "bar", 30)],
        timestamp=VECTOR_TIMESTAMP,
        compress=False,  # dns-packet (npm pkarr) never compresses names
    )
    assert resigned.to_relay_payload() == VECTOR_PAYLOAD


def test_python_verifies_and_decodes_packets_signed_by_npm_pkarr() -> None:
    seed = _seed()
    timestamp = now_us()
    answers = [
        {"name": "@", "type": "A", "ttl": 300, "data": "10.0.0.1"},
        {"name": "@", "type": "AAAA", "ttl": 300, "data": "2001:db8::1"},
        {"name": "www", "type": "CNAME", "ttl": 120, "data": "example.com"},
        {"name": "_note", "type": "TXT", "ttl": 60, "data": "ünïcode & spaces"},
        {"name": "_pubky", "type": "UNKNOWN_65", "ttl": 3600, "data": {"hex": PUBKY_HTTPS_RDATA}},
        {"name": "@", "type": "UNKNOWN_65", "ttl": 3600, "data": {"hex": LOCAL_HTTPS_RDATA}},
    ]
    run = pkarr({"op": "sign", "seed": seed.hex(), "timestamp": timestamp, "answers": answers})
    signed = run.value()
    key = Keypair.from_secret(seed).public_key
    assert signed["public_key"] == key.z32()

    packet = SignedPacket.from_relay_payload(key, bytes.fromhex(signed["payload"]))
    assert packet.timestamp == timestamp
    assert packet.to_relay_payload().hex() == signed["payload"]
    assert _summary(packet) == [
        ("@", "A", "10.0.0.1", 300),
        ("@", "AAAA", "2001:db8::1", 300),
        ("www", "CNAME", "example.com.", 120),
        ("_note", "TXT", "ünïcode & spaces", 60),
        ("_pubky", "HTTPS", f"0 {ZERO_SEED_KEY}.", 3600),
        ("@", "HTTPS", '10 localhost. key65280="\\024\\142"', 3600),
    ], run.describe(0)


def test_python_rejects_npm_signed_packets_that_were_tampered_with() -> None:
    seed = _seed()
    signed = pkarr(
        {
            "op": "sign",
            "seed": seed.hex(),
            "answers": [{"name": "@", "type": "A", "data": "1.2.3.4"}],
        }
    ).value()
    payload = bytes.fromhex(signed["payload"])
    key = Keypair.from_secret(seed).public_key
    for index in (0, 64, 71, len(payload) - 1):  # signature, timestamp, DNS packet
        tampered = bytearray(payload)
        tampered[index] ^= 0x01
        with pytest.raises(InvalidSignature):
            SignedPacket.from_relay_payload(key, bytes(tampered))
    other_key = Keypair.from_secret(_seed()).public_key
    with pytest.raises(InvalidSignature):
        SignedPacket.from_relay_payload(other_key, payload)


@pytest.mark.parametrize("compress", [True, False], ids=["compressed", "uncompressed"])
def test_npm_pkarr_verifies_and_decodes_packets_signed_by_python(compress: bool) -> None:
    keypair = Keypair.from_secret(_seed())
    packet = SignedPacket.sign(
        keypair,
        [
            Record("@", "A", "127.0.0.1", 300),
            Record("@", "AAAA", "::1", 300),
            Record.txt("foo", "bar", 30),
            Record.txt("foo.bar", "nested", 30),
            Record("_pubky", "HTTPS", f"0 {ZERO_SEED_KEY}.", 3600),
        ],
        compress=compress,
    )
    run = pkarr(
        {
            "op": "verify",
            "public_key": keypair.public_key.z32(),
            "payload": packet.to_relay_payload().hex(),
        }
    )
    decoded = run.value()
    origin = keypair.public_key.z32()
    assert decoded["payload"] == packet.to_relay_payload().hex()
    assert decoded["timestamp"] == str(packet.timestamp)
    summary = [(a["name"], a["type"], a["ttl"]) for a in decoded["answers"]]
    assert summary == [
        (origin, "A", 300),
        (origin, "AAAA", 300),
        (f"foo.{origin}", "TXT", 30),
        (f"foo.bar.{origin}", "TXT", 30),
        (f"_pubky.{origin}", "UNKNOWN_65", 3600),
    ], run.describe(0)
    assert decoded["answers"][0]["data"] == "127.0.0.1"
    assert decoded["answers"][2]["data"] == [{"hex": b"bar".hex()}]
    assert decoded["answers"][4]["data"] == {"hex": PUBKY_HTTPS_RDATA}


def test_npm_pkarr_rejects_python_signed_packets_with_a_bad_signature() -> None:
    keypair = Keypair.from_secret(_seed())
    bad = _tampered(_fresh_packet(keypair))
    error = pkarr(
        {
            "op": "verify",
            "public_key": keypair.public_key.z32(),
            "payload": bad.to_relay_payload().hex(),
        }
    ).error()
    assert "Invalid signature" in error["message"]


# --- npm relay <- our code ---------------------------------------------------------------------


def test_npm_relay_stores_a_python_signed_packet_and_returns_it_byte_identical(
    npm_pkarr_relay: NpmPkarrRelay,
) -> None:
    keypair = Keypair.from_secret(_seed())
    payload = _fresh_packet(keypair).to_relay_payload()
    url = f"{npm_pkarr_relay.url}/{keypair.public_key.z32()}"
    put = requests.put(url, data=payload, timeout=10)
    assert put.status_code == 200, (put.status_code, put.text, npm_pkarr_relay.log_text())
    got = requests.get(url, timeout=10)
    assert got.status_code == 200, npm_pkarr_relay.log_text()
    assert got.content == payload


def test_relay_client_publishes_to_and_resolves_from_the_npm_relay(
    npm_pkarr_relay: NpmPkarrRelay,
) -> None:
    client = RelayClient([npm_pkarr_relay.url])
    keypair = Keypair.from_secret(_seed())
    assert client.resolve(keypair.public_key) is None  # 404 from the npm relay

    packet = _fresh_packet(keypair, "first")
    report = client.publish(packet)
    assert report.ok, (report, npm_pkarr_relay.log_text())
    assert [r.status for r in report.results] == [200]  # npm pkarr answers 200, not 204
    resolved = client.resolve(keypair.public_key)
    assert resolved == packet
    assert resolved is not None
    assert resolved.resource_records("_interop")[0].text() == "first"

    newer = _fresh_packet(keypair, "second", timestamp=packet.timestamp + 1_000_000)
    assert client.publish(newer).ok
    assert client.resolve(keypair.public_key) == newer


def test_relay_client_health_check_accepts_the_npm_relay(npm_pkarr_relay: NpmPkarrRelay) -> None:
    client = RelayClient([npm_pkarr_relay.url])
    result = client.check(npm_pkarr_relay.url)
    assert result.ok, result
    assert result.status in (200, 404)
    assert [r.ok for r in client.check_all()] == [True]


def test_relay_client_reports_an_older_packet_refused_by_the_npm_relay(
    npm_pkarr_relay: NpmPkarrRelay,
) -> None:
    client = RelayClient([npm_pkarr_relay.url])
    keypair = Keypair.from_secret(_seed())
    current = _fresh_packet(keypair, "current")
    assert client.publish(current).ok
    older = _fresh_packet(keypair, "older", timestamp=current.timestamp - 1_000_000)
    report = client.publish(older)
    assert not report.ok
    assert [r.status for r in report.results] == [500]  # BEP44 302 surfaces as 500 in npm 1.3.0
    assert client.resolve(keypair.public_key) == current


def test_relay_client_reports_a_bad_signature_rejected_by_the_npm_relay_as_400(
    npm_pkarr_relay: NpmPkarrRelay,
) -> None:
    client = RelayClient([npm_pkarr_relay.url])
    keypair = Keypair.from_secret(_seed())
    report = client.publish(_tampered(_fresh_packet(keypair)))
    assert not report.ok
    assert [r.status for r in report.results] == [400]
    with pytest.raises(RelayBadRequest):
        report.raise_for_failure()
    assert client.resolve(keypair.public_key) is None


def test_relay_client_reports_an_oversized_payload_rejected_by_the_npm_relay_as_413(
    npm_pkarr_relay: NpmPkarrRelay,
) -> None:
    client = RelayClient([npm_pkarr_relay.url])
    keypair = Keypair.from_secret(_seed())
    small = _fresh_packet(keypair)
    # A >1000-byte DNS packet cannot be signed by our builder, so construct it directly.
    oversized = SignedPacket(keypair.public_key, small.signature, small.timestamp, b"\0" * 1100)
    report = client.publish(oversized)
    assert not report.ok
    assert [r.status for r in report.results] == [413]
    with pytest.raises(PayloadTooLarge):
        report.raise_for_failure()


def test_relay_client_resolves_a_packet_npm_pkarr_published_to_the_npm_relay(
    npm_pkarr_relay: NpmPkarrRelay,
) -> None:
    seed = _seed()
    put = pkarr(
        {
            "op": "relay_put",
            "relay": npm_pkarr_relay.url,
            "seed": seed.hex(),
            "answers": [
                {
                    "name": "_pubky",
                    "type": "UNKNOWN_65",
                    "ttl": 3600,
                    "data": {"hex": PUBKY_HTTPS_RDATA},
                }
            ],
        }
    ).value()
    assert put["status"] == 200
    resolved = RelayClient([npm_pkarr_relay.url]).resolve(Keypair.from_secret(seed).public_key)
    assert resolved is not None
    assert resolved.to_relay_payload().hex() == put["payload"]
    assert [r.value for r in resolved.resource_records("_pubky")] == [f"0 {ZERO_SEED_KEY}."]


# --- npm pkarr client -> our testnet relay -----------------------------------------------------


def test_npm_pkarr_client_publishes_to_and_resolves_from_our_relay(
    interop_testnet: Testnet,
) -> None:
    relay = interop_testnet.relay_url
    seed = _seed()
    key = Keypair.from_secret(seed).public_key
    answers = [
        {"name": "@", "type": "A", "ttl": 300, "data": "127.0.0.1"},
        {"name": "_pubky", "type": "UNKNOWN_65", "ttl": 3600, "data": {"hex": PUBKY_HTTPS_RDATA}},
    ]
    run = pkarr(
        {"op": "relay_get", "relay": relay, "public_key": key.z32()},
        {"op": "relay_put", "relay": relay, "seed": seed.hex(), "answers": answers},
        {"op": "relay_get", "relay": relay, "public_key": key.z32()},
    )
    assert run.value(0)["status"] == 404
    put = run.value(1)
    assert put["status"] == 204, run.describe(1)  # pkarr-3.x semantics; npm accepts any 2xx
    got = run.value(2)
    assert got["payload"] == put["payload"], run.describe(2)

    resolved = interop_testnet.relay_client().resolve(key)
    assert resolved is not None
    assert resolved.to_relay_payload().hex() == put["payload"]
    assert [r.value for r in resolved.resource_records("_pubky")] == [f"0 {ZERO_SEED_KEY}."]


def test_npm_pkarr_client_resolves_python_published_packets_from_our_relay(
    interop_testnet: Testnet,
) -> None:
    keypair = Keypair.from_secret(_seed())
    packet = _fresh_packet(keypair, "from python")
    assert interop_testnet.relay_client().publish(packet).ok
    got = pkarr(
        {
            "op": "relay_get",
            "relay": interop_testnet.relay_url,
            "public_key": keypair.public_key.z32(),
        }
    ).value()
    assert got["status"] == 200
    assert got["payload"] == packet.to_relay_payload().hex()
    names = [(a["name"], a["type"]) for a in got["answers"]]
    origin = keypair.public_key.z32()
    assert names == [
        (origin, "A"),
        (f"_interop.{origin}", "TXT"),
        (f"_pubky.{origin}", "UNKNOWN_65"),
    ]


def test_our_relay_answers_npm_pkarr_requests_with_pkarr3_statuses(
    interop_testnet: Testnet,
) -> None:
    relay = interop_testnet.relay_url
    seed = _seed()
    key = Keypair.from_secret(seed).public_key.z32()
    now = now_us()
    answers = [{"name": "@", "type": "TXT", "ttl": 60, "data": "x"}]
    newer = pkarr(
        {
            "op": "relay_put",
            "relay": relay,
            "seed": seed.hex(),
            "answers": answers,
            "timestamp": now,
        }
    ).value()
    assert newer["status"] == 204
    payload = bytes.fromhex(newer["payload"])
    bad_signature = bytes([payload[0] ^ 1]) + payload[1:]
    run = pkarr(
        {
            "op": "relay_put",
            "relay": relay,
            "seed": seed.hex(),
            "answers": answers,
            "timestamp": now - 1_000_000,
        },
        {"op": "relay_put_raw", "relay": relay, "public_key": key, "payload": bad_signature.hex()},
        {"op": "relay_put_raw", "relay": relay, "public_key": key, "payload": "00" * 1105},
        {
            "op": "relay_put_raw",
            "relay": relay,
            "public_key": "not-a-key",
            "payload": payload.hex(),
        },
        {"op": "relay_get", "relay": relay, "public_key": key},
    )
    assert run.value(0)["status"] == 409, run.describe(0)  # older than what the relay holds
    assert run.value(1)["status"] == 400, run.describe(1)
    assert run.value(2)["status"] == 413, run.describe(2)
    assert run.value(3)["status"] == 400, run.describe(3)
    assert run.value(4)["payload"] == newer["payload"]
