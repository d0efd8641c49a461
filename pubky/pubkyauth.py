"""pubkyauth: how an app asks an authenticator (a key holder) for a signed AuthToken.

The exchange (``pubky`` v0.6.0, what ``@synonymdev/pubky``'s ``startAuthFlow`` and
``signer.approveAuthRequest`` speak):

1. The app makes ``client_secret`` (32 random bytes); the rendezvous channel is
   ``channel_id = base64url_nopad(BLAKE3(client_secret))`` on an HTTP relay.
2. It shows the deep link ``pubkyauth://signin?caps=<caps>&relay=<relay base>&secret=<b64url>``
   (values are not percent-encoded), e.g. as a QR code.
3. The authenticator signs an :class:`~pubky.auth.AuthToken` for ``caps`` with the key it
   holds, seals it with NaCl SecretBox under ``client_secret`` (``nonce(24) ‖ ciphertext``) and
   POSTs it to ``<relay>/<channel_id>``.
4. The app long-polls ``GET <relay>/<channel_id>``, opens the box and verifies the token.

The relay is a rendezvous, not a mailbox: a POST waits (up to the relay's timeout, 10 minutes
for ``http-relay``) until a GET takes the body, and a GET waits for a POST. A GET answered
``408`` (nobody approved in time) or ``404`` (another GET on the same channel displaced it)
simply found nothing yet.

Nothing here verifies whose key signed: the caller compares ``token.public_key`` with the key
it expects and calls :meth:`AuthToken.verify` (signature, freshness).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import blake3
import nacl.exceptions
import nacl.secret
import requests

from pubky.auth import AuthToken, Capabilities
from pubky.errors import AuthRequestError, HttpRelayError, InvalidCapabilities
from pubky.http import USER_AGENT
from pubky.keys import Keypair

__all__ = [
    "DEFAULT_RELAY",
    "SECRET_BYTES",
    "AuthRequest",
    "approve",
    "channel_id",
    "open_sealed",
    "poll",
    "seal",
]

DEFAULT_RELAY = "https://httprelay.pubky.app/link"
SECRET_BYTES = 32
SCHEMES = ("pubkyauth", "pubkyring")
KINDS = ("signin", "signup", "")  # "" is the legacy ``pubkyauth:///?…`` form
MAX_TOKEN_BYTES = 16 * 1024


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise AuthRequestError(f"not base64url: {text!r}") from exc


def channel_id(client_secret: bytes) -> str:
    """``base64url_nopad(BLAKE3(client_secret))``: the relay channel of one request."""
    return b64url(blake3.blake3(client_secret).digest())


def seal(token: bytes, client_secret: bytes) -> bytes:
    """``nonce(24) ‖ XSalsa20-Poly1305(token)`` under ``client_secret``."""
    return bytes(nacl.secret.SecretBox(client_secret).encrypt(token))


def open_sealed(data: bytes, client_secret: bytes) -> bytes:
    """Open what an authenticator sealed; :class:`AuthRequestError` if it was not for us."""
    if len(data) > MAX_TOKEN_BYTES:
        raise AuthRequestError(f"approval is {len(data)} bytes, more than {MAX_TOKEN_BYTES}")
    try:
        return bytes(nacl.secret.SecretBox(client_secret).decrypt(data))
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise AuthRequestError(
            "the approval could not be opened with this request's secret"
        ) from exc


@dataclass(frozen=True)
class AuthRequest:
    """The parts of a pubkyauth deep link: requested capabilities, relay base, secret."""

    capabilities: str
    relay: str
    client_secret: bytes
    kind: str = "signin"

    def __post_init__(self) -> None:
        if len(self.client_secret) != SECRET_BYTES:
            raise AuthRequestError(f"the client secret must be {SECRET_BYTES} bytes")
        if not self.relay.startswith(("http://", "https://")):
            raise AuthRequestError(f"the relay must be an http(s) URL: {self.relay!r}")
        if self.kind not in KINDS:
            raise AuthRequestError(f"unknown pubkyauth kind {self.kind!r}")

    @classmethod
    def new(cls, capabilities: str = "", relay: str = DEFAULT_RELAY) -> AuthRequest:
        """A fresh request with a random secret (``capabilities`` "" = authentication only)."""
        try:
            caps = str(Capabilities.parse(capabilities))
        except InvalidCapabilities as exc:
            raise AuthRequestError(str(exc)) from exc
        return cls(caps, relay.rstrip("/"), os.urandom(SECRET_BYTES))

    @property
    def channel_id(self) -> str:
        return channel_id(self.client_secret)

    @property
    def channel_url(self) -> str:
        return f"{self.relay.rstrip('/')}/{self.channel_id}"

    def url(self) -> str:
        """The deep link; like the SDK, values are not percent-encoded."""
        path = f"//{self.kind}" if self.kind else "///"
        return (
            f"pubkyauth:{path}?caps={self.capabilities}&relay={self.relay}"
            f"&secret={b64url(self.client_secret)}"
        )

    @classmethod
    def parse(cls, url: str) -> AuthRequest:
        """Read a ``pubkyauth://signin?…`` link (or ``signup``, legacy ``///``, ``pubkyring://``)."""
        if not isinstance(url, str):
            raise AuthRequestError("a pubkyauth URL must be a string")
        parts = urlsplit(url.strip())
        if parts.scheme not in SCHEMES:
            raise AuthRequestError(f"not a pubkyauth URL (scheme {parts.scheme!r}): {url!r}")
        kind = parts.netloc
        if kind not in KINDS:
            raise AuthRequestError(f"unknown pubkyauth kind {kind!r} in {url!r}")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        for name in ("relay", "secret"):
            if not query.get(name):
                raise AuthRequestError(f"the pubkyauth URL has no {name}= parameter")
        secret = unb64url(query["secret"])
        return cls(query.get("caps", ""), query["relay"], secret, kind or "")


