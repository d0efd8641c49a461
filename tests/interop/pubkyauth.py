"""A minimal pubkyauth app and authenticator, for the interop tests only.

Kept apart from ``pubky.pubkyauth`` on purpose: these few lines are written straight from the
spec, an independent reading that checks the WASM client, our HTTP relay and our module alike:

* ``channel_id = base64url_nopad(BLAKE3(client_secret))``
* deep link ``pubkyauth://signin?caps=<caps>&relay=<relay>&secret=<base64url_nopad(secret)>``
* the authenticator POSTs ``nonce(24) ‖ XSalsa20-Poly1305(token)`` (NaCl secretbox keyed with
  the client secret) to ``<relay>/<channel_id>``; the app long-polls ``GET`` on the same URL.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import blake3
import nacl.secret
import requests

from pubky.auth import AuthToken
from pubky.keys import Keypair


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def channel_id(client_secret: bytes) -> str:
    return b64url(blake3.blake3(client_secret).digest())


def channel_url(relay: str, client_secret: bytes) -> str:
    return relay.rstrip("/") + "/" + channel_id(client_secret)


@dataclass(frozen=True)
class AuthRequest:
    """The parts of a pubkyauth deep link an authenticator needs."""

    capabilities: str
    relay: str
    client_secret: bytes

    @classmethod
    def new(cls, capabilities: str, relay: str) -> AuthRequest:
        return cls(capabilities, relay, os.urandom(32))

    def url(self) -> str:
        # No percent-encoding of the values, like the SDK.
        return (
            f"pubkyauth://signin?caps={self.capabilities}&relay={self.relay}"
            f"&secret={b64url(self.client_secret)}"
        )

    @classmethod
    def parse(cls, url: str) -> AuthRequest:
        parts = urlsplit(url)
        if parts.scheme not in ("pubkyauth", "pubkyring"):
            raise ValueError(f"not a pubkyauth URL: {url!r}")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        return cls(query.get("caps", ""), query["relay"], unb64url(query["secret"]))


def approve(keypair: Keypair, request: AuthRequest, *, timeout: float = 20.0) -> AuthToken:
    """Sign a token for the requested capabilities and hand it to the app through the relay."""
    token = AuthToken.sign(keypair, request.capabilities)
    sealed = bytes(nacl.secret.SecretBox(request.client_secret).encrypt(token.to_bytes()))
    response = requests.post(
        channel_url(request.relay, request.client_secret), data=sealed, timeout=timeout
    )
    assert response.status_code == 200, (response.status_code, response.text)
    return token


def receive(request: AuthRequest, *, timeout: float = 20.0) -> bytes:
    """Long-poll the relay for the sealed token and open it (the app side)."""
    response = requests.get(channel_url(request.relay, request.client_secret), timeout=timeout)
    assert response.status_code == 200, (response.status_code, response.text)
    return nacl.secret.SecretBox(request.client_secret).decrypt(response.content)
