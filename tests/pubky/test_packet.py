"""SignedPacket: the pkarr and pubky-core vectors, encoding, verification and record lookup."""

from __future__ import annotations

import struct

import pytest

from pubky.errors import (
    InvalidDnsPacket,
    InvalidRecord,
    InvalidSignature,
    InvalidSignedPacket,
    PacketTooLarge,
)
from pubky.keys import Keypair, is_valid_point
from pubky.packet import (
    MAX_DNS_PACKET_BYTES,
    MAX_TTL,
    MIN_TTL,
    Record,
    SignedPacket,
    normalize_name,
    now_us,
    parse_dns_packet,
    signable,
)

ZERO = Keypair.from_secret(bytes(32))
ORIGIN = ZERO.public_key.z32()
HOMESERVER = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"

# The npm pkarr@1.3.0 test vector (uncompressed DNS packet).
VECTOR_TIMESTAMP = 1697016827303000
VECTOR_SIGNATURE = bytes.fromhex(
    "c45d1577e6c0d7fe24d1cd6696776a25628b438ffa10b1419dfdede3c51f8577"
    "d8447d44df4523fa43f574d6f13a65433fa828eb280065c271fcdcaef5365c01"
)
VECTOR_PAYLOAD = bytes.fromhex(
    "c45d1577e6c0d7fe24d1cd6696776a25628b438ffa10b1419dfdede3c51f8577d8447d44df4523fa43f574d6"
    "f13a65433fa828eb280065c271fcdcaef5365c010006076d852b545800008000000000020000000034387069"
    "6e787867717334316e346169646964656e773561707170317572666d7a647a7472386a74346162726b646e34"
    "333565776f00000100010000000000040101010103666f6f343870696e787867717334316e34616964696465"
    "6e773561707170317572666d7a647a7472386a74346162726b646e34333565776f00001000010000001e0004"
    "03626172"
)
VECTOR_RECORDS = [Record("@", "A", "1.1.1.1", 0), Record("foo", "TXT", "bar", 30)]

# The `_pubky` packet the 0.6.0 WASM client publishes for this user.
USER = Keypair.from_secret(bytes(range(1, 33)))
PUBKY_DNS = bytes.fromhex(
    "000080000000000100000000065f7075626b793478673469636d777868336b78316f646173726a71746b636d"
    "7736656239626a3468346b35376939796871656f7a6d657231333179000041000100000e1000380000343870"
    "696e787867717334316e346169646964656e773561707170317572666d7a647a7472386a74346162726b646e"
    "34333565776f00"
)


def _signed_payload(keypair: Keypair, dns_packet: bytes, timestamp: int = 1) -> bytes:
    """A correctly signed relay payload around arbitrary DNS bytes."""
    signature = keypair.sign(signable(timestamp, dns_packet))
    return signature + timestamp.to_bytes(8, "big") + dns_packet


def _rr(name: bytes, rtype: int, ttl: int, rdata: bytes) -> bytes:
    return name + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def _label_name(*labels: str) -> bytes:
    return b"".join(bytes([len(x)]) + x.encode() for x in labels) + b"\x00"


# --- pkarr vector -----------------------------------------------------------------------------


def test_it_verifies_the_npm_pkarr_vector() -> None:
    packet = SignedPacket.from_relay_payload(ZERO.public_key, VECTOR_PAYLOAD)
    assert packet.timestamp == VECTOR_TIMESTAMP
    assert packet.signature == VECTOR_SIGNATURE
    assert len(packet.dns_packet) == 152
    assert packet.records() == VECTOR_RECORDS


def test_the_vector_signs_the_bep44_form() -> None:
    packet = SignedPacket.from_relay_payload(ZERO.public_key, VECTOR_PAYLOAD)
    assert signable(packet.timestamp, packet.dns_packet).startswith(
        b"3:seqi1697016827303000e1:v152:"
    )


