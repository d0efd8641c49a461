"""Client for the Pubky homeserver HTTP API as of ``pubky-core v0.6.0``.

See ``docs/pubky.md``, "Homeserver API (pubky-core v0.6.0)".

What ``@synonymdev/pubky@0.6.0`` does, in Python:

* **Auth** — ``signup``/``signin`` POST a freshly signed AuthToken; the homeserver answers with
  a postcard ``SessionInfo`` and sets a cookie named after the *user's* z32 key. Each user gets
  a cookie jar of its own, so one client can hold sessions for many users of one homeserver
  without ever sending user A's cookie on user B's request.
* **Routing** — every request goes to the homeserver's ICANN endpoint found through PKARR
  (``_pubky.<user>`` → homeserver key → ``HTTPS 10 <domain>``, see :mod:`pubky.urls`) with the
  header ``pubky-host: <user z32>`` naming the tenant.
* **PKDNS** — after signup the user's ``_pubky`` record (``HTTPS 0 <homeserver>.``) is published
  to the relays, preserving the packet's other records and using compare-and-swap; signin
  republishes it when older than an hour.
* **Storage & feeds** — PUT/GET/HEAD/DELETE under ``/pub/``, directory listings, the ``/events/``
  text feed and the ``/events-stream`` server-sent events.

Errors: HTTP failures raise :class:`~pubky.errors.HomeserverError` subclasses (status + the
server's text), transport failures ``HomeserverError(status=None)``, missing PKARR data
:class:`~pubky.errors.ResolutionError`, relay failures the typed relay errors.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

import requests
import urllib3.exceptions

from pubky.auth import AuthToken, Capabilities, SessionInfo
from pubky.errors import (
    CasConflict,
    HomeserverBadRequest,
    HomeserverConflict,
    HomeserverError,
    HomeserverForbidden,
    HomeserverNotFound,
    HomeserverUnauthorized,
    NotMostRecent,
    PubkyError,
    RelayError,
    ResolutionError,
)
from pubky.http import thread_session
from pubky.keys import Keypair, PublicKey
from pubky.packet import Record, SignedPacket, now_us
from pubky.relay_client import PublishReport, RelayClient
from pubky.urls import PubkyUrl, resolve_base_url

__all__ = [
    "DEFAULT_STALE_AFTER",
    "Event",
    "EventStream",
    "EventsPage",
    "GetResult",
    "HomeserverClient",
    "homeserver_of_packet",
]

log = logging.getLogger(__name__)

DEFAULT_STALE_AFTER = 3600.0  # seconds; the SDK's DEFAULT_STALE_AFTER
PUBKY_RECORD_TTL = 3600
_ROOT_CAPABILITIES = "/:rw"

_STATUS_ERRORS: dict[int, type[HomeserverError]] = {
    400: HomeserverBadRequest,
    401: HomeserverUnauthorized,
    403: HomeserverForbidden,
    404: HomeserverNotFound,
    409: HomeserverConflict,
}

UserLike = PublicKey | str | Keypair


@dataclass(frozen=True)
class GetResult:
    """A file read (``GET``/``HEAD``). ``status`` is 200, or 304 for a conditional hit."""

    status: int
    content: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    content_length: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def text(self, encoding: str = "utf-8") -> str:
        return self.content.decode(encoding)


@dataclass(frozen=True)
class Event:
    """One change: ``kind`` is ``"PUT"`` or ``"DEL"``, ``url`` a ``pubky://`` URL.

    ``cursor`` is the event id where known (every SSE event; in the text feed only the last
    event of a page), ``content_hash`` the base64 BLAKE3 of a PUT's content (SSE only).
    """

    kind: str
    url: str
    cursor: str | None = None
    content_hash: str | None = None

    @property
    def pubky_url(self) -> PubkyUrl:
        return PubkyUrl.parse(self.url)


@dataclass(frozen=True)
class EventsPage:
    """One page of ``/events/``; poll again with ``cursor`` (``None`` = no new events)."""

    events: list[Event]
    cursor: str | None


def homeserver_of_packet(packet: SignedPacket) -> PublicKey | None:
    """The homeserver key in a user's packet (``_pubky`` HTTPS or SVCB target), if any."""
    for record in packet.resource_records("_pubky"):
        if record.rtype not in ("HTTPS", "SVCB"):
            continue
        parts = record.value.split()
        if len(parts) < 2:
            continue
        try:
            return PublicKey.parse(parts[1].rstrip("."))
        except PubkyError:
            continue
    return None


