"""PKARR SignedPacket: a DNS packet signed by an Ed25519 key, as stored on relays and the DHT.

Wire layout (``pkarr/src/signed_packet.rs``)::

    SignedPacket = public_key(32) || signature(64) || timestamp(8, BE µs) || dns_packet(0..1000)
    RelayPayload = SignedPacket[32:]

The signature covers the BEP44 form ``3:seqi<ts>e1:v<len>:<dns_packet>`` (:func:`signable`).

DNS framing (header, one RR per record in the given order, name compression) is done by
:mod:`pubky.dnswire`, which is fast enough for a relay's hot path; dnspython supplies the
presentation format of record values and is only consulted when records are read. Compressed
output is what the Rust encoder (``build_bytes_vec_compressed``) produces; ``compress=False``
reproduces what npm ``pkarr@1.3.0`` signs. Decoding accepts both.
"""

from __future__ import annotations

import email.utils
import functools
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import dns.exception
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.mxbase
import dns.rdtypes.nsbase
import dns.rdtypes.txtbase
import dns.wire

from pubky import dnswire
from pubky.errors import (
    InvalidDnsPacket,
    InvalidPublicKey,
    InvalidRecord,
    InvalidSignature,
    InvalidSignedPacket,
    PacketTooLarge,
)
from pubky.keys import Keypair, PublicKey

__all__ = [
    "MAX_DNS_PACKET_BYTES",
    "MAX_RELAY_PAYLOAD_BYTES",
    "MAX_SIGNED_PACKET_BYTES",
    "MAX_TTL",
    "MIN_RELAY_PAYLOAD_BYTES",
    "MIN_SIGNED_PACKET_BYTES",
    "MIN_TTL",
    "Record",
    "SignedPacket",
    "normalize_name",
    "now_us",
    "parse_dns_packet",
    "signable",
]

MAX_DNS_PACKET_BYTES = 1000
MIN_TTL = 300
MAX_TTL = 86400

_HEADER = 32 + 64 + 8
MIN_SIGNED_PACKET_BYTES = _HEADER
MAX_SIGNED_PACKET_BYTES = _HEADER + MAX_DNS_PACKET_BYTES
MIN_RELAY_PAYLOAD_BYTES = _HEADER - 32
MAX_RELAY_PAYLOAD_BYTES = MAX_SIGNED_PACKET_BYTES - 32

_U64_LIMIT = 1 << 64
_U32_LIMIT = 1 << 32
_STAND_IN_ORIGIN = "y" * 52

# TXT strings that the dnspython tokenizer reads back identically without quotes.
_BARE_TXT = re.compile(r"[!#-'*-:<-\[\]-~]+")


# --- time ------------------------------------------------------------------------------------

_clock_lock = threading.Lock()
_last_us = 0


def now_us() -> int:
    """Microseconds since the UNIX epoch, strictly increasing within this process.

    Relays answer 409 to a packet that is not newer than the one they hold, so two packets
    signed in the same microsecond (easy in a loop) must still get distinct timestamps — the
    same guarantee Rust's ``Timestamp::now()`` gives.
    """
    global _last_us
    current = time.time_ns() // 1000
    with _clock_lock:
        if current <= _last_us:
            current = _last_us + 1
        _last_us = current
    return current


# --- names -----------------------------------------------------------------------------------


def normalize_name(origin: str, name: str) -> str:
    """Make ``name`` absolute under ``origin`` (the z32 key), without a trailing dot.

    ``"@"``, ``""`` and ``"."`` mean the apex; a name whose last label already is the key is
    kept; anything else gets ``.<origin>`` appended (pkarr's ``normalize_name``). One deviation:
    a trailing ``@`` label (``"foo.@"``) is read as the origin (``foo.<origin>``) instead of
    collapsing the whole name to the apex.
    """
    if name.endswith("."):
        name = name[:-1]
    head, _, last = name.rpartition(".")
    if last == origin:
        return name
    if last == "@":
        return f"{head}.{origin}" if head else origin
    if not last:
        return origin
    return f"{name}.{origin}"


@functools.lru_cache(maxsize=4096)
def _owner_labels(origin: str, name: str) -> dnswire.Labels:
    """Wire labels of ``name`` normalised under ``origin`` (dnspython handles escapes)."""
    try:
        absolute = dns.name.from_text(normalize_name(origin, name), origin=dns.name.root)
    except Exception as exc:  # EmptyLabel, LabelTooLong, IDNA errors, ...
        raise InvalidRecord(f"invalid record name {name!r}: {exc}") from exc
    return tuple(absolute.labels[:-1])