def test_resigning_the_vector_uncompressed_reproduces_its_bytes() -> None:
    packet = SignedPacket.sign(ZERO, VECTOR_RECORDS, timestamp=VECTOR_TIMESTAMP, compress=False)
    assert packet.to_relay_payload() == VECTOR_PAYLOAD
    assert packet.to_bytes() == ZERO.public_key.raw + VECTOR_PAYLOAD
    assert packet == SignedPacket.from_relay_payload(ZERO.public_key, VECTOR_PAYLOAD)


def test_the_full_vector_parses_with_its_public_key_prefix() -> None:
    data = (
        bytes.fromhex("3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29")
        + VECTOR_PAYLOAD
    )
    packet = SignedPacket.from_bytes(data)
    assert packet.public_key.z32() == HOMESERVER
    assert packet.to_bytes() == data
    assert len(packet) == len(data) == 104 + 152


def test_compressed_encoding_is_smaller_and_equivalent() -> None:
    packet = SignedPacket.sign(ZERO, VECTOR_RECORDS, timestamp=VECTOR_TIMESTAMP)
    assert len(packet.dns_packet) < 152
    parsed = SignedPacket.from_relay_payload(ZERO.public_key, packet.to_relay_payload())
    assert parsed.records() == VECTOR_RECORDS
    assert (
        parse_dns_packet(packet.dns_packet).answer == parse_dns_packet(VECTOR_PAYLOAD[72:]).answer
    )


# --- `_pubky` and endpoint records ------------------------------------------------------------


def test_it_encodes_the_pubky_homeserver_record_like_the_wasm_client() -> None:
    packet = SignedPacket.sign(USER, [Record("_pubky", "HTTPS", f"0 {HOMESERVER}.", 3600)])
    assert packet.dns_packet == PUBKY_DNS
    assert packet.records() == [Record("_pubky", "HTTPS", f"0 {HOMESERVER}.", 3600)]


def test_it_round_trips_a_testnet_homeserver_packet() -> None:
    records = [
        Record("@", "HTTPS", "1 . port=6287 ipv4hint=127.0.0.1", 3600),
        Record("@", "HTTPS", '10 localhost. key65280="\\024\\142"', 3600),
        Record("@", "A", "127.0.0.1", 3600),
    ]
    packet = SignedPacket.sign(ZERO, records)
    parsed = SignedPacket.from_bytes(packet.to_bytes())
    got = parsed.records()
    assert [r.rtype for r in got] == ["HTTPS", "HTTPS", "A"]
    assert got[1].value == '10 localhost. key65280="\\024\\142"'
    assert got[0].value == '1 . port="6287" ipv4hint="127.0.0.1"'
    key65280 = got[1].rdata().params[65280]  # type: ignore[attr-defined]
    assert int.from_bytes(key65280.value, "big") == 6286


@pytest.mark.parametrize(
    ("rtype", "value", "shown"),
    [
        ("A", "1.2.3.4", "1.2.3.4"),
        ("AAAA", "2001:db8::1", "2001:db8::1"),
        ("CNAME", "example.com", "example.com."),
        ("CNAME", "example.com.", "example.com."),
        ("TXT", "bar", "bar"),
        ("TXT", '"hello world"', '"hello world"'),
        ("TXT", '"a" "b"', '"a" "b"'),
        ("TXT", '""', '""'),
        ("HTTPS", "0 example.com.", "0 example.com."),
        ("SVCB", "1 . alpn=h2 port=443", '1 . alpn="h2" port="443"'),
        ("NS", "ns1.example.com.", "ns1.example.com."),
        ("MX", "10 mail.example.com.", "10 mail.example.com."),
        ("https", "0 example.com.", "0 example.com."),
    ],
)
def test_it_round_trips_each_supported_record_type(rtype: str, value: str, shown: str) -> None:
    packet = SignedPacket.sign(ZERO, [Record("x", rtype, value, 60)])
    (record,) = SignedPacket.from_bytes(packet.to_bytes()).records()
    assert record == Record("x", rtype.upper(), shown, 60)