class _Jar:
    """Cookies of one user: name → value (the session cookie's name is the user's z32)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def absorb(self, response: requests.Response) -> None:
        for header in _set_cookie_headers(response):
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(header)
            except CookieError:
                continue
            for name, morsel in jar.items():
                if morsel.value == "" or morsel["max-age"] in ("0", "-1"):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def header(self) -> str | None:
        if not self.cookies:
            return None
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


def _set_cookie_headers(response: requests.Response) -> list[str]:
    raw_headers = getattr(response.raw, "headers", None)
    getlist = getattr(raw_headers, "getlist", None)
    if callable(getlist):
        return [str(h) for h in getlist("Set-Cookie")]
    value = response.headers.get("Set-Cookie")
    return [value] if value else []


@dataclass
class _Target:
    base_url: str
    pubky_host: str


class EventStream:
    """Iterator over ``/events-stream`` server-sent events; close it (or use ``with``).

    Keep-alive comments are skipped. Iteration ends when the server closes the stream
    (batch mode, or ``limit`` reached).
    """

    def __init__(self, response: requests.Response) -> None:
        self._response = response
        self._closed = False

    def __iter__(self) -> Iterator[Event]:
        kind: str | None = None
        data: list[str] = []
        for line in self._lines():
            if line == "":
                if kind is not None or data:
                    event = _sse_event(kind, data)
                    if event is not None:
                        yield event
                kind, data = None, []
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)

    def _lines(self) -> Iterator[str]:
        buffer = b""
        raw = self._response.raw
        try:
            while not self._closed:
                chunk = raw.read1(65536)
                if not chunk:
                    break
                buffer += chunk
                while True:
                    idx = buffer.find(b"\n")
                    if idx < 0:
                        break
                    line, buffer = buffer[:idx], buffer[idx + 1 :]
                    yield line.rstrip(b"\r").decode("utf-8", "replace")
        except (OSError, urllib3.exceptions.HTTPError, requests.RequestException) as exc:
            if not self._closed:
                raise HomeserverError(f"event stream interrupted: {exc}") from exc
        if buffer:
            yield buffer.decode("utf-8", "replace")
        yield ""

    def close(self) -> None:
        self._closed = True
        self._response.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _sse_event(kind: str | None, data: list[str]) -> Event | None:
    if kind not in ("PUT", "DEL") or not data:
        return None
    cursor = content_hash = None
    for line in data[1:]:
        if line.startswith("cursor: "):
            cursor = line[len("cursor: ") :]
        elif line.startswith("content_hash: "):
            content_hash = line[len("content_hash: ") :]
    return Event(kind, data[0], cursor, content_hash)


class HomeserverClient:
    """Talk to Pubky homeservers on behalf of any number of users.

    ``relays`` — relay URLs (or a ready :class:`RelayClient`) used for PKARR resolution and
    publishing. ``testnet_host`` — a domain that, like ``localhost``, is reached over plain
    HTTP on the port from ``key65280``. ``homeserver_urls`` — optional ``{homeserver z32: base
    URL}`` overrides that skip the homeserver's own PKARR lookup (the user's ``_pubky`` record
    is still resolved). Resolved endpoints are cached for ``endpoint_cache_ttl`` seconds.
    """

    def __init__(
        self,
        relays: Sequence[str] | RelayClient,
        *,
        timeout: float = 10.0,
        testnet_host: str | None = "localhost",
        homeserver_urls: Mapping[str, str] | None = None,
        endpoint_cache_ttl: float = 60.0,
    ) -> None:
        self.relays = relays if isinstance(relays, RelayClient) else RelayClient(relays)
        self.timeout = timeout
        self.testnet_host = testnet_host
        self.homeserver_urls = {
            PublicKey.parse(k).z32(): v.rstrip("/") for k, v in (homeserver_urls or {}).items()
        }
        self.endpoint_cache_ttl = endpoint_cache_ttl
        self._lock = threading.Lock()
        self._jars: dict[str, _Jar] = {}
        self._endpoints: dict[str, tuple[str, float]] = {}

    # --- cookies ---------------------------------------------------------------------------

    def _jar(self, user: str) -> _Jar:
        with self._lock:
            jar = self._jars.get(user)
            if jar is None:
                jar = self._jars[user] = _Jar()
            return jar

    def session_cookie(self, user: UserLike) -> str | None:
        """The session secret held for ``user`` (to persist a session elsewhere)."""
        z32 = _z32(user)
        return self._jar(z32).cookies.get(z32)

    def set_session_cookie(self, user: UserLike, secret: str | None) -> None:
        """Install (or with ``None`` forget) a session secret for ``user``."""
        z32 = _z32(user)
        jar = self._jar(z32)
        with self._lock:
            if secret is None:
                jar.cookies.pop(z32, None)
            else:
                jar.cookies[z32] = secret

    # --- endpoint resolution --------------------------------------------------------------

    def _cached(self, key: str) -> str | None:
        with self._lock:
            hit = self._endpoints.get(key)
            if hit is not None and hit[1] > time.monotonic():
                return hit[0]
        return None

    def _remember(self, key: str, base_url: str) -> None:
        with self._lock:
            self._endpoints[key] = (base_url, time.monotonic() + self.endpoint_cache_ttl)

    def forget_endpoints(self) -> None:
        """Drop cached endpoints (e.g. after a user moved to another homeserver)."""
        with self._lock:
            self._endpoints.clear()

    def homeserver_url(self, homeserver: PublicKey | str) -> str:
        """Base URL of a homeserver's ICANN endpoint (``http://localhost:6286`` on a testnet)."""
        hs = _key(homeserver).z32()
        override = self.homeserver_urls.get(hs)
        if override is not None:
            return override
        cached = self._cached("hs:" + hs)
        if cached is not None:
            return cached
        base, _ = resolve_base_url(self.relays, hs, testnet_host=self.testnet_host)
        self._remember("hs:" + hs, base)
        return base

    def homeserver_of(self, user: UserLike) -> PublicKey | None:
        """The homeserver a user's ``_pubky`` record points to, or ``None``."""
        packet = self.relays.resolve(_key(user))
        return homeserver_of_packet(packet) if packet is not None else None

    def _user_target(self, user: str) -> _Target:
        cached = self._cached("user:" + user)
        if cached is not None:
            return _Target(cached, user)
        if self.homeserver_urls:
            hs = self.homeserver_of(user)
            if hs is not None and hs.z32() in self.homeserver_urls:
                base = self.homeserver_urls[hs.z32()]
                self._remember("user:" + user, base)
                return _Target(base, user)
        base, _ = resolve_base_url(self.relays, f"_pubky.{user}", testnet_host=self.testnet_host)
        self._remember("user:" + user, base)
        return _Target(base, user)

    # --- HTTP plumbing ----------------------------------------------------------------------

    def _send(
        self,
        method: str,
        target: _Target,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        cookie_user: str | None = None,
        stream: bool = False,
        read_timeout: float | None = -1.0,
    ) -> requests.Response:
        url = target.base_url + quote(path, safe="/:@!$&'()*+,;=~")
        if params:
            url += "?" + urlencode(params)
        all_headers = {"pubky-host": target.pubky_host}
        if headers:
            all_headers.update(headers)
        jar = self._jar(cookie_user) if cookie_user is not None else None
        if jar is not None:
            cookie = jar.header()
            if cookie:
                all_headers["Cookie"] = cookie
        timeout = (self.timeout, self.timeout if read_timeout == -1.0 else read_timeout)
        try:
            response = thread_session().request(
                method, url, data=data, headers=all_headers, timeout=timeout, stream=stream
            )
        except requests.RequestException as exc:
            raise HomeserverError(f"{method} {url} failed: {exc}", status=None) from exc
        if jar is not None:
            with self._lock:
                jar.absorb(response)
        return response

    @staticmethod
    def _raise_for(response: requests.Response, *ok: int) -> None:
        if response.status_code in ok:
            return
        try:
            message = response.text.strip()[:500]
        except (requests.RequestException, UnicodeDecodeError):
            message = ""
        response.close()
        status = response.status_code
        cls = _STATUS_ERRORS.get(status, HomeserverError)
        raise cls(message or f"HTTP {status}", status=status)

    # --- auth -------------------------------------------------------------------------------

    def signup(
        self,
        keypair: Keypair,
        homeserver: PublicKey | str,
        *,
        signup_token: str | None = None,
        capabilities: str = _ROOT_CAPABILITIES,
        publish: bool = True,
    ) -> SessionInfo:
        """Create an account for ``keypair`` on ``homeserver`` and keep its session cookie.

        Then (``publish=True``) publish the user's ``_pubky`` record. If that publish fails,
        the account and session exist anyway: the typed relay error is raised and
        :meth:`publish_homeserver` (or :meth:`signin`) can be retried.
        """
        hs = _key(homeserver)
        base = self.homeserver_url(hs)
        token = AuthToken.sign(keypair, Capabilities.parse(capabilities))
        params = [("signup_token", signup_token)] if signup_token is not None else None
        user = keypair.public_key.z32()
        response = self._send(
            "POST",
            _Target(base, hs.z32()),
            "/signup",
            params=params,
            data=token.to_bytes(),
            cookie_user=user,
        )
        self._raise_for(response, 200)
        session = SessionInfo.from_bytes(response.content)
        self._remember("user:" + user, base)
        if publish:
            self.publish_homeserver(keypair, hs, force=True)
        return session

    def signin(
        self,
        keypair: Keypair,
        *,
        capabilities: str = _ROOT_CAPABILITIES,
        homeserver: PublicKey | str | None = None,
        republish_if_stale: bool = True,
    ) -> SessionInfo:
        """Open a new session for an existing user (``POST /session``).

        The user's homeserver comes from its ``_pubky`` record unless ``homeserver`` is given.
        A ``_pubky`` record older than an hour is then republished; a failure to do so is
        logged, not raised (the SDK does the same in the background).
        """
        user = keypair.public_key.z32()
        if homeserver is not None:
            target = _Target(self.homeserver_url(homeserver), user)
            self._remember("user:" + user, target.base_url)
        else:
            target = self._user_target(user)
        token = AuthToken.sign(keypair, Capabilities.parse(capabilities))
        response = self._send("POST", target, "/session", data=token.to_bytes(), cookie_user=user)
        self._raise_for(response, 200)
        session = SessionInfo.from_bytes(response.content)
        if republish_if_stale:
            try:
                self.publish_homeserver(keypair, homeserver, force=False)
            except (RelayError, ResolutionError) as exc:
                log.warning("could not republish _pubky record of %s: %s", user, exc)
        return session

    def session(self, user: UserLike) -> SessionInfo | None:
        """The current session of ``user`` (``GET /session``), or ``None`` if there is none."""
        z32 = _z32(user)
        response = self._send("GET", self._user_target(z32), "/session", cookie_user=z32)
        if response.status_code == 404:
            response.close()
            return None
        self._raise_for(response, 200)
        return SessionInfo.from_bytes(response.content)

    def signout(self, user: UserLike) -> None:
        """End the session (``DELETE /session``) and forget the cookie, even on errors."""
        z32 = _z32(user)
        try:
            response = self._send("DELETE", self._user_target(z32), "/session", cookie_user=z32)
            self._raise_for(response, 200, 204)
        finally:
            self.set_session_cookie(z32, None)

    # --- PKDNS ------------------------------------------------------------------------------

    def publish_homeserver(
        self,
        keypair: Keypair,
        homeserver: PublicKey | str | None = None,
        *,
        force: bool = True,
        stale_after: float = DEFAULT_STALE_AFTER,
    ) -> PublishReport | None:
        """Publish ``_pubky.<user> HTTPS 0 <homeserver>.``, keeping the packet's other records.

        ``homeserver`` defaults to the one in the current record. With ``force=False`` nothing
        is published while the current record is younger than ``stale_after`` seconds.
        Compare-and-swap uses the timestamp of the packet just resolved; on a CAS conflict
        the packet is re-resolved and the publish retried (3 attempts, like the SDK).
        Returns the report, or ``None`` when nothing needed publishing.
        """
        last_error: RelayError | None = None
        for _ in range(3):
            existing = self.relays.resolve(keypair.public_key)
            host = _key(homeserver) if homeserver is not None else None
            if host is None and existing is not None:
                host = homeserver_of_packet(existing)
            if host is None:
                return None
            if not force and existing is not None:
                age = (now_us() - existing.timestamp) / 1_000_000
                if age <= stale_after and homeserver_of_packet(existing) == host:
                    return None
            packet = build_pubky_packet(keypair, host, existing)
            report = self.relays.publish(
                packet, cas=existing.timestamp if existing is not None else None
            )
            if report.ok:
                self._remember("user:" + keypair.public_key.z32(), self.homeserver_url(host))
                return report
            try:
                report.raise_for_failure()
            except (CasConflict, NotMostRecent) as exc:
                last_error = exc
                continue
        assert last_error is not None
        raise last_error

    # --- storage ----------------------------------------------------------------------------

    def _resource(self, url: PubkyUrl | str) -> tuple[PubkyUrl, _Target]:
        parsed = url if isinstance(url, PubkyUrl) else PubkyUrl.parse(url)
        return parsed, self._user_target(parsed.public_key.z32())

    def put(
        self, url: PubkyUrl | str, data: bytes | str, *, content_type: str | None = None
    ) -> None:
        """Write a file (``PUT``, needs a session with a ``w`` capability covering the path)."""
        parsed, target = self._resource(url)
        body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        headers = {"Content-Type": content_type} if content_type else None
        response = self._send(
            "PUT",
            target,
            parsed.path,
            data=body,
            headers=headers,
            cookie_user=parsed.public_key.z32(),
        )
        self._raise_for(response, 200, 201, 204)
        response.close()

    def get(
        self,
        url: PubkyUrl | str,
        *,
        if_none_match: str | None = None,
        if_modified_since: str | None = None,
    ) -> GetResult:
        """Read a file; with a validator the result may be a 304 without content.

        Raises :class:`HomeserverNotFound` for a missing file.
        """
        parsed, target = self._resource(url)
        headers: dict[str, str] = {}
        if if_none_match is not None:
            headers["If-None-Match"] = if_none_match
        if if_modified_since is not None:
            headers["If-Modified-Since"] = if_modified_since
        response = self._send(
            "GET", target, parsed.path, headers=headers, cookie_user=parsed.public_key.z32()
        )
        self._raise_for(response, 200, 304)
        return _result(response, response.content if response.status_code == 200 else b"")

    def head(self, url: PubkyUrl | str) -> GetResult:
        """File metadata without content (``HEAD``); raises :class:`HomeserverNotFound`."""
        parsed, target = self._resource(url)
        response = self._send("HEAD", target, parsed.path, cookie_user=parsed.public_key.z32())
        self._raise_for(response, 200)
        return _result(response, b"")

    def exists(self, url: PubkyUrl | str) -> bool:
        try:
            self.head(url)
        except HomeserverNotFound:
            return False
        return True

    def delete(self, url: PubkyUrl | str) -> None:
        """Delete a file (needs a session with write access); 404 if it does not exist."""
        parsed, target = self._resource(url)
        response = self._send("DELETE", target, parsed.path, cookie_user=parsed.public_key.z32())
        self._raise_for(response, 200, 204)
        response.close()

    def list(
        self,
        url: PubkyUrl | str,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        reverse: bool = False,
        shallow: bool = False,
    ) -> list[str]:
        """List a directory (URL ending in ``/``): ``pubky://`` URLs in byte order.

        ``cursor`` is exclusive — pass the last URL of the previous page. ``shallow`` lists
        direct children only (sub-directories once, with a trailing ``/``).
        """
        parsed, target = self._resource(url)
        if not parsed.is_directory:
            raise ValueError("a directory URL must end with '/'")
        params: list[tuple[str, str]] = []
        if cursor is not None:
            params.append(("cursor", cursor))
        if limit is not None:
            params.append(("limit", str(limit)))
        if reverse:
            params.append(("reverse", "true"))
        if shallow:
            params.append(("shallow", "true"))
        response = self._send(
            "GET", target, parsed.path, params=params, cookie_user=parsed.public_key.z32()
        )
        self._raise_for(response, 200)
        text = response.text
        return [line for line in text.split("\n") if line]

    # --- events -----------------------------------------------------------------------------

    def events(
        self,
        homeserver: PublicKey | str,
        cursor: str | int | None = None,
        limit: int | None = None,
    ) -> EventsPage:
        """One page of the homeserver-wide change feed (``GET /events/``)."""
        hs = _key(homeserver)
        params: list[tuple[str, str]] = []
        if cursor is not None:
            params.append(("cursor", str(cursor)))
        if limit is not None:
            params.append(("limit", str(limit)))
        response = self._send(
            "GET", _Target(self.homeserver_url(hs), hs.z32()), "/events/", params=params
        )
        self._raise_for(response, 200)
        events: list[Event] = []
        next_cursor: str | None = None
        for line in response.text.split("\n"):
            if line.startswith("cursor: "):
                next_cursor = line[len("cursor: ") :].strip()
            elif line.startswith(("PUT ", "DEL ")):
                events.append(Event(line[:3], line[4:].strip()))
        if events and next_cursor is not None:
            last = events[-1]
            events[-1] = Event(last.kind, last.url, next_cursor)
        return EventsPage(events, next_cursor)

    def events_stream(
        self,
        homeserver: PublicKey | str,
        users: Sequence[UserLike | tuple[UserLike, str | int | None]],
        *,
        live: bool = False,
        limit: int | None = None,
        reverse: bool = False,
        path: str | None = None,
        read_timeout: float | None = None,
    ) -> EventStream:
        """Open ``/events-stream`` for up to 50 users (each optionally with a cursor).

        Batch mode (``live=False``) ends once history is replayed; live mode keeps streaming
        new events. ``read_timeout`` bounds the wait for the next bytes (``None`` = forever;
        the server sends keep-alive comments every ~15 s).
        """
        hs = _key(homeserver)
        params: list[tuple[str, str]] = []
        for item in users:
            if isinstance(item, tuple):
                who, user_cursor = item
                value = _z32(who) + (f":{user_cursor}" if user_cursor is not None else "")
            else:
                value = _z32(item)
            params.append(("user", value))
        if live:
            params.append(("live", "true"))
        if reverse:
            params.append(("reverse", "true"))
        if limit is not None:
            params.append(("limit", str(limit)))
        if path is not None:
            params.append(("path", path))
        response = self._send(
            "GET",
            _Target(self.homeserver_url(hs), hs.z32()),
            "/events-stream",
            params=params,
            headers={"Accept": "text/event-stream"},
            stream=True,
            read_timeout=read_timeout,
        )
        self._raise_for(response, 200)
        return EventStream(response)