def _relative_text(labels: dnswire.Labels, origin: bytes) -> str:
    """Name relative to the key: ``@`` for the apex, ``foo`` for ``foo.<key>``.

    Names outside the key (possible in packets built by other software) are returned absolute,
    with a trailing dot, so they cannot be mistaken for subdomains of the key.
    """
    if labels and labels[-1].lower() == origin:
        if len(labels) == 1:
            return "@"
        return dns.name.Name(labels[:-1]).to_text()
    return dns.name.Name((*labels, b"")).to_text()


def _absolute_text(name: str, origin: str) -> str:
    """Inverse of :func:`_relative_text`, lower-cased, without the trailing dot."""
    if name == "@":
        return origin
    if name.endswith("."):
        return name[:-1].lower()
    return f"{name}.{origin}".lower()


# --- records ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _rdata_from_text(rdtype: dns.rdatatype.RdataType, value: str) -> dns.rdata.Rdata:
    try:
        return dns.rdata.from_text(
            dns.rdataclass.IN, rdtype, value, origin=dns.name.root, relativize=False
        )
    except Exception as exc:  # dnspython raises many unrelated types for bad text
        raise InvalidRecord(
            f"invalid {dns.rdatatype.to_text(rdtype)} value {value!r}: {exc}"
        ) from exc


def _encode_rdata(rdata: dns.rdata.Rdata) -> dnswire.EncodedRdata:
    """Pre-render rdata; names in NS/CNAME/PTR/MX stay separate so they can be compressed."""
    rtype = int(rdata.rdtype)
    rclass = int(rdata.rdclass)
    if isinstance(rdata, dns.rdtypes.nsbase.NSBase) and rtype in dnswire.NAME_TYPES:
        return dnswire.EncodedRdata(rtype, rclass, b"", tuple(rdata.target.labels[:-1]))
    if isinstance(rdata, dns.rdtypes.mxbase.MXBase) and rtype == dnswire.TYPE_MX:
        labels = tuple(rdata.exchange.labels[:-1])
        return dnswire.EncodedRdata(rtype, rclass, rdata.preference.to_bytes(2, "big"), labels)
    return dnswire.EncodedRdata(rtype, rclass, rdata.to_wire(origin=dns.name.root) or b"")


@functools.lru_cache(maxsize=4096)
def _encoded_from_text(rdtype: dns.rdatatype.RdataType, value: str) -> dnswire.EncodedRdata:
    return _encode_rdata(_rdata_from_text(rdtype, value))


def _rdata_from_wire(data: bytes, record: dnswire.WireRecord) -> dns.rdata.Rdata:
    """dnspython's view of one record's rdata.

    :mod:`pubky.dnswire` validates structure only; should dnspython refuse the content (a
    stricter per-type rule), the record is shown in RFC 3597 generic form (``\\# len hex``)
    rather than making an already verified packet unreadable.
    """
    start = record.rdata_offset
    stop = start + record.rdata_length
    rdclass = dns.rdataclass.RdataClass.make(record.rclass)
    rdtype = dns.rdatatype.RdataType.make(record.rtype)
    try:
        parser = dns.wire.Parser(data[:stop], start)
        with parser.restrict_to(record.rdata_length):
            return dns.rdata.from_wire_parser(rdclass, rdtype, parser, None)
    except Exception:
        return dns.rdata.GenericRdata(rdclass, rdtype, data[start:stop])


def _rdata_to_value(rdata: dns.rdata.Rdata) -> str:
    """Presentation format, with a lone simple TXT string left unquoted (``bar``)."""
    if isinstance(rdata, dns.rdtypes.txtbase.TXTBase) and len(rdata.strings) == 1:
        (string,) = rdata.strings
        try:
            text = string.decode("ascii")
        except UnicodeDecodeError:
            text = ""
        if _BARE_TXT.fullmatch(text):
            return text
    return rdata.to_text()


def _quote_txt(text: str) -> str:
    """Quote one TXT string for the presentation format, splitting it into 255-byte chunks."""
    data = text.encode("utf-8")
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    out = []
    for chunk in chunks:
        escaped = "".join(
            chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\{b:03d}" for b in chunk
        )
        out.append(f'"{escaped}"')
    return " ".join(out)


