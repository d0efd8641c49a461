"""A small, fast DNS wire-format codec for PKARR packets (≤ 1000 bytes, answers only).

Why not just dnspython? Its ``Message``/``Name`` machinery costs ~0.5 ms per packet in
CPython, which would cap a relay at a few thousand verifications per second. PKARR only needs
a header, a flat list of records and name compression, so this module does that directly and
leaves dnspython to what it is good at: presentation format (``pubky.packet.Record``) and
per-type rdata semantics, computed lazily when someone actually reads the records.

Validation mirrors the Rust decoder (``simple_dns``): the header and every record of every
section must be well-formed; names follow only *backward* compression pointers (so a crafted
packet cannot loop), are at most 255 bytes, and use no reserved label types; rdata of the
types Pubky uses (A, AAAA, NS, CNAME, PTR, MX, TXT, SVCB, HTTPS) is structurally checked;
other types are opaque; bytes after the last record are ignored.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import NamedTuple

from pubky.errors import InvalidDnsPacket

__all__ = ["EncodedRdata", "WireRecord", "decode", "encode", "read_name"]

Labels = tuple[bytes, ...]

TYPE_A = 1
TYPE_NS = 2
TYPE_CNAME = 5
TYPE_PTR = 12
TYPE_MX = 15
TYPE_TXT = 16
TYPE_AAAA = 28
TYPE_SVCB = 64
TYPE_HTTPS = 65
CLASS_IN = 1

#: Types whose rdata is just a domain name that may be compressed (RFC 3597 §4).
NAME_TYPES = frozenset({TYPE_NS, TYPE_CNAME, TYPE_PTR})

_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")
_U16 = struct.Struct("!H")
_RESPONSE_FLAGS = 0x8000  # QR only, as ``Packet::new_reply(0)``
_MAX_NAME_BYTES = 255
_POINTER_LIMIT = 0x4000


class WireRecord(NamedTuple):
    """One decoded resource record; rdata stays in the packet (offset/length)."""

    labels: Labels  # owner name, without the root label
    rtype: int
    rclass: int
    ttl: int
    rdata_offset: int
    rdata_length: int


class EncodedRdata(NamedTuple):
    """Rdata ready to render: ``prefix`` then, optionally, a compressible ``name``."""

    rtype: int
    rclass: int
    prefix: bytes
    name: Labels | None = None


# --- decoding --------------------------------------------------------------------------------


def read_name(
    data: bytes, offset: int, *, compressed: bool = True, end_of_data: int | None = None
) -> tuple[Labels, int]:
    """Read a (possibly compressed) name at ``offset``; return labels and the offset after it.

    Each pointer must point strictly before the previous one, which bounds the work by the
    packet length and makes loops impossible. ``end_of_data`` confines the name to a record.
    """
    labels: list[bytes] = []
    size = 1
    end = -1
    limit = offset
    pos = offset
    length_of_data = len(data) if end_of_data is None else end_of_data
    while True:
        if pos >= length_of_data:
            raise InvalidDnsPacket("name runs past the end of the packet")
        length = data[pos]
        if length == 0:
            pos += 1
            break
        kind = length & 0xC0
        if kind == 0xC0:
            if not compressed:
                raise InvalidDnsPacket("compression pointer where none is allowed")
            if pos + 1 >= length_of_data:
                raise InvalidDnsPacket("truncated compression pointer")
            target = ((length & 0x3F) << 8) | data[pos + 1]
            if end < 0:
                end = pos + 2
            if target >= limit:
                raise InvalidDnsPacket("compression pointer does not point backwards")
            limit = target
            pos = target
            continue
        if kind:
            raise InvalidDnsPacket(f"reserved label type 0x{kind:02x}")
        stop = pos + 1 + length
        if stop > length_of_data:
            raise InvalidDnsPacket("label runs past the end of the packet")
        size += length + 1
        if size > _MAX_NAME_BYTES:
            raise InvalidDnsPacket("name longer than 255 bytes")
        labels.append(data[pos + 1 : stop])
        pos = stop
    return tuple(labels), (end if end >= 0 else pos)


def _check_rdata(data: bytes, rtype: int, rclass: int, start: int, stop: int) -> None:
    """Structural check of the rdata types Pubky relies on; other types are opaque.

    A, AAAA, SVCB and HTTPS are class-IN types (opaque in other classes, as in dnspython).
    """
    length = stop - start
    if rtype == TYPE_A and rclass == CLASS_IN:
        if length != 4:
            raise InvalidDnsPacket(f"A record with {length} bytes of data")
    elif rtype == TYPE_AAAA and rclass == CLASS_IN:
        if length != 16:
            raise InvalidDnsPacket(f"AAAA record with {length} bytes of data")
    elif rtype in NAME_TYPES:
        _, after = read_name(data, start, end_of_data=stop)
        if after != stop:
            raise InvalidDnsPacket("trailing bytes after a name in rdata")
    elif rtype == TYPE_MX:
        if length < 3:
            raise InvalidDnsPacket("MX record too short")
        _, after = read_name(data, start + 2, end_of_data=stop)
        if after != stop:
            raise InvalidDnsPacket("trailing bytes after the MX exchange")
    elif rtype == TYPE_TXT:
        pos = start
        while pos < stop:
            pos += 1 + data[pos]
        if pos != stop:
            raise InvalidDnsPacket("TXT character-string runs past its record")
    elif rtype in (TYPE_SVCB, TYPE_HTTPS) and rclass == CLASS_IN:
        if length < 3:
            raise InvalidDnsPacket("SVCB/HTTPS record too short")
        _, pos = read_name(data, start + 2, end_of_data=stop)
        previous = -1
        while pos < stop:
            if pos + 4 > stop:
                raise InvalidDnsPacket("truncated SvcParam")
            key, size = struct.unpack_from("!HH", data, pos)
            if key <= previous:
                raise InvalidDnsPacket("SvcParam keys not in strictly increasing order")
            previous = key
            pos += 4 + size
        if pos != stop:
            raise InvalidDnsPacket("SvcParam value runs past its record")


def decode(data: bytes) -> tuple[WireRecord, ...]:
    """Validate a DNS packet and return its answer records (all sections are checked)."""
    if len(data) < _HEADER.size:
        raise InvalidDnsPacket(f"DNS packet shorter than its 12-byte header ({len(data)})")
    _id, _flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    pos = _HEADER.size
    size = len(data)
    for _ in range(qdcount):
        _, pos = read_name(data, pos)
        pos += 4
        if pos > size:
            raise InvalidDnsPacket("question runs past the end of the packet")
    answers: list[WireRecord] = []
    for index in range(ancount + nscount + arcount):
        labels, pos = read_name(data, pos)
        if pos + 10 > size:
            raise InvalidDnsPacket("record header runs past the end of the packet")
        rtype, rclass, ttl, rdlength = _RR_FIXED.unpack_from(data, pos)
        start = pos + 10
        pos = start + rdlength
        if pos > size:
            raise InvalidDnsPacket("record data runs past the end of the packet")
        _check_rdata(data, rtype, rclass, start, pos)
        if index < ancount:
            answers.append(WireRecord(labels, rtype, rclass, ttl, start, rdlength))
    return tuple(answers)


# --- encoding --------------------------------------------------------------------------------


class _Writer:
    """Accumulates wire bytes and, optionally, a compression table of name suffixes."""

    __slots__ = ("buffer", "table")

    def __init__(self, compress: bool) -> None:
        self.buffer = bytearray()
        self.table: dict[Labels, int] | None = {} if compress else None

    def name(self, labels: Labels) -> None:
        buffer = self.buffer
        table = self.table
        if table is None:
            for label in labels:
                buffer.append(len(label))
                buffer += label
            buffer.append(0)
            return
        folded = tuple(label.lower() for label in labels)
        for index in range(len(labels)):
            pointer = table.get(folded[index:])
            if pointer is not None:
                buffer += _U16.pack(0xC000 | pointer)
                return
            position = len(buffer)
            if position < _POINTER_LIMIT:
                table[folded[index:]] = position
            label = labels[index]
            buffer.append(len(label))
            buffer += label
        buffer.append(0)


def encode(
    records: Sequence[tuple[Labels, int, EncodedRdata]],
    *,
    compress: bool = True,
) -> bytes:
    """Render a reply packet (id 0, QR set) whose answers are ``(owner, ttl, rdata)``."""
    writer = _Writer(compress)
    buffer = writer.buffer
    buffer += _HEADER.pack(0, _RESPONSE_FLAGS, 0, len(records), 0, 0)
    for owner, ttl, rdata in records:
        writer.name(owner)
        buffer += _RR_FIXED.pack(rdata.rtype, rdata.rclass, ttl, 0)
        start = len(buffer)
        buffer += rdata.prefix
        if rdata.name is not None:
            writer.name(rdata.name)
        length = len(buffer) - start
        if length > 0xFFFF:
            raise InvalidDnsPacket("record data longer than 65535 bytes")
        buffer[start - 2 : start] = _U16.pack(length)
    return bytes(buffer)
