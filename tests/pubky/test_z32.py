"""z-base-32: the alphabet, bit order and strictness every key string depends on."""

from __future__ import annotations

import pytest

from pubky import z32
from pubky.errors import InvalidZ32, PubkyError

KEY_Z32 = "yg4gxe7z1r7mr6orids9fh95y7gxhdsxjqi6nngsxxtakqaxr5no"
KEY_BYTES = bytes(
    [1, 180, 103, 163, 183, 145, 58, 178, 122, 4, 168, 237, 242, 243, 251, 7,
     76, 254, 14, 207, 75, 171, 225, 8, 214, 123, 227, 133, 59, 15, 38, 197]
)  # fmt: skip


def test_it_encodes_the_pkarr_key_vector() -> None:
    assert z32.encode(KEY_BYTES) == KEY_Z32


def test_it_decodes_the_pkarr_key_vector() -> None:
    assert z32.decode(KEY_Z32) == KEY_BYTES


def test_a_32_byte_key_is_52_characters() -> None:
    assert len(z32.encode(bytes(32))) == 52
    assert z32.encode(bytes(32)) == "y" * 52


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"", ""),
        (b"\x00", "yy"),
        (b"\xff", "9h"),
        (bytes([0xF8, 0x3E, 0x7F, 0x83, 0xE7]), "9y989y98"),  # base32 crate's README vector
        (b"\x01\x02\x03", "yrbyg"),
    ],
)
def test_it_round_trips_known_values(data: bytes, text: str) -> None:
    assert z32.encode(data) == text
    assert z32.decode(text) == data


def test_it_rejects_characters_outside_the_alphabet() -> None:
    for bad in ("0", "l", "v", "2", "Y", " ", "-", "é"):
        with pytest.raises(InvalidZ32):
            z32.decode("yy" + bad + "yy")


def test_it_rejects_upper_case() -> None:
    with pytest.raises(InvalidZ32):
        z32.decode(KEY_Z32.upper())


def test_it_rejects_non_zero_trailing_bits() -> None:
    # "9h" is 0xff; "99" would put a 1 in the two unused trailing bits.
    with pytest.raises(InvalidZ32, match="trailing bits"):
        z32.decode("99")


def test_it_rejects_lengths_the_encoder_never_produces() -> None:
    for length in (1, 3, 6, 9):
        with pytest.raises(InvalidZ32, match="length"):
            z32.decode("y" * length)


def test_it_rejects_non_strings() -> None:
    with pytest.raises(InvalidZ32):
        z32.decode(b"yy")  # type: ignore[arg-type]


def test_its_errors_are_pubky_value_errors() -> None:
    with pytest.raises(PubkyError):
        z32.decode("0")
    with pytest.raises(ValueError):
        z32.decode("0")
