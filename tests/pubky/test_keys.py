"""Keys: the dalek point rule, pkarr's lenient key parser and the known key vectors."""

from __future__ import annotations

import pickle

import pytest

from pubky import z32
from pubky.errors import InvalidPublicKey, InvalidSecretKey, PubkyError
from pubky.keys import Keypair, PublicKey, is_valid_point

KEY_Z32 = "yg4gxe7z1r7mr6orids9fh95y7gxhdsxjqi6nngsxxtakqaxr5no"
KEY_BYTES = bytes(
    [1, 180, 103, 163, 183, 145, 58, 178, 122, 4, 168, 237, 242, 243, 251, 7,
     76, 254, 14, 207, 75, 171, 225, 8, 214, 123, 227, 133, 59, 15, 38, 197]
)  # fmt: skip
NOT_A_POINT = "c1bkg8tfsyy8wcedtmw4fwhdmm7bbzhgg3z58tf43m5ow8w9mbus"
ZERO_SEED_KEY = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"
ZERO_SEED_KEY_HEX = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"


def _lenient_z32_decode(text: str) -> bytes:
    """Decode like Rust's ``base32`` crate: ignore the unused trailing bits."""
    number = 0
    for char in text:
        number = (number << 5) | z32.ALPHABET.index(char)
    spare = len(text) * 5 % 8
    return (number >> spare).to_bytes(len(text) * 5 // 8, "big")


# --- vectors ---------------------------------------------------------------------------------


def test_it_parses_the_pkarr_key_vector() -> None:
    assert PublicKey.parse(KEY_Z32).raw == KEY_BYTES


def test_it_renders_the_pkarr_uri_vector() -> None:
    key = PublicKey.from_bytes(KEY_BYTES)
    assert key.to_uri() == f"pk:{KEY_Z32}"
    assert str(key) == key.z32() == KEY_Z32
    assert key.to_pubky() == f"pubky{KEY_Z32}"


def test_it_rejects_the_pkarr_not_a_point_vector() -> None:
    with pytest.raises(InvalidPublicKey):
        PublicKey.parse(NOT_A_POINT)
    # Also when decoded the lenient Rust way: the 32 bytes are not a curve point.
    raw = _lenient_z32_decode(NOT_A_POINT)
    assert len(raw) == 32
    assert not is_valid_point(raw)
    with pytest.raises(InvalidPublicKey, match="decompress"):
        PublicKey.from_bytes(raw)


def test_the_zero_seed_gives_the_testnet_homeserver_key() -> None:
    keypair = Keypair.from_secret(bytes(32))
    assert keypair.public_key.raw.hex() == ZERO_SEED_KEY_HEX
    assert keypair.public_key.z32() == ZERO_SEED_KEY


def test_the_counting_seed_gives_the_documented_key() -> None:
    keypair = Keypair.from_secret(bytes(range(32)))
    assert keypair.public_key.z32() == "yqooxx9u3aemh8mo5wcqq16yufu6jitouq1o4za751dger1igghy"


def test_the_all_ones_seed_gives_its_key() -> None:
    # "xg4icm…131y" is easily misattributed to this seed; independent Ed25519
    # implementations (libsodium, OpenSSL) give the key below — "xg4icm…" is seed 01..20.
    keypair = Keypair.from_secret(bytes([1]) * 32)
    assert keypair.public_key.z32() == "tkrq8zmwb8a3m9k15csu3q17qmfgqnp9dskbrg9uq1rydpyxp7qy"


def test_the_one_to_thirty_two_seed_gives_the_section_3_4_user_key() -> None:
    keypair = Keypair.from_secret(bytes(range(1, 33)))
    assert keypair.public_key.z32() == "xg4icmwxh3kx1odasrjqtkcmw6eb9bj4h4k57i9yhqeozmer131y"


# --- point rule ------------------------------------------------------------------------------


def test_it_accepts_small_order_points_like_dalek() -> None:
    # libsodium's is_valid_point would refuse these; pkarr/WASM accept them.
    assert is_valid_point(bytes(32))
    identity = (1).to_bytes(32, "little")
    assert is_valid_point(identity)
    assert PublicKey.parse("y" * 52).raw == bytes(32)


def test_it_ignores_the_sign_bit_when_x_is_zero_like_dalek() -> None:
    # y = 1 gives x = 0; dalek negates 0 instead of rejecting the set sign bit.
    identity_with_sign = bytearray((1).to_bytes(32, "little"))
    identity_with_sign[31] |= 0x80
    assert is_valid_point(bytes(identity_with_sign))


def test_it_accepts_non_canonical_y_like_dalek() -> None:
    # y = p + 1 ≡ 1 (mod p): dalek reduces instead of rejecting.
    p = 2**255 - 19
    assert is_valid_point((p + 1).to_bytes(32, "little"))


def test_it_rejects_wrong_lengths_as_points() -> None:
    assert not is_valid_point(b"")
    assert not is_valid_point(bytes(31))
    assert not is_valid_point(bytes(33))


def test_every_generated_public_key_is_a_valid_point() -> None:
    for _ in range(50):
        assert is_valid_point(Keypair.random().public_key.raw)


def test_about_half_of_random_strings_are_points() -> None:
    import os

    hits = sum(is_valid_point(os.urandom(32)) for _ in range(400))
    assert 120 < hits < 280


# --- lenient parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        KEY_Z32,
        f"pk:{KEY_Z32}",
        f"pubky{KEY_Z32}",
        f"http://{KEY_Z32}",
        f"https://{KEY_Z32}",
        f"https://{KEY_Z32}///foo/bar",
        f"https://{KEY_Z32}?foo=bar",
        f"https://{KEY_Z32}#foo",
        f"https://foo.bar.{KEY_Z32}#foo",
        f"https://foo.{KEY_Z32}.",
        f"https://foo@{KEY_Z32}#foo",
        f"https://{KEY_Z32}:8888",
        f"https://foo@bar.{KEY_Z32}.:8888?q=v&a=b#foo",
        f"https://o4dksfbqk85ogzdb5osziw6befigbuxmuxkuxq8434q89uj56uyy.{KEY_Z32}",
        f"_pubky.{KEY_Z32}",
        f"_pubky.{KEY_Z32}.",
        f"pubky://{KEY_Z32}/pub/file.txt",
    ],
)
def test_it_parses_every_pkarr_spelling(text: str) -> None:
    assert PublicKey.parse(text).raw == KEY_BYTES