def approve(
    keypair: Keypair,
    request: AuthRequest,
    *,
    timeout: float = 60.0,
    session: requests.Session | None = None,
) -> AuthToken:
    """Sign a token for the request's capabilities and hand it over through the relay.

    Blocks until the app takes it (the relay holds a POST until a GET arrives) or ``timeout``
    seconds pass; raises :class:`HttpRelayError` when the relay does not answer ``200``.
    """
    try:
        token = AuthToken.sign(keypair, request.capabilities)
    except InvalidCapabilities as exc:
        raise AuthRequestError(f"the request asks for invalid capabilities: {exc}") from exc
    body = seal(token.to_bytes(), request.client_secret)
    http = session or requests
    url = request.channel_url
    try:
        response = http.post(
            url,
            data=body,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/octet-stream"},
        )
    except requests.RequestException as exc:
        raise HttpRelayError(
            f"the HTTP relay {request.relay} is unreachable: {exc}", url=url
        ) from exc
    if response.status_code == 408:
        raise HttpRelayError(
            "nobody took the approval before the relay timed out (is the app still waiting?)",
            url=url,
            status=408,
        )
    if response.status_code != 200:
        raise HttpRelayError(
            f"the HTTP relay answered {response.status_code}: {response.text[:200]}",
            url=url,
            status=response.status_code,
        )
    return token


def poll(
    request: AuthRequest,
    *,
    timeout: float = 30.0,
    session: requests.Session | None = None,
) -> bytes | None:
    """Wait up to ``timeout`` seconds for an approval; the sealed body, or ``None`` if none came.

    The body is returned still sealed (open it with :func:`open_sealed`), so a caller can tell
    "nothing yet" from "something that is not for us". Raises :class:`HttpRelayError` when the
    relay fails (anything but 200, 404, 408 or our own read timeout).
    """
    http = session or requests
    url = request.channel_url
    try:
        response = http.get(url, timeout=timeout, headers={"User-Agent": USER_AGENT})
    except requests.Timeout:
        return None
    except requests.RequestException as exc:
        raise HttpRelayError(
            f"the HTTP relay {request.relay} is unreachable: {exc}", url=url
        ) from exc
    if response.status_code in (404, 408):
        return None
    if response.status_code != 200:
        raise HttpRelayError(
            f"the HTTP relay answered {response.status_code}: {response.text[:200]}",
            url=url,
            status=response.status_code,
        )
    return response.content