def build_pubky_packet(
    keypair: Keypair, homeserver: PublicKey, existing: SignedPacket | None
) -> SignedPacket:
    """The user's packet with ``_pubky`` pointing at ``homeserver``; other records kept."""
    records = [r for r in existing.records() if not r.name.startswith("_pubky")] if existing else []
    records.append(Record("_pubky", "HTTPS", f"0 {homeserver.z32()}.", PUBKY_RECORD_TTL))
    timestamp = now_us()
    if existing is not None and timestamp <= existing.timestamp:
        timestamp = existing.timestamp + 1
    return SignedPacket.sign(keypair, records, timestamp=timestamp)


def _result(response: requests.Response, content: bytes) -> GetResult:
    headers = dict(response.headers)
    length = response.headers.get("Content-Length")
    response.close()
    return GetResult(
        status=response.status_code,
        content=content,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        content_type=response.headers.get("Content-Type"),
        content_length=int(length) if length and length.isdigit() else None,
        headers=headers,
    )


def _key(value: Any) -> PublicKey:
    if isinstance(value, PublicKey):
        return value
    if isinstance(value, Keypair):
        return value.public_key
    if isinstance(value, str):
        return PublicKey.parse(value)
    raise TypeError(f"expected a public key, got {type(value).__name__}")


def _z32(value: Any) -> str:
    return _key(value).z32()