@dataclass(frozen=True)
class Record:
    """One DNS resource record in a PKARR packet, with ``value`` in presentation format.

    ``name`` is relative to the signing key (``"@"`` = apex, ``"foo"`` = ``foo.<key>``).
    Domain names inside values are absolute whether or not they end in a dot (``"example.com"``
    means ``example.com.``), like pkarr's ``Name``. ``rtype`` is normalised to upper case; the
    value is validated on construction (dnspython parses it) and raises :class:`InvalidRecord`.

    Examples: ``Record("@", "A", "1.1.1.1")``, ``Record("foo", "TXT", "bar", 30)``,
    ``Record("_pubky", "HTTPS", "0 <hs z32>.", 3600)``,
    ``Record("@", "HTTPS", '10 localhost. key65280="\\\\024\\\\142"', 3600)``.
    """

    name: str
    rtype: str
    value: str
    ttl: int = MIN_TTL

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise InvalidRecord("record name must be a str")
        if not isinstance(self.value, str):
            raise InvalidRecord("record value must be a str")
        if isinstance(self.ttl, bool) or not isinstance(self.ttl, int):
            raise InvalidRecord("record ttl must be an int")
        if not 0 <= self.ttl < _U32_LIMIT:
            raise InvalidRecord(f"record ttl out of range: {self.ttl}")
        rdtype = _parse_rtype(self.rtype)
        object.__setattr__(self, "rtype", dns.rdatatype.to_text(rdtype))
        _rdata_from_text(rdtype, self.value)
        # Every key is 52 characters, so a stand-in origin checks the final name length exactly.
        _owner_labels(_STAND_IN_ORIGIN, self.name)

    @classmethod
    def txt(cls, name: str, text: str, ttl: int = MIN_TTL) -> Record:
        """A TXT record holding ``text`` verbatim (quoted/escaped/split as needed)."""
        return cls(name, "TXT", _quote_txt(text), ttl)

    @classmethod
    def _trusted(cls, name: str, ttl: int, rdata: dns.rdata.Rdata) -> Record:
        """Build from parsed wire data without re-validating; keeps the rdata object."""
        record = object.__new__(cls)
        object.__setattr__(record, "name", name)
        object.__setattr__(record, "rtype", dns.rdatatype.to_text(rdata.rdtype))
        object.__setattr__(record, "value", _rdata_to_value(rdata))
        object.__setattr__(record, "ttl", ttl)
        object.__setattr__(record, "_rdata", rdata)
        return record

    def rdata(self) -> dns.rdata.Rdata:
        """The dnspython rdata object for this record (class IN unless parsed otherwise)."""
        parsed: dns.rdata.Rdata | None = self.__dict__.get("_rdata")
        if parsed is not None:
            return parsed
        return _rdata_from_text(_parse_rtype(self.rtype), self.value)

    def encoded(self) -> dnswire.EncodedRdata:
        """Wire form of the value, ready for :func:`pubky.dnswire.encode`."""
        parsed: dns.rdata.Rdata | None = self.__dict__.get("_rdata")
        if parsed is not None:
            return _encode_rdata(parsed)
        return _encoded_from_text(_parse_rtype(self.rtype), self.value)

    def text(self) -> str:
        """For TXT records: the character-strings concatenated and decoded as UTF-8."""
        rdata = self.rdata()
        if not isinstance(rdata, dns.rdtypes.txtbase.TXTBase):
            raise InvalidRecord(f"{self.rtype} record has no text")
        return b"".join(rdata.strings).decode("utf-8", "replace")


@functools.lru_cache(maxsize=256)
def _parse_rtype_cached(rtype: str) -> dns.rdatatype.RdataType:
    try:
        return dns.rdatatype.from_text(rtype)
    except Exception as exc:
        raise InvalidRecord(f"unknown record type {rtype!r}") from exc


def _parse_rtype(rtype: object) -> dns.rdatatype.RdataType:
    if not isinstance(rtype, str):
        raise InvalidRecord("record type must be a str")
    code = _parse_rtype_cached(rtype.upper())
    if dns.rdatatype.is_metatype(code) or code == dns.rdatatype.OPT:
        raise InvalidRecord(f"record type {rtype!r} cannot be published")
    return code


# --- dnspython view & BEP44 ------------------------------------------------------------------


def parse_dns_packet(data: bytes) -> dns.message.Message:
    """Parse a PKARR DNS packet with dnspython (compressed or not), one RR per RRset.

    Raises :class:`InvalidDnsPacket` instead of dnspython's exceptions.
    """
    try:
        return dns.message.from_wire(bytes(data), one_rr_per_rrset=True, ignore_trailing=True)
    except Exception as exc:
        raise InvalidDnsPacket(f"invalid DNS packet: {exc.__class__.__name__}: {exc}") from exc


