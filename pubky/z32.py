"""z-base-32 (Zimmermann's human-oriented base-32), the text form of every Pubky/PKARR key.

Bits are packed most-significant first, without padding; a 32-byte key becomes 52 characters.

Decoding is *strict*: only the lower-case alphabet is accepted, and the unused trailing bits of
the last character must be zero. That makes the text form canonical (one string per byte
string), which matters because keys are used as hostnames, cookie names and database keys —
two spellings of the same key would be two different tenants.
"""

from __future__ import annotations

from pubky.errors import InvalidZ32

__all__ = ["ALPHABET", "decode", "encode"]

ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"

_DECODE = {char: index for index, char in enumerate(ALPHABET)}


def encode(data: bytes) -> str:
    """Encode ``data`` as unpadded, lower-case z-base-32."""
    if not data:
        return ""
    bits = len(data) * 8
    chars = -(-bits // 5)  # ceil
    number = int.from_bytes(data, "big") << (chars * 5 - bits)
    out = []
    for shift in range((chars - 1) * 5, -1, -5):
        out.append(ALPHABET[(number >> shift) & 31])
    return "".join(out)


def decode(text: str) -> bytes:
    """Decode canonical z-base-32 ``text``; raise :class:`InvalidZ32` otherwise."""
    if not isinstance(text, str):
        raise InvalidZ32(f"expected str, got {type(text).__name__}")
    if not text:
        return b""
    number = 0
    for char in text:
        value = _DECODE.get(char)
        if value is None:
            raise InvalidZ32(f"invalid z-base-32 character {char!r}")
        number = (number << 5) | value
    bits = len(text) * 5
    spare = bits % 8
    if spare >= 5:
        # A last character made only of padding bits is never produced by the encoder.
        raise InvalidZ32(f"invalid z-base-32 length {len(text)}")
    if number & ((1 << spare) - 1):
        raise InvalidZ32("non-canonical z-base-32: trailing bits are not zero")
    return (number >> spare).to_bytes(bits // 8, "big")
