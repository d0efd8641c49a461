"""``PubkyClient``: the one place Django code talks to the Pubky network.

Services never build ``pubky.RelayClient``/``HomeserverClient`` themselves: they ask
:func:`pubky_client` for a facade configured from settings (``PUBKY_RELAYS``,
``PUBKY_HOMESERVER``/``PUBKY_HOMESERVER_URL``, ``PUBKY_SIGNUP_TOKEN``, ``PUBKY_HTTP_TIMEOUT``).
That keeps configuration in one place, lets tests point everything at a local testnet by
overriding settings, and keeps per-user session cookies and resolved endpoints alive between
calls (the facade is cached per configuration, so a settings change yields a new one).

The facade translates the protocol library's exceptions into :class:`PubkyServiceError`
subclasses with a stable ``code`` that API views and commands can show as is; the original
``pubky`` error stays available as ``__cause__``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from pubky.auth import SessionInfo
from pubky.errors import (
    HomeserverError,
    HomeserverNotFound,
    HomeserverUnauthorized,
    PubkyError,
    RelayError,
    ResolutionError,
)
from pubky.homeserver_client import HomeserverClient
from pubky.keys import Keypair, PublicKey
from pubky.packet import SignedPacket
from pubky.relay_client import PublishReport, RelayClient, RelayResult, ResolveReport
from pubky.urls import PubkyUrl

__all__ = [
    "InvalidPubkyKey",
    "PubkyClient",
    "PubkyNetworkError",
    "PubkyServiceError",
    "PublishFailed",
    "SignupResult",
    "parse_public_key",
    "pubky_client",
]


# --- errors ------------------------------------------------------------------------------------


class PubkyServiceError(Exception):
    """Base of the typed errors the Pubky services raise; ``code`` is stable, ``str()`` clear."""

    code = "pubky_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidPubkyKey(PubkyServiceError):
    """Text that is not a Pubky public key (bad z-base-32, or not an Ed25519 curve point)."""

    code = "invalid_public_key"


class PubkyNetworkError(PubkyServiceError):
    """A homeserver or relay could not be reached or refused the request."""

    code = "network_error"


class PublishFailed(PubkyNetworkError):
    """No relay stored the packet; ``results`` says what each relay answered."""

    code = "publish_failed"

    def __init__(self, message: str, *, results: Sequence[RelayResult] = ()) -> None:
        super().__init__(message)
        self.results = list(results)


def parse_public_key(text: str | PublicKey) -> PublicKey:
    """Parse a z32 key (or ``pubky<z32>``/``pk:<z32>``) into a :class:`PublicKey`.

    Raises :class:`InvalidPubkyKey` for text that is not a key, including valid z-base-32
    that does not decompress to an Ed25519 point (``c1bkg8tf…``).
    """
    if isinstance(text, PublicKey):
        return text
    try:
        return PublicKey.parse(str(text).strip())
    except PubkyError as exc:
        raise InvalidPubkyKey(f"{text!r} is not a Pubky public key: {exc}") from exc


def describe_results(results: Sequence[RelayResult]) -> str:
    """``relay: error`` for every failed relay, for error messages."""
    failed = [f"{r.relay_url}: {r.error or f'HTTP {r.status}'}" for r in results if not r.ok]
    return "; ".join(failed) if failed else "no relays configured"


# --- the facade --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignupResult:
    """What a signup produced: the session, the homeserver used, and the ``_pubky`` publish."""

    session: SessionInfo
    homeserver: PublicKey
    homeserver_url: str
    report: PublishReport


class PubkyClient:
    """A Django-aware facade over :mod:`pubky`: relays, homeserver and Pubky URLs.

    Build one with :func:`pubky_client` (from settings) or directly with explicit values.
    """

    def __init__(
        self,
        *,
        relays: Sequence[str],
        homeserver: str,
        homeserver_url: str | None = None,
        signup_token: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.relays = RelayClient(list(relays), timeout=timeout)
        self.homeserver = parse_public_key(homeserver)
        self.homeserver_base_url = (homeserver_url or "").rstrip("/") or None
        self.signup_token = signup_token
        overrides = (
            {self.homeserver.z32(): self.homeserver_base_url} if self.homeserver_base_url else {}
        )
        self.homeservers = HomeserverClient(
            self.relays, timeout=max(timeout, 1.0) * 2, homeserver_urls=overrides
        )

    def __repr__(self) -> str:
        return f"PubkyClient(relays={list(self.relays.relays)!r}, homeserver={self.homeserver})"

    @property
    def relay_urls(self) -> list[str]:
        return list(self.relays.relays)

    # --- keys and URLs ---

    def generate_keypair(self) -> Keypair:
        """A fresh Ed25519 keypair from the OS CSPRNG (seal its ``secret`` before storing)."""
        return Keypair.random()

    def create_pubky_url(self, public_key: PublicKey | str, path: str = "/") -> str:
        """``pubky://<z32><path>`` for a key; raises :class:`InvalidPubkyKey` for bad keys."""
        return str(PubkyUrl(parse_public_key(public_key), path or "/"))

    # --- homeserver ---

    def homeserver_url_of(self, homeserver: PublicKey | str | None = None) -> str:
        """The HTTP base URL of a homeserver (configured override, else resolved via PKARR)."""
        key = parse_public_key(homeserver) if homeserver is not None else self.homeserver
        try:
            return self.homeservers.homeserver_url(key)
        except PubkyError as exc:
            raise PubkyNetworkError(f"cannot find homeserver {key}: {exc}") from exc

    def signup(
        self,
        keypair: Keypair,
        *,
        homeserver: PublicKey | str | None = None,
        signup_token: str | None = None,
    ) -> SignupResult:
        """Create an account for ``keypair`` and publish its ``_pubky`` record to the relays.

        Raises :class:`PubkyNetworkError` when the homeserver refuses or is unreachable, and
        :class:`PublishFailed` when no relay stored the ``_pubky`` record.
        """
        hs = parse_public_key(homeserver) if homeserver is not None else self.homeserver
        token = signup_token if signup_token is not None else self.signup_token
        base_url = self.homeserver_url_of(hs)
        try:
            session = self.homeservers.signup(keypair, hs, signup_token=token, publish=False)
        except HomeserverError as exc:
            raise PubkyNetworkError(
                f"homeserver {hs} refused the signup of {keypair.public_key}: {exc}",
                code="signup_failed",
            ) from exc
        except PubkyError as exc:
            raise PubkyNetworkError(f"signup at homeserver {hs} failed: {exc}") from exc
        try:
            report = self.homeservers.publish_homeserver(keypair, hs, force=True)
        except RelayError as exc:
            raise PublishFailed(
                f"no relay stored the _pubky record of {keypair.public_key}: {exc}"
            ) from exc
        except ResolutionError as exc:
            raise PubkyNetworkError(f"cannot publish the _pubky record: {exc}") from exc
        assert report is not None  # force=True always publishes
        return SignupResult(session=session, homeserver=hs, homeserver_url=base_url, report=report)

    def account_ensure(
        self, keypair: Keypair, *, homeserver: PublicKey | str | None = None
    ) -> PublicKey:
        """Give ``keypair`` an account on ``homeserver`` (default: the configured one), without
        publishing anything: the caller puts the ``_pubky`` record in the packet it signs.

        An account that already exists is fine (it signs in instead). Raises
        :class:`PubkyNetworkError` when the homeserver refuses or cannot be reached.
        """
        hs = parse_public_key(homeserver) if homeserver is not None else self.homeserver
        try:
            self.homeservers.signup(keypair, hs, signup_token=self.signup_token, publish=False)
        except HomeserverError as exc:
            if exc.status != 409:
                raise PubkyNetworkError(
                    f"homeserver {hs} refused an account for {keypair.public_key}: {exc}",
                    code="signup_failed",
                ) from exc
        except PubkyError as exc:
            raise PubkyNetworkError(f"signup at homeserver {hs} failed: {exc}") from exc
        return hs

    def signin(self, keypair: Keypair) -> SessionInfo:
        """Open a session for an existing user (its homeserver comes from its ``_pubky``)."""
        try:
            return self.homeservers.signin(keypair)
        except PubkyError as exc:
            raise PubkyNetworkError(f"signin of {keypair.public_key} failed: {exc}") from exc

    def put_data(
        self,
        keypair: Keypair,
        path: str,
        data: bytes | str,
        *,
        content_type: str | None = None,
    ) -> str:
        """Write ``data`` at ``path`` (under ``/pub/``) of the keypair's storage; returns the URL.

        Signs in first when this process holds no session for the user, and once more when
        the homeserver no longer knows the session (401).
        """
        url = PubkyUrl(keypair.public_key, path)
        try:
            if self.homeservers.session_cookie(keypair) is None:
                self.homeservers.signin(keypair, republish_if_stale=False)
            try:
                self.homeservers.put(url, data, content_type=content_type)
            except HomeserverUnauthorized:
                # The session expired or the homeserver restarted: sign in again, once.
                self.homeservers.signin(keypair, republish_if_stale=False)
                self.homeservers.put(url, data, content_type=content_type)
        except PubkyError as exc:
            raise PubkyNetworkError(f"cannot write {url}: {exc}") from exc
        return str(url)

    def get_data(self, url: str) -> bytes | None:
        """Read a ``pubky://`` URL; ``None`` when the file does not exist."""
        try:
            parsed = PubkyUrl.parse(url)
        except PubkyError as exc:
            raise InvalidPubkyKey(f"{url!r} is not a Pubky URL: {exc}") from exc
        try:
            return self.homeservers.get(parsed).content
        except HomeserverNotFound:
            return None
        except PubkyError as exc:
            raise PubkyNetworkError(f"cannot read {url}: {exc}") from exc

    # --- relays ---

    def _relays_for(self, relay_urls: Sequence[str] | None) -> RelayClient:
        if relay_urls is None:
            return self.relays
        return RelayClient(list(relay_urls), timeout=self.relays.timeout)

    def publish(
        self,
        packet: SignedPacket,
        *,
        cas: int | None = None,
        relay_urls: Sequence[str] | None = None,
    ) -> PublishReport:
        """PUT a signed packet to every configured relay (or ``relay_urls``) concurrently.

        ``cas`` is sent as ``If-Match``. Never raises for relay failures: the report holds
        one :class:`RelayResult` per relay.
        """
        return self._relays_for(relay_urls).publish(packet, cas=cas)

    def resolve(self, public_key: PublicKey | str) -> SignedPacket | None:
        """The most recent valid packet any relay holds for the key (``None`` if none)."""
        return self.resolve_report(public_key).packet

    def resolve_report(
        self, public_key: PublicKey | str, *, relay_urls: Sequence[str] | None = None
    ) -> ResolveReport:
        """Like :meth:`resolve`, with each relay's answer (each verified independently)."""
        return self._relays_for(relay_urls).resolve_report(parse_public_key(public_key))

    def check_relays(self, relay_urls: Sequence[str] | None = None) -> list[RelayResult]:
        """Probe relays concurrently (the configured ones unless ``relay_urls`` is given)."""
        if relay_urls is None:
            return self.relays.check_all()
        return RelayClient(list(relay_urls), timeout=self.relays.timeout).check_all()


_cache_lock = threading.Lock()
_cache: dict[tuple[object, ...], PubkyClient] = {}


def pubky_client() -> PubkyClient:
    """The :class:`PubkyClient` for the current settings (one instance per configuration)."""
    key = (
        tuple(settings.PUBKY_RELAYS),
        settings.PUBKY_HOMESERVER,
        settings.PUBKY_HOMESERVER_URL,
        settings.PUBKY_SIGNUP_TOKEN,
        float(settings.PUBKY_HTTP_TIMEOUT),
    )
    with _cache_lock:
        client = _cache.get(key)
        if client is None:
            if len(_cache) > 16:  # tests change settings often; don't grow without bound
                _cache.clear()
            client = _cache[key] = PubkyClient(
                relays=list(settings.PUBKY_RELAYS),
                homeserver=settings.PUBKY_HOMESERVER,
                homeserver_url=settings.PUBKY_HOMESERVER_URL or None,
                signup_token=settings.PUBKY_SIGNUP_TOKEN,
                timeout=float(settings.PUBKY_HTTP_TIMEOUT),
            )
        return client