def signable(timestamp: int, dns_packet: bytes) -> bytes:
    """The BEP44 bytes an Ed25519 signature covers: ``3:seqi<ts>e1:v<len>:<packet>``."""
    return b"3:seqi%de1:v%d:%s" % (timestamp, len(dns_packet), dns_packet)


# --- SignedPacket ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedPacket:
    """A signed PKARR packet. Build with :meth:`sign`, parse with :meth:`from_relay_payload`
    or :meth:`from_bytes` (both verify); constructing directly does not verify — call
    :meth:`verify`.

    Equality is byte equality. The decoded DNS records are cached on the instance.
    """

    public_key: PublicKey
    signature: bytes
    timestamp: int
    dns_packet: bytes
    _wire: tuple[dnswire.WireRecord, ...] | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )
    _records: tuple[Record, ...] | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def sign(
        cls,
        keypair: Keypair,
        records: Sequence[Record],
        *,
        timestamp: int | None = None,
        compress: bool = True,
    ) -> SignedPacket:
        """Normalise ``records`` under the key, encode, sign.

        Raises :class:`PacketTooLarge` when the DNS packet exceeds 1000 bytes.
        """
        if timestamp is None:
            timestamp = now_us()
        _check_timestamp(timestamp)
        origin = keypair.public_key.z32()
        answers = [
            (_owner_labels(origin, record.name), record.ttl, record.encoded()) for record in records
        ]
        dns_packet = dnswire.encode(answers, compress=compress)
        if len(dns_packet) > MAX_DNS_PACKET_BYTES:
            raise PacketTooLarge(
                f"DNS packet is {len(dns_packet)} bytes, more than {MAX_DNS_PACKET_BYTES}"
            )
        signature = keypair.sign(signable(timestamp, dns_packet))
        return cls(keypair.public_key, signature, timestamp, dns_packet)

    @classmethod
    def from_relay_payload(cls, public_key: PublicKey, payload: bytes) -> SignedPacket:
        """Parse and verify a relay body (``signature || timestamp || dns_packet``)."""
        if not isinstance(public_key, PublicKey):
            raise InvalidSignedPacket("public_key must be a PublicKey")
        payload = _as_bytes(payload)
        if len(payload) < MIN_RELAY_PAYLOAD_BYTES:
            raise InvalidSignedPacket(
                f"relay payload is {len(payload)} bytes, less than {MIN_RELAY_PAYLOAD_BYTES}"
            )
        if len(payload) > MAX_RELAY_PAYLOAD_BYTES:
            raise PacketTooLarge(
                f"relay payload is {len(payload)} bytes, more than {MAX_RELAY_PAYLOAD_BYTES}"
            )
        return cls._verified(public_key, payload[:64], payload[64:72], payload[72:])

    @classmethod
    def from_bytes(cls, data: bytes) -> SignedPacket:
        """Parse and verify a full SignedPacket (``public_key || payload``)."""
        data = _as_bytes(data)
        if len(data) < MIN_SIGNED_PACKET_BYTES:
            raise InvalidSignedPacket(
                f"signed packet is {len(data)} bytes, less than {MIN_SIGNED_PACKET_BYTES}"
            )
        if len(data) > MAX_SIGNED_PACKET_BYTES:
            raise PacketTooLarge(
                f"signed packet is {len(data)} bytes, more than {MAX_SIGNED_PACKET_BYTES}"
            )
        try:
            public_key = PublicKey.from_bytes(data[:32])
        except InvalidPublicKey as exc:
            raise InvalidSignedPacket(f"invalid public key: {exc}") from exc
        return cls._verified(public_key, data[32:96], data[96:104], data[104:])

    @classmethod
    def _verified(
        cls, public_key: PublicKey, signature: bytes, timestamp_be: bytes, dns_packet: bytes
    ) -> SignedPacket:
        timestamp = int.from_bytes(timestamp_be, "big")
        if not public_key.verify(signable(timestamp, dns_packet), signature):
            raise InvalidSignature("invalid signature")
        wire = dnswire.decode(dns_packet)
        packet = cls(public_key, signature, timestamp, dns_packet)
        object.__setattr__(packet, "_wire", wire)
        return packet

    def verify(self) -> None:
        """Check lengths, timestamp range, signature and DNS encoding; raise if invalid."""
        if not isinstance(self.public_key, PublicKey):
            raise InvalidSignedPacket("public_key must be a PublicKey")
        if not isinstance(self.signature, bytes) or len(self.signature) != 64:
            raise InvalidSignedPacket("signature must be 64 bytes")
        if not isinstance(self.dns_packet, bytes):
            raise InvalidSignedPacket("dns_packet must be bytes")
        if len(self.dns_packet) > MAX_DNS_PACKET_BYTES:
            raise PacketTooLarge(f"DNS packet is {len(self.dns_packet)} bytes")
        _check_timestamp(self.timestamp)
        if not self.public_key.verify(signable(self.timestamp, self.dns_packet), self.signature):
            raise InvalidSignature("invalid signature")
        self._wire_records()

    # --- serialisation --------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """``public_key || signature || timestamp(8 BE) || dns_packet``."""
        return self.public_key.raw + self.to_relay_payload()

    def to_relay_payload(self) -> bytes:
        """``signature || timestamp(8 BE) || dns_packet`` — the relay PUT/GET body."""
        return self.signature + self.timestamp.to_bytes(8, "big") + self.dns_packet

    def __len__(self) -> int:
        return _HEADER + len(self.dns_packet)

    def __repr__(self) -> str:
        return (
            f"SignedPacket(public_key={self.public_key.z32()}, timestamp={self.timestamp}, "
            f"dns_packet=<{len(self.dns_packet)} bytes>)"
        )

    # --- records --------------------------------------------------------------------------

    def _wire_records(self) -> tuple[dnswire.WireRecord, ...]:
        wire = self._wire
        if wire is None:
            wire = dnswire.decode(self.dns_packet)
            object.__setattr__(self, "_wire", wire)
        return wire

    def _record_tuple(self) -> tuple[Record, ...]:
        records = self._records
        if records is None:
            origin = self.public_key.z32().encode("ascii")
            data = self.dns_packet
            records = tuple(
                Record._trusted(
                    _relative_text(wire.labels, origin), wire.ttl, _rdata_from_wire(data, wire)
                )
                for wire in self._wire_records()
            )
            object.__setattr__(self, "_records", records)
        return records

    def message(self) -> dns.message.Message:
        """The DNS packet as a dnspython message (one RR per RRset)."""
        return parse_dns_packet(self.dns_packet)

    def records(self) -> list[Record]:
        """All answer records, names relative to the key (``@`` for the apex)."""
        return list(self._record_tuple())

    def resource_records(self, name: str) -> list[Record]:
        """Records whose owner name equals ``name`` normalised under the key.

        ``@`` selects the apex; ``*.foo`` matches any name with exactly one more label than
        ``foo`` (``bar.foo`` but not ``baz.bar.foo``). Comparison is case-insensitive.
        """
        origin = self.public_key.z32()
        wanted = normalize_name(origin, name).lower()
        wildcard = wanted.startswith("*")
        suffix = wanted[1:]
        result = []
        for record in self._record_tuple():
            owner = _absolute_text(record.name, origin)
            if wildcard:
                if not owner.endswith(suffix) or "." in owner[: len(owner) - len(suffix)]:
                    continue
            elif owner != wanted:
                continue
            result.append(record)
        return result

    def ttl(self, min_ttl: int = MIN_TTL, max_ttl: int = MAX_TTL) -> int:
        """Smallest record TTL clamped to ``[min_ttl, max_ttl]``; ``min_ttl`` when empty."""
        wire = self._wire_records()
        if not wire:
            return min_ttl
        return max(min_ttl, min(max_ttl, min(record.ttl for record in wire)))

    # --- ordering & HTTP ------------------------------------------------------------------

    def more_recent_than(self, other: SignedPacket) -> bool:
        """Newer timestamp wins; on a tie the lexicographically greater DNS packet wins."""
        if self.timestamp == other.timestamp:
            return self.dns_packet > other.dns_packet
        return self.timestamp > other.timestamp

    def last_modified_http_date(self) -> str:
        """``Last-Modified`` value: the timestamp as an HTTP date (seconds truncated)."""
        return email.utils.formatdate(self.timestamp // 1_000_000, usegmt=True)


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise InvalidSignedPacket("timestamp must be an int (microseconds)")
    if not 0 <= timestamp < _U64_LIMIT:
        raise InvalidSignedPacket(f"timestamp out of u64 range: {timestamp}")


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise InvalidSignedPacket(f"expected bytes, got {type(data).__name__}")
