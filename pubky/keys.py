"""Ed25519 keys as Pubky/PKARR uses them: 32-byte seeds, 32-byte public keys, z-base-32 text.

Two details matter for interoperability with the Rust implementation (``ed25519-dalek``):

* **Which public keys are valid.** pkarr accepts any 32 bytes that *decompress* to a point on
  the Edwards curve (dalek's rule), including small-order points such as 32 zero bytes.
  libsodium's ``crypto_core_ed25519_is_valid_point`` is stricter, and PyNaCl's ``VerifyKey``
  checks nothing, so :func:`is_valid_point` implements dalek's rule directly.
* **How keys are written.** :meth:`PublicKey.parse` reproduces pkarr's lenient ``FromStr``
  (URLs, ``pk:`` URIs, ``_pubky.<key>`` hostnames …) plus pubky-common's ``pubky<z32>`` form.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
import nacl.signing

from pubky import z32
from pubky.errors import InvalidPublicKey, InvalidSecretKey, InvalidZ32

__all__ = ["Keypair", "PublicKey", "is_valid_point"]

PUBLIC_KEY_BYTES = 32
SECRET_KEY_BYTES = 32
SIGNATURE_BYTES = 64
Z32_KEY_LENGTH = 52

# Curve25519 field prime and the twisted Edwards curve constant d = -121665/121666 mod p.
_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


def _jacobi(a: int, n: int) -> int:
    """Jacobi symbol (a/n) for odd n > 0; for prime n this is the Legendre symbol.

    About three times faster than Euler's criterion ``pow(a, (p-1)/2, p)`` in CPython.
    """
    a %= n
    result = 1
    while a:
        while not a & 1:
            a >>= 1
            if n & 7 in (3, 5):
                result = -result
        a, n = n, a
        if a & 3 == 3 and n & 3 == 3:
            result = -result
        a %= n
    return result if n == 1 else 0


@functools.lru_cache(maxsize=65536)
def _is_valid_point_cached(key: bytes) -> bool:
    # dalek: y = low 255 bits (reduced mod p, no canonicity check); the sign bit only selects
    # between x and -x, and for x = 0 it is simply ignored (no rejection).
    y = int.from_bytes(key, "little") & ((1 << 255) - 1)
    yy = y * y % _P
    u = (yy - 1) % _P
    v = (_D * yy + 1) % _P  # never 0: -1/d is not a square mod p
    # u/v is a square  <=>  u*v is a square (v and 1/v share their quadratic character).
    return _jacobi(u * v % _P, _P) >= 0


def is_valid_point(key: bytes) -> bool:
    """True iff ``key`` is 32 bytes that ed25519-dalek can decompress to a curve point.

    Results are cached per key: relays see the same keys over and over, and the square test
    costs tens of microseconds in pure Python.
    """
    if not isinstance(key, (bytes, bytearray, memoryview)) or len(key) != PUBLIC_KEY_BYTES:
        return False
    return _is_valid_point_cached(bytes(key))


def _strip_to_last_label(text: str) -> str:
    """pkarr's ``FromStr`` pre-processing: peel URL parts off until 52 characters remain.

    Each step only runs while the string is still longer than a bare key, exactly like the
    nested ``if s.len() > 52`` cascade in ``pkarr/src/keys.rs``.
    """

    def too_long(s: str) -> bool:
        return len(s.encode("utf-8", "surrogatepass")) > Z32_KEY_LENGTH

    s = text
    if not too_long(s):
        return s
    s = s.split(":", 1)[1] if ":" in s else s  # scheme
    if not too_long(s):
        return s
    s = s.removeprefix("//")
    if not too_long(s):
        return s
    s = s.split("@", 1)[1] if "@" in s else s  # userinfo
    if not too_long(s):
        return s
    for separator in (":", "/", "?", "#"):  # port, path, query, fragment
        s = s.split(separator, 1)[0]
        if not too_long(s):
            return s
    if s.endswith("."):
        s = s.strip(".")
    return s.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key that is a valid curve point (dalek rule).

    Equality and hashing are by the raw 32 bytes. ``str()`` gives the bare z-base-32 form,
    which is what every transport (hosts, headers, cookies, storage) uses.
    """

    raw: bytes

    def __post_init__(self) -> None:
        raw = self.raw
        if not isinstance(raw, bytes):
            if isinstance(raw, (bytearray, memoryview)):
                object.__setattr__(self, "raw", bytes(raw))
                raw = self.raw
            else:
                raise InvalidPublicKey(f"public key must be bytes, not {type(raw).__name__}")
        if len(raw) != PUBLIC_KEY_BYTES:
            raise InvalidPublicKey(f"public key must be 32 bytes, got {len(raw)}")
        if not _is_valid_point_cached(raw):
            raise InvalidPublicKey("invalid Ed25519 public key: cannot decompress Edwards point")

    # --- constructors ---------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKey:
        """Build from 32 raw bytes; raise :class:`InvalidPublicKey` otherwise."""
        return cls(data)

    @classmethod
    def from_z32(cls, text: str) -> PublicKey:
        """Strictly parse a bare 52-character z-base-32 key."""
        if not isinstance(text, str) or len(text) != Z32_KEY_LENGTH:
            raise InvalidPublicKey("a z-base-32 public key is exactly 52 characters")
        try:
            return cls(z32.decode(text))
        except InvalidZ32 as exc:
            raise InvalidPublicKey(f"invalid public key encoding: {exc}") from exc

    @classmethod
    def parse(cls, text: str, *, allow_pubky_prefix: bool = True) -> PublicKey:
        """Leniently parse a key out of ``text`` the way pkarr/pubky-common do.

        Accepted: ``<z32>``, ``pk:<z32>``, ``pubky<z32>`` (unless ``allow_pubky_prefix`` is
        false — the homeserver must reject it in ``Host``/``pubky-host``), URLs such as
        ``https://user@foo.<z32>.:8888/path?q#h``, and hostnames like ``_pubky.<z32>``:
        URL parts are stripped and the *last* DNS label is decoded.
        """
        if not isinstance(text, str):
            raise InvalidPublicKey(f"public key text must be str, not {type(text).__name__}")
        if (
            allow_pubky_prefix
            and text.startswith("pubky")
            and len(text) == len("pubky") + Z32_KEY_LENGTH
        ):
            text = text[len("pubky") :]
        candidate = _strip_to_last_label(text)
        try:
            raw = z32.decode(candidate)
        except InvalidZ32 as exc:
            raise InvalidPublicKey(f"invalid public key encoding: {exc}") from exc
        return cls(raw)

    # --- representations ------------------------------------------------------------------

    def z32(self) -> str:
        """Bare z-base-32 text (52 characters)."""
        return _z32_of(self.raw)

    def __str__(self) -> str:
        return _z32_of(self.raw)

    def __repr__(self) -> str:
        return f"PublicKey({_z32_of(self.raw)})"

    def to_uri(self) -> str:
        """PKARR URI form ``pk:<z32>``."""
        return f"pk:{_z32_of(self.raw)}"

    def to_pubky(self) -> str:
        """Pubky display form ``pubky<z32>`` (display only; never use it on the wire)."""
        return f"pubky{_z32_of(self.raw)}"

    def __bytes__(self) -> bytes:
        return self.raw

    # --- crypto ---------------------------------------------------------------------------

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True iff ``signature`` is a valid Ed25519 signature of ``message`` by this key.

        Uses libsodium, which additionally rejects small-order keys/R values that dalek's
        non-strict ``verify`` would accept; no honest signer produces those.
        """
        if len(signature) != SIGNATURE_BYTES:
            return False
        try:
            nacl.bindings.crypto_sign_open(bytes(signature) + bytes(message), self.raw)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
            return False
        return True


@functools.lru_cache(maxsize=65536)
def _z32_of(raw: bytes) -> str:
    return z32.encode(raw)


class Keypair:
    """An Ed25519 signing key (RFC 8032 32-byte seed) and its :class:`PublicKey`.

    The secret never appears in ``repr``/``str`` so keypairs can be logged safely.
    """

    __slots__ = ("_public_key", "_secret", "_signing_key")

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, (bytes, bytearray, memoryview)):
            raise InvalidSecretKey(f"secret key must be bytes, not {type(secret).__name__}")
        secret = bytes(secret)
        if len(secret) != SECRET_KEY_BYTES:
            raise InvalidSecretKey(f"secret key must be 32 bytes, got {len(secret)}")
        self._secret = secret
        self._signing_key = nacl.signing.SigningKey(secret)
        self._public_key = PublicKey(bytes(self._signing_key.verify_key))

    @classmethod
    def random(cls) -> Keypair:
        """A fresh keypair from the operating system's CSPRNG."""
        return cls(os.urandom(SECRET_KEY_BYTES))

    @classmethod
    def from_secret(cls, seed: bytes) -> Keypair:
        """Keypair for a 32-byte seed (``Keypair::from_secret_key`` in Rust)."""
        return cls(seed)

    @property
    def secret(self) -> bytes:
        """The 32-byte seed. Handle with care."""
        return self._secret

    @property
    def public_key(self) -> PublicKey:
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        """Detached 64-byte Ed25519 signature of ``message``."""
        return self._signing_key.sign(bytes(message)).signature

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Keypair):
            return NotImplemented
        return self._secret == other._secret

    def __hash__(self) -> int:
        return hash(self._public_key)

    def __repr__(self) -> str:
        return f"Keypair(public_key={self._public_key.z32()})"

    __str__ = __repr__
