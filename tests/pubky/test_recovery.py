"""Recovery files: the pubky-core sample file and our own round trip."""

from __future__ import annotations

import pytest

from pubky.errors import PubkyError, RecoveryFileError
from pubky.keys import Keypair
from pubky.recovery import create_recovery_file, decrypt_recovery_file

# pubky/pubky-core : examples/sample_recovery.key (README: empty passphrase), 91 bytes.
SAMPLE_RECOVERY_FILE = bytes.fromhex(
    "7075626b792e6f72672f7265636f766572790a013c787bcf1111ec4a5715d0d09753558ac568da7041dc8b9e"
    "12538d869fc634455ff120533c681c9f403fe7e48bd7226b14f18341c16dd57028c0e3730b846c2e8132b574"
    "9f5ee2"
)
SAMPLE_SECRET = "49609e0565ea9dfe8eef9592eab947928f07aba6eaee8d81a0fd7ca8337cf463"
SAMPLE_PUBLIC_KEY = "htbqf4wzp9c1qc5r77h86shpekcqop5icognmbwyb3szhkxnh5wy"


def test_it_decrypts_the_pubky_core_sample_file() -> None:
    assert len(SAMPLE_RECOVERY_FILE) == 91
    keypair = decrypt_recovery_file(SAMPLE_RECOVERY_FILE, "")
    assert keypair.secret.hex() == SAMPLE_SECRET
    assert keypair.public_key.z32() == SAMPLE_PUBLIC_KEY


def test_it_rejects_the_sample_file_with_a_wrong_passphrase() -> None:
    with pytest.raises(RecoveryFileError, match="passphrase"):
        decrypt_recovery_file(SAMPLE_RECOVERY_FILE, "not empty")


def test_a_created_file_decrypts_to_the_same_keypair() -> None:
    keypair = Keypair.random()
    data = create_recovery_file(keypair, "very secure password")
    assert len(data) == 91
    assert data.startswith(b"pubky.org/recovery\n")
    assert decrypt_recovery_file(data, "very secure password") == keypair


def test_each_file_uses_a_fresh_nonce() -> None:
    keypair = Keypair.random()
    assert create_recovery_file(keypair, "pw") != create_recovery_file(keypair, "pw")


def test_it_accepts_the_legacy_pkarr_spec_line() -> None:
    legacy = b"pkarr.org/recovery" + SAMPLE_RECOVERY_FILE[len(b"pubky.org/recovery") :]
    assert decrypt_recovery_file(legacy, "").public_key.z32() == SAMPLE_PUBLIC_KEY


def test_unicode_passphrases_work() -> None:
    keypair = Keypair.random()
    data = create_recovery_file(keypair, "pässwörd 🔑")
    assert decrypt_recovery_file(data, "pässwörd 🔑") == keypair
    with pytest.raises(RecoveryFileError):
        decrypt_recovery_file(data, "passwort 🔑")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "spec line"),
        (b"pubky.org/recovery", "spec line"),
        (b"other.org/recovery\n" + bytes(72), "not supported"),
        (b"pubky.org/recovery\n", "no encrypted"),
        (b"pubky.org/recovery\n" + bytes(71), "length"),
        (b"pubky.org/recovery\n" + bytes(73), "length"),
    ],
)
def test_it_rejects_malformed_files(data: bytes, message: str) -> None:
    with pytest.raises(RecoveryFileError, match=message):
        decrypt_recovery_file(data, "")


def test_it_rejects_a_tampered_ciphertext() -> None:
    tampered = bytearray(SAMPLE_RECOVERY_FILE)
    tampered[-1] ^= 0x01
    with pytest.raises(RecoveryFileError):
        decrypt_recovery_file(bytes(tampered), "")


def test_recovery_errors_are_pubky_errors() -> None:
    with pytest.raises(PubkyError):
        decrypt_recovery_file(b"junk", "")
    with pytest.raises(RecoveryFileError):
        decrypt_recovery_file("text", "")  # type: ignore[arg-type]
