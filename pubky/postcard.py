"""The slice of the postcard wire format (Rust ``serde`` + ``postcard``) that Pubky uses.

Integers wider than a byte are LEB128 varints; ``u8`` and fixed arrays (keys, signatures,
8-byte timestamps) are raw bytes; strings and sequences are a varint length then the items.
Used by :class:`pubky.auth.AuthToken` and :class:`pubky.auth.SessionInfo`.

The reader raises a caller-chosen :class:`~pubky.errors.PubkyError` subclass so a truncated
session body surfaces as ``InvalidSessionInfo`` and a truncated token as ``InvalidAuthToken``.
"""

from __future__ import annotations

from pubky.errors import PubkyError

__all__ = ["Reader", "encode_str", "encode_varint"]

_U64_LIMIT = 1 << 64


def encode_varint(value: int) -> bytes:
    """LEB128 encoding of an unsigned integer below 2**64 (postcard ``u16``..``u64``/``usize``)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _U64_LIMIT:
        raise ValueError(f"varint out of u64 range: {value!r}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_str(text: str) -> bytes:
    """Postcard ``String``: varint byte length, then UTF-8."""
    data = text.encode("utf-8")
    return encode_varint(len(data)) + data


class Reader:
    """Sequential decoder over ``data`` raising ``error`` on anything malformed."""

    __slots__ = ("_data", "_error", "_pos")

    def __init__(self, data: bytes, error: type[PubkyError]) -> None:
        self._data = data
        self._pos = 0
        self._error = error

    @property
    def position(self) -> int:
        return self._pos

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def read(self, size: int) -> bytes:
        """Exactly ``size`` raw bytes."""
        end = self._pos + size
        if size < 0 or end > len(self._data):
            raise self._error(f"unexpected end of data at byte {self._pos} (wanted {size} bytes)")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def read_u8(self) -> int:
        return self.read(1)[0]

    def read_varint(self) -> int:
        """A ``u64`` varint: at most 10 bytes, no bits beyond 64 (postcard's overflow check)."""
        value = 0
        for index in range(10):
            byte = self.read_u8()
            value |= (byte & 0x7F) << (7 * index)
            if not byte & 0x80:
                if value >= _U64_LIMIT:
                    raise self._error("varint overflows u64")
                return value
        raise self._error("varint longer than 10 bytes")

    def read_str(self) -> str:
        length = self.read_varint()
        if length > self.remaining():
            raise self._error(f"string length {length} exceeds the {self.remaining()} bytes left")
        raw = self.read(length)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._error(f"string is not valid UTF-8: {exc}") from exc