def test_txt_helper_quotes_and_splits_long_text() -> None:
    text = 'say "hi"; é ' + "x" * 300
    record = Record.txt("note", text)
    packet = SignedPacket.sign(ZERO, [record])
    (parsed,) = packet.records()
    assert parsed.text() == text
    assert len(parsed.rdata().strings) == 2  # type: ignore[attr-defined]


def test_it_accepts_unknown_record_types_in_parsed_packets() -> None:
    dns_packet = struct.pack("!HHHHHH", 0, 0x8000, 0, 1, 0, 0) + _rr(
        _label_name("new", ORIGIN), 65400, 120, b"\x01\x02"
    )
    packet = SignedPacket.from_relay_payload(ZERO.public_key, _signed_payload(ZERO, dns_packet))
    (record,) = packet.records()
    assert record == Record("new", "TYPE65400", "\\# 2 0102", 120)
    # ... and can re-publish it unchanged.
    resigned = SignedPacket.sign(ZERO, [record], timestamp=packet.timestamp)
    assert resigned.dns_packet == dns_packet


def test_it_shows_names_outside_the_key_as_absolute() -> None:
    dns_packet = struct.pack("!HHHHHH", 0, 0x8000, 0, 1, 0, 0) + _rr(
        _label_name("example", "com"), 1, 60, b"\x01\x02\x03\x04"
    )
    packet = SignedPacket.from_relay_payload(ZERO.public_key, _signed_payload(ZERO, dns_packet))
    assert packet.records() == [Record("example.com.", "A", "1.2.3.4", 60)]


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("@", ORIGIN),
        ("", ORIGIN),
        (".", ORIGIN),
        (ORIGIN, ORIGIN),
        (f"{ORIGIN}.", ORIGIN),
        ("foo", f"foo.{ORIGIN}"),
        ("foo.", f"foo.{ORIGIN}"),
        (f"foo.{ORIGIN}", f"foo.{ORIGIN}"),
        (f"foo.{ORIGIN}.", f"foo.{ORIGIN}"),
        ("_pubky.bar", f"_pubky.bar.{ORIGIN}"),
        ("foo.@", f"foo.{ORIGIN}"),
    ],
)
def test_it_normalizes_names_under_the_key(name: str, normalized: str) -> None:
    assert normalize_name(ORIGIN, name) == normalized


def test_records_with_any_apex_spelling_land_on_the_apex() -> None:
    records = [Record(n, "A", "1.1.1.1", 60) for n in ("@", "", ".", ORIGIN, f"{ORIGIN}.")]
    packet = SignedPacket.sign(ZERO, records)
    assert {r.name for r in packet.records()} == {"@"}
    assert len(packet.resource_records("@")) == 5


def test_resource_records_normalizes_the_query_name() -> None:
    packet = SignedPacket.sign(ZERO, VECTOR_RECORDS)
    for query in ("foo", "foo.", f"foo.{ORIGIN}", f"foo.{ORIGIN}.", "FOO"):
        assert packet.resource_records(query) == [VECTOR_RECORDS[1]]
    for query in ("@", "", ".", ORIGIN):
        assert packet.resource_records(query) == [VECTOR_RECORDS[0]]
    assert packet.resource_records("bar") == []


def test_a_wildcard_matches_exactly_one_more_label() -> None:
    records = [
        Record("foo", "A", "1.1.1.1"),
        Record("a.foo", "A", "2.2.2.2"),
        Record("b.foo", "A", "3.3.3.3"),
        Record("c.a.foo", "A", "4.4.4.4"),
        Record("xfoo", "A", "5.5.5.5"),
    ]
    packet = SignedPacket.sign(ZERO, records)
    assert [r.name for r in packet.resource_records("*.foo")] == ["a.foo", "b.foo"]
    assert [r.name for r in packet.resource_records("*")] == ["foo", "xfoo"]


