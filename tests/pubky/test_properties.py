"""Property tests: round trips hold, and no parser leaks anything but a PubkyError."""

from __future__ import annotations

import ipaddress
import struct

from hypothesis import HealthCheck, example, given, reject, settings
from hypothesis import strategies as st

from pubky import z32
from pubky.auth import AuthToken, Capabilities, Capability, SessionInfo
from pubky.errors import InvalidZ32, PacketTooLarge, PubkyError
from pubky.keys import Keypair, PublicKey
from pubky.packet import Record, SignedPacket, parse_dns_packet, signable
from pubky.recovery import decrypt_recovery_file

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYPAIR = Keypair.from_secret(bytes(range(32)))

seeds = st.binary(min_size=32, max_size=32)
keypairs = seeds.map(Keypair.from_secret)
z32_text = st.text(alphabet=z32.ALPHABET, max_size=80)


# --- z-base-32 -------------------------------------------------------------------------------


@SETTINGS
@given(st.binary(max_size=200))
def test_z32_round_trips_any_bytes(data: bytes) -> None:
    text = z32.encode(data)
    assert z32.decode(text) == data
    assert set(text) <= set(z32.ALPHABET)


@SETTINGS
@given(st.one_of(st.text(max_size=80), z32_text))
def test_z32_decode_raises_only_invalid_z32_and_is_canonical(text: str) -> None:
    try:
        data = z32.decode(text)
    except InvalidZ32:
        return
    assert z32.encode(data) == text


# --- keys ------------------------------------------------------------------------------------


@SETTINGS
@given(st.one_of(st.text(max_size=120), z32_text.map(lambda t: f"pk:{t}")))
@example("pubky" + "y" * 52)
def test_public_key_parse_raises_only_pubky_errors(text: str) -> None:
    try:
        key = PublicKey.parse(text)
    except PubkyError:
        return
    assert PublicKey.parse(key.z32()) == key


@SETTINGS
@given(keypairs, st.sampled_from(["{}", "pk:{}", "https://a.{}.:1/x?y#z", "_pubky.{}."]))
def test_every_spelling_of_a_key_parses_back(keypair: Keypair, template: str) -> None:
    key = keypair.public_key
    assert PublicKey.parse(template.format(key.z32())) == key


# --- signed packets --------------------------------------------------------------------------

labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)
names = st.one_of(st.just("@"), st.lists(labels, min_size=1, max_size=3).map(".".join))
ttls = st.integers(min_value=0, max_value=2**32 - 1)
hostnames = st.lists(labels, min_size=1, max_size=3).map(lambda parts: ".".join(parts) + ".")
txt_strings = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40
).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"')


def _value(rtype: str) -> st.SearchStrategy[str]:
    if rtype == "A":
        return st.ip_addresses(v=4).map(str)
    if rtype == "AAAA":
        return st.ip_addresses(v=6).map(lambda a: str(ipaddress.IPv6Address(a)))
    if rtype == "TXT":
        return st.lists(txt_strings, min_size=1, max_size=3).map(" ".join)
    if rtype in ("CNAME", "NS"):
        return hostnames
    if rtype == "MX":
        return st.builds("{} {}".format, st.integers(0, 65535), hostnames)
    return st.builds(
        "{} {} port={}".format, st.integers(1, 65535), hostnames, st.integers(1, 65535)
    )


records = st.sampled_from(["A", "AAAA", "TXT", "CNAME", "NS", "MX", "HTTPS", "SVCB"]).flatmap(
    lambda rtype: st.builds(Record, names, st.just(rtype), _value(rtype), ttls)
)


@SETTINGS
@given(
    keypairs,
    st.lists(records, max_size=6),
    st.integers(0, 2**64 - 1),
    st.booleans(),
)
def test_signed_packets_round_trip(
    keypair: Keypair, recs: list[Record], timestamp: int, compress: bool
) -> None:
    try:
        packet = SignedPacket.sign(keypair, recs, timestamp=timestamp, compress=compress)
    except PacketTooLarge:
        reject()
    again = SignedPacket.from_relay_payload(keypair.public_key, packet.to_relay_payload())
    assert again == packet == SignedPacket.from_bytes(packet.to_bytes())
    parsed = again.records()
    assert [(r.name, r.rtype, r.ttl) for r in parsed] == [(r.name, r.rtype, r.ttl) for r in recs]
    assert [r.rdata() for r in parsed] == [r.rdata() for r in recs]
    # Presentation values are canonical: re-signing them gives the same DNS bytes.
    resigned = SignedPacket.sign(keypair, parsed, timestamp=timestamp, compress=compress)
    assert resigned.dns_packet == packet.dns_packet
    fresh = [Record(r.name, r.rtype, r.value, r.ttl) for r in parsed]
    assert SignedPacket.sign(keypair, fresh, timestamp=timestamp, compress=compress) == packet


