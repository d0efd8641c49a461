"""Typed exceptions for the whole ``pubky`` package.

Every parser in the package raises a subclass of :class:`PubkyError` on malformed input, so
callers (HTTP views, relay/homeserver clients, the CLI) can catch one base class and map it to
a status code without knowing which low-level library (dnspython, PyNaCl, struct …) failed.

Validation errors also inherit from :class:`ValueError` because that is what they are, and so
that generic code that already catches ``ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "AuthRequestError",
    "AuthTokenExpired",
    "AuthTokenReplayed",
    "CasConflict",
    "HomeserverBadRequest",
    "HomeserverConflict",
    "HomeserverError",
    "HomeserverForbidden",
    "HomeserverNotFound",
    "HomeserverUnauthorized",
    "HttpRelayError",
    "InvalidAuthToken",
    "InvalidCapabilities",
    "InvalidDnsPacket",
    "InvalidPublicKey",
    "InvalidRecord",
    "InvalidSecretKey",
    "InvalidSessionInfo",
    "InvalidSignature",
    "InvalidSignedPacket",
    "InvalidZ32",
    "NotMostRecent",
    "PacketTooLarge",
    "PayloadTooLarge",
    "PubkyError",
    "RateLimited",
    "RecoveryFileError",
    "RelayBadRequest",
    "RelayError",
    "RelayUnavailable",
    "ResolutionError",
]


class PubkyError(Exception):
    """Base class of every error raised deliberately by the ``pubky`` package."""


# --- identifiers -------------------------------------------------------------------------------


class InvalidZ32(PubkyError, ValueError):
    """Text is not canonical z-base-32 (bad character or non-zero trailing bits)."""


class InvalidPublicKey(PubkyError, ValueError):
    """Not a 32-byte Ed25519 public key that decompresses to a curve point."""


class InvalidSecretKey(PubkyError, ValueError):
    """A secret key (seed) is not exactly 32 bytes."""


# --- signed packets ----------------------------------------------------------------------------


class InvalidSignedPacket(PubkyError, ValueError):
    """A PKARR SignedPacket / relay payload failed validation."""


class PacketTooLarge(InvalidSignedPacket):
    """The encoded DNS packet exceeds 1000 bytes (SignedPacket > 1104, payload > 1072)."""


class InvalidSignature(InvalidSignedPacket):
    """The Ed25519 signature does not verify over the BEP44 signable."""


class InvalidDnsPacket(InvalidSignedPacket):
    """The DNS packet inside a SignedPacket cannot be parsed (or cannot be built)."""


class InvalidRecord(InvalidDnsPacket):
    """A :class:`pubky.packet.Record` has a bad name, type, TTL or presentation-format value."""


# --- auth tokens -------------------------------------------------------------------------------


class InvalidAuthToken(PubkyError, ValueError):
    """An AuthToken is malformed, has a bad signature or an unsupported version."""


class AuthTokenExpired(InvalidAuthToken):
    """The token's timestamp is too far in the past or the future."""


class AuthTokenReplayed(InvalidAuthToken):
    """The token (timestamp, public key) was already used within the replay window."""


class InvalidCapabilities(InvalidAuthToken):
    """A capability string is not ``/scope:actions[,…]`` with actions in {r, w}."""


class AuthRequestError(PubkyError, ValueError):
    """A pubkyauth deep link is malformed, or an approval could not be opened or read."""


class InvalidSessionInfo(PubkyError, ValueError):
    """A homeserver SessionInfo (postcard) body is malformed or has an unknown version."""


# --- recovery file -----------------------------------------------------------------------------


class RecoveryFileError(PubkyError, ValueError):
    """A recovery file is malformed or the passphrase is wrong."""


# --- network: relays ---------------------------------------------------------------------------


class RelayError(PubkyError):
    """A PKARR relay rejected a request or could not be reached.

    ``relay_url`` is the relay base URL (or ``None`` when not known) and ``status`` the HTTP
    status code (``None`` for transport failures).
    """

    def __init__(
        self,
        message: str = "",
        *,
        relay_url: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.relay_url = relay_url
        self.status = status


class NotMostRecent(RelayError):
    """The relay already holds a more recent packet (HTTP 409, or 428 conflict risk)."""


class CasConflict(RelayError):
    """The ``If-Match`` compare-and-swap precondition failed (HTTP 412)."""


class PayloadTooLarge(RelayError):
    """The relay refused the body as too large (HTTP 413)."""


class RateLimited(RelayError):
    """The relay rate-limited the client (HTTP 429)."""


class RelayUnavailable(RelayError):
    """Server error (5xx), timeout or connection failure."""


class RelayBadRequest(RelayError):
    """The relay rejected the request as malformed (HTTP 400)."""


# --- network: homeservers ----------------------------------------------------------------------


class HomeserverError(PubkyError):
    """A homeserver answered with an error status (or could not be reached: ``status=None``)."""

    def __init__(self, message: str = "", *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class HomeserverUnauthorized(HomeserverError):
    """HTTP 401: no/unknown session cookie, or invalid/used signup token."""


class HomeserverForbidden(HomeserverError):
    """HTTP 403: path outside ``/pub/``, missing capability, or user disabled."""


class HomeserverNotFound(HomeserverError):
    """HTTP 404: unknown user, file or directory."""


class HomeserverConflict(HomeserverError):
    """HTTP 409: e.g. ``User already exists`` on signup."""


class HomeserverBadRequest(HomeserverError):
    """HTTP 400: malformed token, path, cursor or query."""


class HttpRelayError(PubkyError):
    """The HTTP relay of a pubkyauth exchange refused a request or could not be reached."""

    def __init__(self, message: str = "", *, url: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.url = url
        self.status = status


# --- resolution --------------------------------------------------------------------------------


class ResolutionError(PubkyError):
    """A key or ``pubky://`` URL could not be resolved to a homeserver endpoint."""