def test_it_rejects_names_dns_cannot_encode() -> None:
    for name in ("x" * 64, ".".join(["x" * 63] * 4), "a..b"):
        with pytest.raises(InvalidRecord):
            Record(name, "A", "1.1.1.1")


# --- records ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rtype", "value"),
    [("A", "not-an-ip"), ("AAAA", "1.1.1.1"), ("MX", "mail"), ("HTTPS", "x y z")],
)
def test_it_rejects_invalid_record_values(rtype: str, value: str) -> None:
    with pytest.raises(InvalidRecord):
        Record("@", rtype, value)


def test_it_rejects_unknown_or_meta_record_types() -> None:
    for rtype in ("NOPE", "ANY", "AXFR", "OPT", ""):
        with pytest.raises(InvalidRecord):
            Record("@", rtype, "1.1.1.1")


def test_it_rejects_out_of_range_ttls() -> None:
    for ttl in (-1, 2**32, True):
        with pytest.raises(InvalidRecord):
            Record("@", "A", "1.1.1.1", ttl)


def test_record_errors_are_invalid_dns_packet_errors() -> None:
    with pytest.raises(InvalidDnsPacket):
        Record("@", "A", "nope")


# --- size limits -----------------------------------------------------------------------------


def test_it_refuses_to_sign_more_than_1000_dns_bytes() -> None:
    records = [Record.txt(f"r{i}", "x" * 200) for i in range(5)]
    with pytest.raises(PacketTooLarge):
        SignedPacket.sign(ZERO, records)


def test_it_signs_a_packet_of_exactly_the_limit() -> None:
    def packet_with(sizes: list[int]) -> SignedPacket:
        value = " ".join(f'"{"x" * size}"' for size in sizes)
        return SignedPacket.sign(ZERO, [Record("p", "TXT", value)])

    sizes = [255, 255, 255, 0]
    sizes[-1] = MAX_DNS_PACKET_BYTES - len(packet_with(sizes).dns_packet)
    packet = packet_with(sizes)
    assert len(packet.dns_packet) == MAX_DNS_PACKET_BYTES
    assert len(packet.to_bytes()) == 1104
    assert SignedPacket.from_bytes(packet.to_bytes()) == packet
    sizes[-1] += 1
    with pytest.raises(PacketTooLarge):
        packet_with(sizes)


@pytest.mark.parametrize("size", [0, 1, 71])
def test_it_rejects_short_relay_payloads(size: int) -> None:
    with pytest.raises(InvalidSignedPacket):
        SignedPacket.from_relay_payload(ZERO.public_key, bytes(size))


def test_it_rejects_long_relay_payloads_as_too_large() -> None:
    with pytest.raises(PacketTooLarge):
        SignedPacket.from_relay_payload(ZERO.public_key, bytes(1073))


def test_it_rejects_short_and_long_signed_packets() -> None:
    with pytest.raises(InvalidSignedPacket):
        SignedPacket.from_bytes(bytes(103))
    with pytest.raises(PacketTooLarge):
        SignedPacket.from_bytes(ZERO.public_key.raw + bytes(1073))


def test_it_rejects_a_signed_packet_whose_key_is_not_a_point() -> None:
    raw = next(bytes([i]) * 32 for i in range(256) if not is_valid_point(bytes([i]) * 32))
    with pytest.raises(InvalidSignedPacket):
        SignedPacket.from_bytes(raw + VECTOR_PAYLOAD)


# --- verification ----------------------------------------------------------------------------


def test_it_rejects_a_payload_signed_by_another_key() -> None:
    with pytest.raises(InvalidSignature):
        SignedPacket.from_relay_payload(Keypair.random().public_key, VECTOR_PAYLOAD)


@pytest.mark.parametrize("offset", [0, 63, 64, 71, 72, 100, len(VECTOR_PAYLOAD) - 1])
def test_it_rejects_any_flipped_bit(offset: int) -> None:
    tampered = bytearray(VECTOR_PAYLOAD)
    tampered[offset] ^= 0x01
    with pytest.raises(InvalidSignature):
        SignedPacket.from_relay_payload(ZERO.public_key, bytes(tampered))


