"""Encrypted recovery files for a root secret key (``pubky-common/src/recovery_file.rs``).

Layout: ``b"pubky.org/recovery\\n" || nonce(24) || XSalsa20-Poly1305(secret32)`` — 91 bytes.
The key is Argon2id(passphrase, salt=b"recovery", m=19456 KiB, t=2, p=1, 32 bytes), i.e. Rust's
``Argon2::default()``. The fixed salt is part of the format (files must open anywhere), so the
passphrase strength is what protects the key.

The file is checked *before* running Argon2, so garbage input is rejected cheaply.
"""

from __future__ import annotations

import nacl.exceptions
import nacl.secret
from argon2.low_level import Type, hash_secret_raw

from pubky.errors import RecoveryFileError
from pubky.keys import Keypair

__all__ = ["SPEC_LINE", "create_recovery_file", "decrypt_recovery_file"]

SPEC_LINE = b"pubky.org/recovery"
_LEGACY_SPEC_LINE = b"pkarr.org/recovery"
_SALT = b"recovery"
_NONCE_BYTES = nacl.secret.SecretBox.NONCE_SIZE
_SECRET_BYTES = 32


def _encryption_key(passphrase: str) -> bytes:
    if not isinstance(passphrase, str):
        raise RecoveryFileError("passphrase must be a str")
    return hash_secret_raw(
        secret=passphrase.encode("utf-8"),
        salt=_SALT,
        time_cost=2,
        memory_cost=19456,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
        version=19,
    )


def create_recovery_file(keypair: Keypair, passphrase: str) -> bytes:
    """Encrypt ``keypair``'s secret under ``passphrase`` (a fresh random nonce each time)."""
    box = nacl.secret.SecretBox(_encryption_key(passphrase))
    return SPEC_LINE + b"\n" + bytes(box.encrypt(keypair.secret))


def decrypt_recovery_file(data: bytes, passphrase: str) -> Keypair:
    """Recover the keypair; raise :class:`RecoveryFileError` on bad format or passphrase."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise RecoveryFileError(f"recovery file must be bytes, not {type(data).__name__}")
    newline = data.find(b"\n")
    if newline < 0:
        raise RecoveryFileError(
            "recovery file should start with a spec line, followed by a new line character"
        )
    spec_line = data[:newline]
    if not spec_line.startswith((SPEC_LINE, _LEGACY_SPEC_LINE)):
        raise RecoveryFileError("recovery file version not supported")
    encrypted = data[newline + 1 :]
    if not encrypted:
        raise RecoveryFileError("recovery file has no encrypted secret key after the spec line")
    if len(encrypted) != _NONCE_BYTES + nacl.secret.SecretBox.MACBYTES + _SECRET_BYTES:
        # Any other length cannot decrypt to a 32-byte secret; skip the Argon2 cost.
        raise RecoveryFileError(
            f"recovery file encrypted secret key has the wrong length ({len(encrypted)} bytes)"
        )
    box = nacl.secret.SecretBox(_encryption_key(passphrase))
    try:
        secret = box.decrypt(encrypted[_NONCE_BYTES:], encrypted[:_NONCE_BYTES])
    except nacl.exceptions.CryptoError as exc:
        raise RecoveryFileError("cannot decrypt recovery file: wrong passphrase?") from exc
    return Keypair.from_secret(secret)
