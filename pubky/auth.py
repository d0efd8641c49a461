"""Pubky capabilities, AuthTokens and SessionInfo (``pubky-common`` v0.6.0).

AuthToken wire layout (postcard)::

    0    signature        64 raw bytes
    64   namespace        b"PUBKY:AUTH"
    74   version          u8 (0)
    75   timestamp        8 bytes, big-endian microseconds
    83   public key       32 raw bytes
    115  capabilities     varint length + UTF-8 "scope:actions,..."

Two historical quirks are reproduced on purpose because real clients depend on them:

* the signature covers ``token[65:]`` — it starts at the *second* namespace byte;
* v0.6.0 checks the "version" at byte 75 (the first timestamp byte, always 0) before parsing.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pubky import postcard
from pubky.errors import (
    AuthTokenExpired,
    AuthTokenReplayed,
    InvalidAuthToken,
    InvalidCapabilities,
    InvalidPublicKey,
    InvalidSessionInfo,
)
from pubky.keys import Keypair, PublicKey
from pubky.packet import now_us as _now_us

__all__ = [
    "AUTH_NAMESPACE",
    "DEFAULT_WINDOW_S",
    "AuthToken",
    "AuthVerifier",
    "Capabilities",
    "Capability",
    "SessionInfo",
]

AUTH_NAMESPACE = b"PUBKY:AUTH"
DEFAULT_WINDOW_S = 45  # v0.6.0; v0.8+ homeservers use 180
CURRENT_VERSION = 0

_SIGNED_FROM = 65  # quirk: the signature starts one byte into the namespace
_VERSION_QUIRK_AT = 75  # quirk: v0.6.0 reads the "version" from the first timestamp byte
_ID = slice(75, 115)  # timestamp || public key
_MIN_TOKEN_BYTES = 116
_U64_LIMIT = 1 << 64
_ACTION_ORDER = "rw"


# --- capabilities ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Capability:
    """``<scope>:<actions>`` — a path prefix and a subset of ``r``/``w``.

    ``actions`` is normalised to the canonical order (``"wr"`` becomes ``"rw"``) and
    de-duplicated. Invalid input raises :class:`InvalidCapabilities`.
    """

    scope: str
    actions: str

    def __post_init__(self) -> None:
        if not isinstance(self.scope, str) or not isinstance(self.actions, str):
            raise InvalidCapabilities("capability scope and actions must be str")
        if not self.scope.startswith("/"):
            raise InvalidCapabilities(f"capability scope must start with '/': {self.scope!r}")
        if ":" in self.scope or "," in self.scope:
            raise InvalidCapabilities(
                f"capability scope must not contain ':' or ',': {self.scope!r}"
            )
        unknown = set(self.actions) - set(_ACTION_ORDER)
        if unknown:
            raise InvalidCapabilities(
                f"invalid capability action(s) {''.join(sorted(unknown))!r} in {self.actions!r}"
            )
        normalised = "".join(action for action in _ACTION_ORDER if action in self.actions)
        object.__setattr__(self, "actions", normalised)

    @classmethod
    def parse(cls, text: str) -> Capability:
        """Parse ``"/scope:rw"``: exactly one ``:``, scope starting with ``/``."""
        if not isinstance(text, str):
            raise InvalidCapabilities("capability must be a str")
        if text.count(":") != 1:
            raise InvalidCapabilities(f"capability must be <scope>:<actions>: {text!r}")
        scope, actions = text.split(":")
        return cls(scope, actions)

    @classmethod
    def root(cls) -> Capability:
        """``/:rw`` — everything."""
        return cls("/", "rw")

    @property
    def can_read(self) -> bool:
        return "r" in self.actions

    @property
    def can_write(self) -> bool:
        return "w" in self.actions

    def covers(self, other: Capability) -> bool:
        """``other`` grants nothing beyond this (pubky-common ``Capability::covers``)."""
        if self.scope != other.scope and not (
            self.scope.endswith("/") and other.scope.startswith(self.scope)
        ):
            return False
        return set(other.actions) <= set(self.actions)

    def __str__(self) -> str:
        return f"{self.scope}:{self.actions}"


def _sanitize(entries: list[Capability]) -> tuple[Capability, ...]:
    """pubky-common ``sanitize_caps``: merge equal scopes, then drop covered entries."""
    merged: list[Capability] = []
    for cap in entries:
        for index, existing in enumerate(merged):
            if existing.scope == cap.scope:
                merged[index] = Capability(cap.scope, existing.actions + cap.actions)
                break
        else:
            merged.append(cap)
    sanitized: list[Capability] = []
    for cap in merged:
        if any(existing.covers(cap) for existing in sanitized):
            continue
        sanitized = [existing for existing in sanitized if not cap.covers(existing)]
        sanitized.append(cap)
    return tuple(sanitized)


@dataclass(frozen=True)
class Capabilities:
    """An ordered list of :class:`Capability`; ``str()`` is the comma-joined wire form."""

    entries: tuple[Capability, ...] = ()

    @classmethod
    def parse(cls, text: str | Capabilities) -> Capabilities:
        """Strictly parse ``"/pub/app/:wr,/pub/foo.txt:r"`` (→ ``/pub/app/:rw,...``).

        Like the WASM ``validateCapabilities``: entries are trimmed, empty entries skipped,
        and every malformed entry is reported in one :class:`InvalidCapabilities`. The result
        is then merged/de-duplicated like pubky-common (so it equals what a homeserver reads
        back from a token). ``""`` is the empty list (authentication only).
        """
        if isinstance(text, Capabilities):
            return text
        if not isinstance(text, str):
            raise InvalidCapabilities("capabilities must be a str")
        valid: list[Capability] = []
        invalid: list[str] = []
        for token in text.split(","):
            token = token.strip()
            if not token:
                continue
            try:
                valid.append(Capability.parse(token))
            except InvalidCapabilities:
                invalid.append(token)
        if invalid:
            raise InvalidCapabilities(f"invalid capability entries: {', '.join(invalid)}")
        return cls(_sanitize(valid))

    @classmethod
    def parse_lenient(cls, text: str) -> Capabilities:
        """How a v0.6.0 homeserver reads a token: invalid entries are silently dropped."""
        valid = []
        for token in text.split(","):
            try:
                valid.append(Capability.parse(token))
            except InvalidCapabilities:
                continue
        return cls(_sanitize(valid))

    @classmethod
    def root(cls) -> Capabilities:
        return cls((Capability.root(),))

    def can_write(self, path: str) -> bool:
        """v0.6.0 homeserver rule: some scope is a plain string prefix of ``path`` with ``w``."""
        return any(cap.can_write and path.startswith(cap.scope) for cap in self.entries)

    def can_read(self, path: str) -> bool:
        """Same prefix rule for ``r`` (``/pub/`` reads are public anyway in v0.6.0)."""
        return any(cap.can_read and path.startswith(cap.scope) for cap in self.entries)

    def __iter__(self) -> Iterator[Capability]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, item: object) -> bool:
        return item in self.entries

    def __str__(self) -> str:
        return ",".join(str(cap) for cap in self.entries)


# --- AuthToken -------------------------------------------------------------------------------


class AuthToken:
    """A signed, time-stamped grant of capabilities over the signer's own homeserver data.

    Parsing keeps the original bytes: signature checks and replay ids are computed on them,
    and :meth:`to_bytes` returns them unchanged.
    """

    __slots__ = (
        "_raw",
        "capabilities",
        "capabilities_text",
        "namespace",
        "public_key",
        "signature",
        "timestamp",
        "version",
    )

    def __init__(
        self,
        raw: bytes,
        *,
        signature: bytes,
        namespace: bytes,
        version: int,
        timestamp: int,
        public_key: PublicKey,
        capabilities_text: str,
    ) -> None:
        self._raw = raw
        self.signature = signature
        self.namespace = namespace
        self.version = version
        self.timestamp = timestamp
        self.public_key = public_key
        self.capabilities_text = capabilities_text
        self.capabilities = Capabilities.parse_lenient(capabilities_text)

    @classmethod
    def sign(
        cls,
        keypair: Keypair,
        capabilities: str | Capabilities,
        *,
        timestamp: int | None = None,
    ) -> AuthToken:
        """Create a version-0 token; ``capabilities`` strings are validated strictly."""
        caps = Capabilities.parse(capabilities)
        if timestamp is None:
            timestamp = _now_us()
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            raise InvalidAuthToken("timestamp must be an int (microseconds)")
        if not 0 <= timestamp < _U64_LIMIT:
            raise InvalidAuthToken(f"timestamp out of u64 range: {timestamp}")
        body = (
            AUTH_NAMESPACE
            + bytes([CURRENT_VERSION])
            + timestamp.to_bytes(8, "big")
            + keypair.public_key.raw
            + postcard.encode_str(str(caps))
        )
        signature = keypair.sign(body[_SIGNED_FROM - 64 :])
        return cls.parse(signature + body)

    @classmethod
    def parse(cls, data: bytes) -> AuthToken:
        """Decode (without verifying) a token. Trailing bytes are tolerated, as by postcard."""
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        if not isinstance(data, bytes):
            raise InvalidAuthToken(f"auth token must be bytes, not {type(data).__name__}")
        reader = postcard.Reader(data, InvalidAuthToken)
        signature = reader.read(64)
        namespace = reader.read(10)
        version = reader.read_u8()
        timestamp = int.from_bytes(reader.read(8), "big")
        try:
            public_key = PublicKey.from_bytes(reader.read(32))
        except InvalidPublicKey as exc:
            raise InvalidAuthToken(f"invalid public key in auth token: {exc}") from exc
        capabilities_text = reader.read_str()
        return cls(
            data,
            signature=signature,
            namespace=namespace,
            version=version,
            timestamp=timestamp,
            public_key=public_key,
            capabilities_text=capabilities_text,
        )

    def to_bytes(self) -> bytes:
        return self._raw

    @property
    def id(self) -> bytes:
        """Replay id: ``timestamp || public key`` (``token[75:115]``)."""
        return self._raw[_ID]

    def verify(self, *, now_us: int | None = None, window_s: int = DEFAULT_WINDOW_S) -> None:
        """Check version, namespace, timestamp window and signature, in v0.6.0's order.

        Raises :class:`InvalidAuthToken` (unknown version, bad namespace, bad signature) or
        :class:`AuthTokenExpired` (more than ``window_s`` seconds in the past or future).
        Replay protection needs state: use :class:`AuthVerifier`.
        """
        raw = self._raw
        if raw[_VERSION_QUIRK_AT] > CURRENT_VERSION or self.version != CURRENT_VERSION:
            raise InvalidAuthToken("Unknown version")
        if self.namespace != AUTH_NAMESPACE:
            # Not checked by Rust (byte 64 is not even signed); no honest client differs.
            raise InvalidAuthToken("invalid auth token namespace")
        now = time.time_ns() // 1000 if now_us is None else now_us
        window_us = window_s * 1_000_000
        diff = self.timestamp - now
        if diff > window_us:
            raise AuthTokenExpired(
                f"AuthToken has a timestamp that is more than {window_s} seconds in the future"
            )
        if diff < -window_us:
            raise AuthTokenExpired(
                f"AuthToken has a timestamp that is more than {window_s} seconds in the past"
            )
        if not self.public_key.verify(raw[_SIGNED_FROM:], self.signature):
            raise InvalidAuthToken("Invalid Signature")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AuthToken):
            return NotImplemented
        return self._raw == other._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return (
            f"AuthToken(public_key={self.public_key.z32()}, timestamp={self.timestamp}, "
            f"capabilities={str(self.capabilities)!r})"
        )


class AuthVerifier:
    """Verifies tokens and rejects reuse of a (timestamp, public key) pair.

    Ids are remembered until their timestamp is more than two windows old; by then the token
    would fail the timestamp check anyway, so the memory stays bounded without weakening
    replay protection. Safe to share between threads.
    """

    def __init__(
        self,
        *,
        window_s: int = DEFAULT_WINDOW_S,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.window_s = window_s
        self._clock = clock or (lambda: time.time_ns() // 1000)
        self._lock = threading.Lock()
        self._seen: set[bytes] = set()
        self._expiry: list[tuple[int, bytes]] = []

    def verify(self, data: bytes, *, now_us: int | None = None) -> AuthToken:
        """Parse, verify and consume a token; raise :class:`AuthTokenReplayed` on reuse."""
        now = self._clock() if now_us is None else now_us
        token = AuthToken.parse(data)
        token.verify(now_us=now, window_s=self.window_s)
        token_id = token.id
        with self._lock:
            self._gc(now)
            if token_id in self._seen:
                raise AuthTokenReplayed("AuthToken already used")
            self._seen.add(token_id)
            heapq.heappush(self._expiry, (token.timestamp, token_id))
        return token

    def _gc(self, now: int) -> None:
        threshold = now - 2 * self.window_s * 1_000_000
        expiry = self._expiry
        while expiry and expiry[0][0] < threshold:
            _, token_id = heapq.heappop(expiry)
            self._seen.discard(token_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)


# --- SessionInfo -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionInfo:
    """The body of ``/signup`` and ``/session`` responses (postcard, version 0).

    ``name`` and ``user_agent`` are deprecated upstream and normally empty.
    """

    public_key: PublicKey
    created_at: int
    name: str = ""
    user_agent: str = ""
    capabilities: Capabilities = field(default_factory=Capabilities)

    def __post_init__(self) -> None:
        if not isinstance(self.public_key, PublicKey):
            raise InvalidSessionInfo("public_key must be a PublicKey")
        caps: object = self.capabilities
        if isinstance(caps, str):
            object.__setattr__(self, "capabilities", Capabilities.parse(caps))
        elif isinstance(caps, (list, tuple)):
            object.__setattr__(self, "capabilities", Capabilities(tuple(caps)))

    def to_bytes(self) -> bytes:
        caps = self.capabilities
        out = bytearray(postcard.encode_varint(0))
        out += self.public_key.raw
        out += postcard.encode_varint(self.created_at)
        out += postcard.encode_str(self.name)
        out += postcard.encode_str(self.user_agent)
        out += postcard.encode_varint(len(caps))
        for cap in caps:
            out += postcard.encode_str(str(cap))
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> SessionInfo:
        """Decode; unknown versions and malformed bodies raise :class:`InvalidSessionInfo`.

        Trailing bytes are ignored (postcard does the same, and newer servers may append).
        """
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        if not isinstance(data, bytes):
            raise InvalidSessionInfo(f"session info must be bytes, not {type(data).__name__}")
        if not data:
            raise InvalidSessionInfo("Empty payload")
        if data[0] > 0:
            raise InvalidSessionInfo("Unknown version")
        reader = postcard.Reader(data, InvalidSessionInfo)
        reader.read_varint()  # version 0
        try:
            public_key = PublicKey.from_bytes(reader.read(32))
        except InvalidPublicKey as exc:
            raise InvalidSessionInfo(f"invalid public key in session info: {exc}") from exc
        created_at = reader.read_varint()
        name = reader.read_str()
        user_agent = reader.read_str()
        count = reader.read_varint()
        entries = []
        for _ in range(count):
            text = reader.read_str()
            try:
                entries.append(Capability.parse(text))
            except InvalidCapabilities as exc:
                raise InvalidSessionInfo(f"invalid capability in session info: {exc}") from exc
        return cls(public_key, created_at, name, user_agent, Capabilities(tuple(entries)))