def test_it_rejects_a_validly_signed_payload_that_is_not_dns() -> None:
    for garbage in (b"", b"\x00" * 5, b"\xff" * 40, b"hello world, not dns"):
        with pytest.raises(InvalidDnsPacket):
            SignedPacket.from_relay_payload(ZERO.public_key, _signed_payload(ZERO, garbage))


def test_it_rejects_compression_pointer_loops() -> None:
    header = struct.pack("!HHHHHH", 0, 0x8000, 0, 1, 0, 0)
    for name in (b"\xc0\x0c", b"\xc0\x0e", b"\x01a\xc0\x0c"):
        dns_packet = header + name + struct.pack("!HHIH", 1, 1, 0, 4) + b"\x01\x01\x01\x01"
        with pytest.raises(InvalidDnsPacket):
            SignedPacket.from_relay_payload(ZERO.public_key, _signed_payload(ZERO, dns_packet))


def test_it_rejects_answer_counts_beyond_the_data() -> None:
    header = struct.pack("!HHHHHH", 0, 0x8000, 0, 60000, 0, 0)
    with pytest.raises(InvalidDnsPacket):
        SignedPacket.from_relay_payload(ZERO.public_key, _signed_payload(ZERO, header))


def test_it_tolerates_trailing_bytes_after_the_last_record() -> None:
    dns_packet = SignedPacket.sign(ZERO, VECTOR_RECORDS).dns_packet + b"\x00\x00"
    packet = SignedPacket.from_relay_payload(ZERO.public_key, _signed_payload(ZERO, dns_packet))
    assert packet.records() == VECTOR_RECORDS


def test_an_empty_packet_is_valid() -> None:
    packet = SignedPacket.sign(ZERO, [])
    assert packet.records() == []
    assert SignedPacket.from_bytes(packet.to_bytes()).records() == []


def test_verify_checks_a_directly_built_packet() -> None:
    good = SignedPacket.from_relay_payload(ZERO.public_key, VECTOR_PAYLOAD)
    good.verify()
    forged = SignedPacket(good.public_key, good.signature, good.timestamp + 1, good.dns_packet)
    with pytest.raises(InvalidSignature):
        forged.verify()
    with pytest.raises(InvalidSignedPacket):
        SignedPacket(good.public_key, b"short", good.timestamp, good.dns_packet).verify()
    with pytest.raises(InvalidSignedPacket):
        SignedPacket(good.public_key, good.signature, -1, good.dns_packet).verify()


def test_it_rejects_timestamps_outside_u64() -> None:
    for timestamp in (-1, 2**64):
        with pytest.raises(InvalidSignedPacket):
            SignedPacket.sign(ZERO, [], timestamp=timestamp)


def test_it_accepts_the_largest_u64_timestamp() -> None:
    packet = SignedPacket.sign(ZERO, [], timestamp=2**64 - 1)
    assert SignedPacket.from_bytes(packet.to_bytes()).timestamp == 2**64 - 1


def test_it_rejects_non_bytes_payloads() -> None:
    with pytest.raises(InvalidSignedPacket):
        SignedPacket.from_relay_payload(ZERO.public_key, "text")  # type: ignore[arg-type]
    with pytest.raises(InvalidSignedPacket):
        SignedPacket.from_relay_payload(ZERO.public_key.z32(), VECTOR_PAYLOAD)  # type: ignore[arg-type]


# --- TTL, ordering, time ---------------------------------------------------------------------


def test_ttl_is_the_smallest_record_ttl_clamped() -> None:
    def ttl_of(*ttls: int, **kw: int) -> int:
        records = [Record(f"r{i}", "A", "1.1.1.1", t) for i, t in enumerate(ttls)]
        return SignedPacket.sign(ZERO, records).ttl(**kw)

    assert ttl_of() == MIN_TTL
    assert ttl_of(30, 3600) == MIN_TTL
    assert ttl_of(3600, 7200) == 3600
    assert ttl_of(10**6) == MAX_TTL
    assert ttl_of(30, min_ttl=0, max_ttl=100) == 30
    assert ttl_of(500, min_ttl=0, max_ttl=100) == 100


