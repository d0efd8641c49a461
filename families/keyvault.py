"""Private keys at rest: PyNaCl SecretBox under ``PUBKY_KEY_ENCRYPTION_KEY``.

Sealed format (bytes): ``b"\\x01" || key_id(8) || nonce(24) || ciphertext``. The key id is a keyed
hash of the encryption key, so decryption can pick the current or the previous key during a
rotation, and a rotation can tell which rows it already re-encrypted. Plaintext keys never leave
this module except as the return value of :func:`unseal`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import nacl.exceptions
import nacl.secret
import nacl.utils
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

FORMAT_VERSION = b"\x01"
KEY_ID_BYTES = 8
_HEADER = len(FORMAT_VERSION) + KEY_ID_BYTES


class KeyVaultError(Exception):
    """A sealed key cannot be opened (wrong key, corrupted or foreign data)."""


def key_id(key: bytes) -> bytes:
    return hashlib.blake2b(key, digest_size=KEY_ID_BYTES, person=b"pubky-kek-id").digest()


def _current_key() -> bytes:
    key = settings.PUBKY_KEY_ENCRYPTION_KEY
    if not key:
        raise ImproperlyConfigured("PUBKY_KEY_ENCRYPTION_KEY is required but not set")
    return bytes(key)


def _known_keys() -> dict[bytes, bytes]:
    keys = [_current_key(), *(bytes(k) for k in settings.PUBKY_KEY_DECRYPTION_KEYS)]
    return {key_id(k): k for k in keys}


def seal(secret: bytes, *, key: bytes | None = None) -> bytes:
    """Encrypt a secret (an Ed25519 seed) under the current key, or under ``key`` if given."""
    key = key or _current_key()
    box = nacl.secret.SecretBox(key)
    return FORMAT_VERSION + key_id(key) + bytes(box.encrypt(secret))


def unseal(sealed: bytes | memoryview, *, key: bytes | None = None) -> bytes:
    """Decrypt a sealed secret with the key it was sealed under (current or previous)."""
    blob = bytes(sealed)
    if len(blob) <= _HEADER + nacl.secret.SecretBox.NONCE_SIZE or blob[:1] != FORMAT_VERSION:
        raise KeyVaultError("not a sealed key in a known format")
    wanted = blob[1:_HEADER]
    if key is None:
        candidate = _known_keys().get(wanted)
        if candidate is None:
            raise KeyVaultError(
                "sealed under an unknown encryption key (list the other key in "
                "PUBKY_KEY_DECRYPTION_KEYS while a rotation rolls out)"
            )
        key = candidate
    try:
        return bytes(nacl.secret.SecretBox(key).decrypt(blob[_HEADER:]))
    except nacl.exceptions.CryptoError:
        raise KeyVaultError("sealed key failed authentication") from None


def sealed_key_id(sealed: bytes | memoryview) -> bytes:
    return bytes(sealed)[1:_HEADER]


def generate_encryption_key() -> bytes:
    return nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)


@dataclass(frozen=True)
class EncryptedField:
    """One column holding sealed keys, for rotation."""

    app_label: str
    model_name: str
    field_name: str


# Every column that stores a sealed private key. rotate_encryption_key walks exactly these.
ENCRYPTED_FIELDS: tuple[EncryptedField, ...] = (
    EncryptedField("families", "User", "pubky_private_key_encrypted"),
    EncryptedField("families", "PubkyKeypair", "private_key_encrypted"),
    EncryptedField("domains", "PubkyDomain", "private_key_encrypted"),
    EncryptedField("families", "KeyProof", "secret_encrypted"),
)