@SETTINGS
@given(st.binary(max_size=1200))
def test_signed_packet_from_bytes_raises_only_pubky_errors(data: bytes) -> None:
    try:
        SignedPacket.from_bytes(data)
    except PubkyError:
        pass


@SETTINGS
@given(st.binary(max_size=1200))
def test_relay_payload_parser_raises_only_pubky_errors(data: bytes) -> None:
    try:
        SignedPacket.from_relay_payload(KEYPAIR.public_key, data)
    except PubkyError:
        pass


dns_headers = st.builds(
    struct.pack,
    st.just("!HHHHHH"),
    st.integers(0, 65535),
    st.integers(0, 65535),
    st.integers(0, 3),
    st.integers(0, 6),
    st.integers(0, 3),
    st.integers(0, 3),
)


@SETTINGS
@given(st.one_of(st.binary(max_size=1000), st.builds(bytes.__add__, dns_headers, st.binary())))
def test_correctly_signed_garbage_dns_raises_only_pubky_errors(dns_packet: bytes) -> None:
    # Sign the bytes so the DNS parser itself (not the signature check) meets the garbage.
    dns_packet = dns_packet[:1000]
    timestamp = 7
    payload = KEYPAIR.sign(signable(timestamp, dns_packet)) + struct.pack("!Q", timestamp)
    try:
        packet = SignedPacket.from_relay_payload(KEYPAIR.public_key, payload + dns_packet)
    except PubkyError:
        return
    # Whatever verified must also be readable.
    packet.records()
    packet.ttl()
    packet.resource_records("*")
    parse_dns_packet(packet.dns_packet)


@SETTINGS
@given(st.lists(records, max_size=4), st.data())
def test_mutated_signed_packets_raise_only_pubky_errors(
    recs: list[Record], data: st.DataObject
) -> None:
    try:
        raw = bytearray(SignedPacket.sign(KEYPAIR, recs).to_bytes())
    except PacketTooLarge:
        reject()
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] = data.draw(st.integers(0, 255))
    try:
        SignedPacket.from_bytes(bytes(raw))
    except PubkyError:
        pass


# --- auth ------------------------------------------------------------------------------------

scopes = st.lists(labels, max_size=3).map(lambda parts: "/" + "/".join(parts))
capability_lists = st.lists(
    st.builds(Capability, scopes, st.sampled_from(["", "r", "w", "rw", "wr"])), max_size=4
)


@SETTINGS
@given(keypairs, capability_lists, st.integers(0, 2**56 - 1))
def test_auth_tokens_round_trip_and_verify(
    keypair: Keypair, caps: list[Capability], timestamp: int
) -> None:
    text = ",".join(str(c) for c in caps)
    token = AuthToken.sign(keypair, text, timestamp=timestamp)
    again = AuthToken.parse(token.to_bytes())
    assert again == token
    assert again.public_key == keypair.public_key
    assert again.timestamp == timestamp
    assert again.capabilities == Capabilities.parse(text)
    again.verify(now_us=timestamp)


@SETTINGS
@given(st.binary(max_size=300))
def test_auth_token_parser_raises_only_pubky_errors(data: bytes) -> None:
    try:
        AuthToken.parse(data).verify()
    except PubkyError:
        pass


@SETTINGS
@given(st.text(max_size=60))
def test_capabilities_parser_raises_only_pubky_errors(text: str) -> None:
    try:
        caps = Capabilities.parse(text)
    except PubkyError:
        return
    assert Capabilities.parse(str(caps)) == caps


@SETTINGS
@given(keypairs, st.integers(0, 2**64 - 1), st.text(), st.text(), capability_lists)
def test_session_info_round_trips(
    keypair: Keypair, created_at: int, name: str, agent: str, caps: list[Capability]
) -> None:
    session = SessionInfo(keypair.public_key, created_at, name, agent, Capabilities(tuple(caps)))
    assert SessionInfo.from_bytes(session.to_bytes()) == session


@SETTINGS
@given(st.binary(max_size=200))
def test_session_info_parser_raises_only_pubky_errors(data: bytes) -> None:
    try:
        SessionInfo.from_bytes(data)
    except PubkyError:
        pass


# --- recovery --------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_recovery_parser_raises_only_pubky_errors(data: bytes) -> None:
    try:
        decrypt_recovery_file(data, "")
    except PubkyError:
        pass


@settings(max_examples=10, deadline=None)
@given(st.binary(min_size=72, max_size=72), st.text(max_size=10))
def test_well_shaped_but_wrong_recovery_files_raise_only_pubky_errors(
    body: bytes, passphrase: str
) -> None:
    try:
        decrypt_recovery_file(b"pubky.org/recovery\n" + body, passphrase)
    except PubkyError:
        pass