def test_a_later_timestamp_is_more_recent() -> None:
    old = SignedPacket.sign(ZERO, VECTOR_RECORDS, timestamp=1000)
    new = SignedPacket.sign(ZERO, [], timestamp=1001)
    assert new.more_recent_than(old)
    assert not old.more_recent_than(new)


def test_a_timestamp_tie_is_broken_by_the_greater_dns_packet() -> None:
    a = SignedPacket.sign(ZERO, [Record("@", "A", "1.1.1.1")], timestamp=5)
    b = SignedPacket.sign(ZERO, [Record("@", "A", "2.2.2.2")], timestamp=5)
    assert b.more_recent_than(a)
    assert not a.more_recent_than(b)
    assert not a.more_recent_than(a)


def test_last_modified_is_the_timestamp_as_an_http_date() -> None:
    packet = SignedPacket.from_relay_payload(ZERO.public_key, VECTOR_PAYLOAD)
    assert packet.last_modified_http_date() == "Wed, 11 Oct 2023 09:33:47 GMT"


def test_packets_signed_back_to_back_get_increasing_timestamps() -> None:
    stamps = [SignedPacket.sign(ZERO, []).timestamp for _ in range(50)]
    assert stamps == sorted(set(stamps))
    assert abs(now_us() - stamps[-1]) < 60_000_000


def test_repr_is_short_and_names_the_key() -> None:
    packet = SignedPacket.from_relay_payload(ZERO.public_key, VECTOR_PAYLOAD)
    assert repr(packet) == (
        f"SignedPacket(public_key={HOMESERVER}, timestamp={VECTOR_TIMESTAMP}, "
        "dns_packet=<152 bytes>)"
    )


# --- dnspython view --------------------------------------------------------------------------


def test_parse_dns_packet_reads_uncompressed_npm_packets() -> None:
    message = parse_dns_packet(VECTOR_PAYLOAD[72:])
    assert message.id == 0
    assert [rrset.to_text() for rrset in message.answer] == [
        f"{ORIGIN}. 0 IN A 1.1.1.1",
        f'foo.{ORIGIN}. 30 IN TXT "bar"',
    ]


def test_parse_dns_packet_raises_a_typed_error() -> None:
    with pytest.raises(InvalidDnsPacket):
        parse_dns_packet(b"\x00\x01")


def test_message_exposes_the_packet_to_dnspython_users() -> None:
    packet = SignedPacket.sign(USER, [Record("_pubky", "HTTPS", f"0 {HOMESERVER}.", 3600)])
    (rrset,) = packet.message().answer
    assert rrset.name.to_text() == f"_pubky.{USER.public_key.z32()}."


# --- wire codec (pubky.dnswire) --------------------------------------------------------------


def _verify_dns(dns_packet: bytes) -> SignedPacket:
    return SignedPacket.from_relay_payload(ZERO.public_key, _signed_payload(ZERO, dns_packet))


def _one_record_packet(owner: bytes, rtype: int, rdata: bytes, rclass: int = 1) -> bytes:
    header = struct.pack("!HHHHHH", 0, 0x8000, 0, 1, 0, 0)
    return header + owner + struct.pack("!HHIH", rtype, rclass, 60, len(rdata)) + rdata