@pytest.mark.parametrize(
    "text",
    [
        "",
        "pk:",
        KEY_Z32.upper(),
        f" {KEY_Z32}",
        f"{KEY_Z32}y",
        f"x{KEY_Z32}",
        f"pubky{KEY_Z32}/pub/a",
        f"http://{KEY_Z32}.example.com",
        "localhost:6286",
        ZERO_SEED_KEY[:-1] + "a",  # non-canonical trailing bits
    ],
)
def test_it_rejects_strings_that_are_not_keys(text: str) -> None:
    with pytest.raises(InvalidPublicKey):
        PublicKey.parse(text)


def test_it_can_refuse_the_pubky_display_prefix() -> None:
    # The homeserver must not accept ``pubky<z32>`` as a tenant in Host/pubky-host.
    with pytest.raises(InvalidPublicKey):
        PublicKey.parse(f"pubky{KEY_Z32}", allow_pubky_prefix=False)
    assert PublicKey.parse(f"_pubky.{KEY_Z32}", allow_pubky_prefix=False).raw == KEY_BYTES


def test_from_z32_is_strict_about_the_bare_form() -> None:
    assert PublicKey.from_z32(KEY_Z32).raw == KEY_BYTES
    for text in (f"pk:{KEY_Z32}", KEY_Z32[:-1], NOT_A_POINT):
        with pytest.raises(InvalidPublicKey):
            PublicKey.from_z32(text)


def test_it_rejects_non_string_input() -> None:
    with pytest.raises(InvalidPublicKey):
        PublicKey.parse(KEY_BYTES)  # type: ignore[arg-type]


def test_it_rejects_raw_keys_of_the_wrong_length() -> None:
    for raw in (b"", bytes(31), bytes(33)):
        with pytest.raises(InvalidPublicKey, match="32 bytes"):
            PublicKey.from_bytes(raw)


def test_public_keys_compare_and_hash_by_bytes() -> None:
    a = PublicKey.parse(KEY_Z32)
    b = PublicKey.from_bytes(bytearray(KEY_BYTES))
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert bytes(a) == KEY_BYTES
    assert repr(a) == f"PublicKey({KEY_Z32})"


# --- keypairs --------------------------------------------------------------------------------


def test_signatures_verify_under_the_public_key() -> None:
    keypair = Keypair.random()
    signature = keypair.sign(b"Hello, world!")
    assert len(signature) == 64
    assert keypair.public_key.verify(b"Hello, world!", signature)


def test_it_rejects_a_signature_over_other_bytes() -> None:
    keypair = Keypair.random()
    signature = keypair.sign(b"Hello, world!")
    assert not keypair.public_key.verify(b"Hello, world?", signature)
    assert not Keypair.random().public_key.verify(b"Hello, world!", signature)
    assert not keypair.public_key.verify(b"Hello, world!", signature[:63])
    assert not keypair.public_key.verify(b"Hello, world!", bytes(64))


def test_a_keypair_round_trips_through_its_secret() -> None:
    keypair = Keypair.random()
    again = Keypair.from_secret(keypair.secret)
    assert again == keypair
    assert again.public_key == keypair.public_key
    assert len(keypair.secret) == 32


def test_it_rejects_secrets_that_are_not_32_bytes() -> None:
    for secret in (b"", bytes(31), bytes(64)):
        with pytest.raises(InvalidSecretKey):
            Keypair.from_secret(secret)
    with pytest.raises(PubkyError):
        Keypair.from_secret("00" * 32)  # type: ignore[arg-type]


def test_a_keypair_never_shows_its_secret() -> None:
    keypair = Keypair.from_secret(bytes(range(32)))
    for text in (repr(keypair), str(keypair), f"{keypair}", repr([keypair])):
        assert keypair.secret.hex() not in text
        assert "000102" not in text
    assert repr(keypair) == f"Keypair(public_key={keypair.public_key.z32()})"


def test_a_keypair_survives_pickling() -> None:
    keypair = Keypair.random()
    assert pickle.loads(pickle.dumps(keypair)) == keypair