def test_compression_matches_dnspython_byte_for_byte() -> None:
    import dns.message
    import dns.name
    import dns.rrset

    records = [
        Record("@", "A", "1.1.1.1", 0),
        Record("www", "CNAME", f"foo.{ORIGIN}", 60),
        Record("m", "MX", f"5 www.{ORIGIN}.", 60),
        Record("FOO", "A", "2.2.2.2"),
    ]
    message = dns.message.Message(id=0)
    message.flags = 0x8000
    for record in records:
        rdata = record.rdata()
        rrset = dns.rrset.RRset(
            dns.name.from_text(normalize_name(ORIGIN, record.name)), rdata.rdclass, rdata.rdtype
        )
        rrset.update_ttl(record.ttl)
        rrset.add(rdata)
        message.answer.append(rrset)
    packet = SignedPacket.sign(ZERO, records, timestamp=1)
    assert packet.dns_packet == message.to_wire()
    assert [r.value for r in packet.records()][1:3] == [f"foo.{ORIGIN}.", f"5 www.{ORIGIN}."]


def test_it_rejects_names_longer_than_255_bytes() -> None:
    owner = b"".join(b"\x3f" + b"a" * 63 for _ in range(4)) + b"\x00"  # 257 bytes
    with pytest.raises(InvalidDnsPacket, match="255"):
        _verify_dns(_one_record_packet(owner, 1, b"\x01\x01\x01\x01"))


def test_it_rejects_reserved_label_types() -> None:
    with pytest.raises(InvalidDnsPacket, match="reserved"):
        _verify_dns(_one_record_packet(b"\x41abc\x00", 1, b"\x01\x01\x01\x01"))


@pytest.mark.parametrize(
    ("rtype", "rdata"),
    [
        (1, b"\x01\x02\x03"),  # A
        (28, b"\x00" * 15),  # AAAA
        (16, b"\x05abc"),  # TXT string overruns
        (5, b"\x03foo\x00\x00"),  # CNAME with trailing byte
        (15, b"\x00"),  # MX too short
        (65, b"\x00\x01\x00\x00\x03\x00\x02\x01\xbb\x00\x01\x00\x00"),  # keys out of order
        (65, b"\x00\x01\x00\x00\x03\x00\x05\x01"),  # param value overruns
    ],
)
def test_it_rejects_malformed_rdata_of_the_types_pubky_uses(rtype: int, rdata: bytes) -> None:
    with pytest.raises(InvalidDnsPacket):
        _verify_dns(_one_record_packet(b"\x00", rtype, rdata))


def test_address_rules_apply_to_class_in_only() -> None:
    packet = _verify_dns(_one_record_packet(b"\x00", 28, b"", rclass=3))
    assert packet.records()[0].rtype == "AAAA"


def test_rdata_dnspython_refuses_is_shown_in_generic_form() -> None:
    # Structurally fine HTTPS record whose `port` value is one byte: dnspython rejects it.
    rdata = b"\x00\x01\x00\x00\x03\x00\x01\x05"
    packet = _verify_dns(_one_record_packet(_label_name(ORIGIN), 65, rdata))
    (record,) = packet.records()
    assert record.name == "@"
    assert record.value == "\\# 8 0001000003000105"


def test_it_reads_compressed_names_inside_rdata() -> None:
    header = struct.pack("!HHHHHH", 0, 0x8000, 0, 1, 0, 0)
    owner = _label_name("www", ORIGIN)
    rdata = b"\x03foo\xc0\x10"  # foo.<origin>, pointing at the owner's second label
    dns_packet = header + owner + struct.pack("!HHIH", 5, 1, 60, len(rdata)) + rdata
    (record,) = _verify_dns(dns_packet).records()
    assert record == Record("www", "CNAME", f"foo.{ORIGIN}.", 60)


def test_it_reads_questions_and_other_sections() -> None:
    question = _label_name("q") + struct.pack("!HH", 1, 1)
    extra = b"\x00" + struct.pack("!HHIH", 16, 1, 5, 4) + b"\x03abc"
    answer = _label_name(ORIGIN) + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x01\x02\x03\x04"
    header = struct.pack("!HHHHHH", 0, 0x8000, 1, 1, 0, 1)
    packet = _verify_dns(header + question + answer + extra)
    assert packet.records() == [Record("@", "A", "1.2.3.4", 60)]
    with pytest.raises(InvalidDnsPacket):
        _verify_dns(header + question + answer + extra[:-1])
