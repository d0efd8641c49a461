"""A Pubky homeserver speaking the ``pubky-core v0.6.0`` HTTP API.

Built for tests and local development, but faithful on the wire to the upstream homeserver of
``pubky-core v0.6.0`` (``docs/pubky.md``, "Homeserver API"): its routes, status codes and text
bodies, tenant selection by ``Host``/``pubky-host``/``?pubky-host=``, cookie sessions named
after the user's key, ETag/Last-Modified/304, listings with cursor/limit/reverse/shallow, the
``/events/`` feed and the ``/events-stream`` SSE endpoint with live mode. Writes require a
session whose capabilities cover the path (the plain prefix rule of v0.6.0; ``docs/pubky.md``,
"AuthToken, capabilities and sessions"); AuthTokens are checked with replay protection and a
±45 s window.

The admin API (``/generate_signup_token`` etc., ``X-Admin-Password``) is a separate
application so it can listen on its own port, as upstream.

Deliberate deviations from v0.6.0: ``PUT``/``DELETE`` of a directory path
(``…/``) answer ``400``; ``/events-stream?limit=0`` answers ``400`` (as newer servers do);
``GET /session`` reports ``created_at`` in µs (v0.6.0 sends seconds there by accident).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import mimetypes
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import blake3
from aiohttp import web

from pubky.auth import AuthVerifier, Capabilities, SessionInfo
from pubky.errors import PubkyError
from pubky.http import format_http_date, parse_http_date
from pubky.keys import Keypair, PublicKey
from pubky.testnet.relay import cors_middleware
from pubky.testnet.storage import EntryRow, EventRow, HomeserverStore

__all__ = [
    "DEFAULT_ADMIN_PASSWORD",
    "Homeserver",
    "crockford_decode",
    "crockford_encode",
    "normalize_webdav_path",
]

DEFAULT_ADMIN_PASSWORD = "admin"  # noqa: S105  (upstream's documented default)
MAX_BODY_BYTES = 100 * 1024 * 1024
DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000
MAX_STREAM_USERS = 50
STREAM_BATCH = 100
COOKIE_MAX_AGE = 365 * 24 * 3600
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"\x00asm", "application/wasm"),
    (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"fLaC", "audio/x-flac"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (0, b"BM", "image/bmp"),
    (4, b"ftyp", "video/mp4"),
)
_MIME = mimetypes.MimeTypes(filenames=())


# --- small pure helpers ------------------------------------------------------------------------


def crockford_encode(data: bytes) -> str:
    """Crockford base32 (upper case, no padding), as the Rust ``base32`` crate encodes."""
    bits = int.from_bytes(data, "big")
    nbits = len(data) * 8
    pad = (-nbits) % 5
    bits <<= pad
    chars = (nbits + pad) // 5
    return "".join(CROCKFORD[(bits >> (5 * (chars - 1 - i))) & 31] for i in range(chars))


def crockford_decode(text: str) -> bytes | None:
    """Inverse of :func:`crockford_encode` (case-insensitive); ``None`` when invalid."""
    value = 0
    for char in text.upper():
        idx = CROCKFORD.find(char)
        if idx < 0:
            return None
        value = (value << 5) | idx
    nbits = len(text) * 5
    nbytes = nbits // 8
    return (value >> (nbits - nbytes * 8)).to_bytes(nbytes, "big")


def normalize_webdav_path(path: str) -> str:
    """``WebDavPath::new``: must start with ``/``; ``.``/``..``/``//`` normalised; segments
    ≤ 255 bytes, total ≤ 4096, no control characters; trailing ``/`` = directory.

    Raises ``ValueError`` with the upstream message.
    """
    if not path.startswith("/"):
        raise ValueError("Path must start with '/'")
    is_dir = path.endswith(("/", ".."))
    segments: list[str] = []
    for segment in (s for s in path.split("/") if s):
        if len(segment.encode("utf-8", "surrogatepass")) > 255:
            raise ValueError("Invalid path: Segment exceeds maximum length of 255 characters")
        if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in segment):
            raise ValueError("Invalid path: ASCII control characters are not allowed in segments")
        if segment == ".":
            continue
        if segment == "..":
            if not segments:
                raise ValueError("Failed to normalize path: '..'.")
            segments.pop()
            continue
        segments.append(segment)
    full = "".join("/" + s for s in segments) + ("/" if is_dir else "")
    if len(full.encode("utf-8", "surrogatepass")) > 4096:
        raise ValueError("Invalid path: Total path length exceeds maximum of 4096 characters")
    return full or "/"


def sniff_content_type(path: str, content: bytes) -> str:
    """Magic bytes first (like the ``infer`` crate), then the extension, else octet-stream."""
    for offset, magic, mime in _MAGIC:
        if content[offset : offset + len(magic)] == magic:
            return mime
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    guessed, _ = _MIME.guess_type("x" + path[path.rfind("/") :], strict=False)
    return guessed or "application/octet-stream"


def etag_of(content_hash: bytes) -> str:
    return '"' + base64.b64encode(content_hash).decode("ascii") + '"'


def http_date_us(us: int) -> str:
    return format_http_date(us / 1_000_000)


def _parse_bool(value: str) -> bool | None:
    lowered = value.lower()
    if lowered in ("true", "yes", "1", ""):
        return True
    if lowered in ("false", "no", "0"):
        return False
    return None


def _is_pubky_prefixed(value: str) -> bool:
    return value.startswith("pubky") and len(value) == 57


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message)


def _now_us() -> int:
    return time.time_ns() // 1000


def _valid_session_secret(value: str) -> bool:
    return len(value) == 26 and all(c in CROCKFORD for c in value)


def _valid_signup_token(value: str) -> bool:
    if len(value) != 14:
        return False
    return crockford_decode(value.replace("-", "")) is not None


def _is_secure_host(host: str) -> bool:
    """Secure cookie attributes only for pkarr keys and dotted FQDNs (upstream's rule)."""
    try:
        PublicKey.parse(host, allow_pubky_prefix=False)
    except PubkyError:
        pass
    else:
        return True
    if not host or ":" in host or host.startswith("["):
        return False
    if all(part.isdigit() for part in host.split(".")):
        return False
    return "." in host


# --- live event fan-out -----------------------------------------------------------------------


@dataclass(eq=False)
class _Subscriber:
    queue: asyncio.Queue[EventRow | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=1024)
    )
    lagged: bool = False


@dataclass
class _StreamParams:
    users: list[tuple[PublicKey, str | None]]
    limit: int | None = None
    reverse: bool = False
    live: bool = False
    path: str | None = None


class Homeserver:
    """Homeserver state and its two aiohttp applications (client API and admin API)."""

    def __init__(
        self,
        store: HomeserverStore,
        keypair: Keypair,
        *,
        signup_mode: str = "open",
        admin_password: str = DEFAULT_ADMIN_PASSWORD,
        user_storage_quota_mb: int = 0,
        auth_window_s: int = 45,
        keepalive_s: float = 15.0,
    ) -> None:
        if signup_mode not in ("open", "token_required"):
            raise ValueError("signup_mode must be 'open' or 'token_required'")
        self.store = store
        self.keypair = keypair
        self.signup_mode = signup_mode
        self.admin_password = admin_password
        self.quota_bytes = user_storage_quota_mb * 1024 * 1024 if user_storage_quota_mb else None
        self.verifier = AuthVerifier(window_s=auth_window_s)
        self.keepalive_s = keepalive_s
        self._subscribers: set[_Subscriber] = set()

    @property
    def public_key(self) -> PublicKey:
        return self.keypair.public_key

    # --- applications ---

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[cors_middleware], client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    def make_admin_app(self) -> web.Application:
        app = web.Application(middlewares=[cors_middleware])
        app.router.add_get("/", self._admin_root)
        app.router.add_get("/generate_signup_token", self._admin(self._admin_generate_token))
        app.router.add_get("/info", self._admin(self._admin_info))
        app.router.add_post("/users/{pubkey}/disable", self._admin(self._admin_disable))
        app.router.add_post("/users/{pubkey}/enable", self._admin(self._admin_enable))
        app.router.add_delete("/webdav/{entry:.+}", self._admin(self._admin_delete_entry))
        return app

    def create_signup_token(self) -> str:
        """A fresh one-use ``XXXX-XXXX-XXXX`` token (what the admin route returns)."""
        encoded = crockford_encode(os.urandom(7)).upper()
        token = "-".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))
        self.store.create_signup_token(token, _now_us())
        return token

    async def close_streams(self) -> None:
        """End every live ``/events-stream`` response (called on shutdown)."""
        for sub in list(self._subscribers):
            while not sub.queue.empty():
                sub.queue.get_nowait()
            sub.queue.put_nowait(None)

    # --- dispatch (mirrors the axum router: base routes, then tenant routes) ---

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        method = request.method
        base: dict[str, dict[str, _Handler]] = {
            "/": {"GET": self._root, "HEAD": self._root},
            "/signup": {"POST": self._signup},
            "/events/": {"GET": self._events_feed, "HEAD": self._events_feed},
            "/events-stream": {"GET": self._events_stream},
        }
        if path in base:
            handler = base[path].get(method)
            if handler is None:
                return _text(405, "Method Not Allowed")
            return await handler(request)
        if path == "/session" and method == "POST":
            return await self._signin(request)
        if path == "/session" and method not in ("GET", "DELETE"):
            return _text(405, "Method Not Allowed")
        if method not in ("GET", "HEAD", "PUT", "DELETE"):
            return _text(405, "Method Not Allowed")
        return await self._tenant(request)

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Pubky Homeserver")

    # --- tenant selection & authorization (PubkyHostLayer + AuthorizationLayer) ---

    @staticmethod
    def tenant_of(request: web.Request) -> PublicKey | None:
        """``Host`` then ``pubky-host`` (a later valid one wins), else ``?pubky-host=``."""
        key: PublicKey | None = None
        for header in ("Host", "pubky-host"):
            value = request.headers.get(header)
            if value is None or _is_pubky_prefixed(value):
                continue
            try:
                key = PublicKey.parse(value, allow_pubky_prefix=False)
            except PubkyError:
                continue
        if key is None:
            for name, value in parse_qsl(request.query_string, keep_blank_values=True):
                if name == "pubky-host":
                    if _is_pubky_prefixed(value):
                        return None
                    try:
                        return PublicKey.parse(value, allow_pubky_prefix=False)
                    except PubkyError:
                        return None
        return key

    def _session_of(self, request: web.Request, tenant: PublicKey) -> str | None:
        secret = request.cookies.get(tenant.z32())
        return secret if secret is not None and _valid_session_secret(secret) else None

    async def _tenant(self, request: web.Request) -> web.StreamResponse:
        tenant = self.tenant_of(request)
        if tenant is None:
            return _text(404, "Pubky Host is missing")
        raw_path = request.rel_url.raw_path
        method = request.method
        if raw_path != "/session":
            if raw_path.startswith("/pub/"):
                needs_session = method not in ("GET", "HEAD")
            elif raw_path.startswith("/dav/"):
                needs_session = True
            else:
                return _text(403, "Writing to directories other than '/pub/' is forbidden")
            if needs_session:
                denied = self._authorize_write(request, tenant, raw_path)
                if denied is not None:
                    return denied
        if request.path == "/session":
            if method == "GET":
                return await self._get_session(request, tenant)
            return await self._signout(request, tenant)
        try:
            path = normalize_webdav_path(request.path)
        except ValueError as exc:
            return _text(400, f"Invalid URL: {exc}")
        if not path.startswith("/pub/"):
            return _text(400, "Invalid URL: Path must start with /pub/")
        if method == "PUT":
            return await self._put(request, tenant, path)
        if method == "DELETE":
            return await self._delete(tenant, path)
        if method == "HEAD":
            return await self._head(tenant, path)
        if path.endswith("/"):
            return await self._list(request, tenant, path)
        return await self._get_file(request, tenant, path)

    def _authorize_write(
        self, request: web.Request, tenant: PublicKey, raw_path: str
    ) -> web.Response | None:
        secret = self._session_of(request, tenant)
        if secret is None:
            return _text(401, "No session secret found in cookies")
        session = self.store.get_session(secret)
        if session is None:
            return _text(401, "No session found for session secret")
        if session.user_public_key != tenant.z32():
            return _text(401, "SessionInfo public key does not match pubky-host")
        if not Capabilities.parse_lenient(session.capabilities).can_write(raw_path):
            return _text(403, "Session does not have write access to path")
        return None

    # --- auth routes ---

    def _set_session_cookie(
        self, response: web.StreamResponse, request: web.Request, user: str, secret: str
    ) -> None:
        secure = _is_secure_host(request.headers.get("Host", ""))
        response.set_cookie(
            user,
            secret,
            path="/",
            httponly=True,
            max_age=COOKIE_MAX_AGE,
            expires=http_date_us((int(time.time()) + COOKIE_MAX_AGE) * 1_000_000),
            secure=secure or None,
            samesite="None" if secure else None,
        )

    async def _create_session(
        self, request: web.Request, user_id: int, user: PublicKey, caps: Capabilities
    ) -> web.Response:
        secret = crockford_encode(os.urandom(16))
        now = _now_us()
        self.store.create_session(secret, user_id, str(caps), now)
        info = SessionInfo(public_key=user, created_at=now, capabilities=caps)
        response = web.Response(
            status=200, body=info.to_bytes(), content_type="application/octet-stream"
        )
        self._set_session_cookie(response, request, user.z32(), secret)
        return response

    async def _signup(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            token = self.verifier.verify(body)
        except PubkyError as exc:
            return _text(400, str(exc) or type(exc).__name__)
        user = token.public_key.z32()
        if self.store.get_user(user) is not None:
            return _text(409, "User already exists")
        signup_token: str | None = None
        if self.signup_mode == "token_required":
            signup_token = request.query.get("signup_token")
            if signup_token is None:
                return _text(400, "Token required")
            if not _valid_signup_token(signup_token):
                return _text(400, "Invalid signup token format: Invalid signup code id")
        result = self.store.signup(user, signup_token, _now_us())
        if result.already_exists:
            return _text(409, "User already exists")
        if result.token_unknown:
            return _text(401, "Invalid token")
        if result.token_used:
            return _text(401, "Token already used")
        assert result.user is not None
        return await self._create_session(
            request, result.user.id, token.public_key, token.capabilities
        )

    async def _signin(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            token = self.verifier.verify(body)
        except PubkyError as exc:
            return _text(400, str(exc) or type(exc).__name__)
        user = self.store.get_user(token.public_key.z32())
        if user is None:
            return _text(404, "Not Found")
        return await self._create_session(request, user.id, token.public_key, token.capabilities)

    async def _get_session(self, request: web.Request, tenant: PublicKey) -> web.Response:
        if self.store.get_user(tenant.z32()) is None:
            return _text(404, "Not Found")
        secret = self._session_of(request, tenant)
        session = self.store.get_session(secret) if secret is not None else None
        if session is None:
            return _text(404, "Not Found")
        info = SessionInfo(
            public_key=PublicKey.parse(session.user_public_key),
            created_at=session.created_at,
            capabilities=Capabilities.parse_lenient(session.capabilities),
        )
        return web.Response(
            status=200,
            body=info.to_bytes(),
            content_type="application/octet-stream",
            headers={"Vary": "cookie, pubky-host", "Cache-Control": "private, must-revalidate"},
        )

    async def _signout(self, request: web.Request, tenant: PublicKey) -> web.Response:
        secret = self._session_of(request, tenant)
        if secret is not None:
            self.store.delete_session(secret)
        response = web.Response(status=200)
        secure = _is_secure_host(request.headers.get("Host", ""))
        response.set_cookie(
            tenant.z32(),
            "",
            path="/",
            httponly=True,
            max_age=0,
            expires="Thu, 01 Jan 1970 00:00:00 GMT",
            secure=secure or None,
            samesite="None" if secure else None,
        )
        return response

    # --- files ---

    def _file_headers(self, entry: EntryRow) -> dict[str, str]:
        return {
            "Content-Type": entry.content_type,
            "ETag": etag_of(entry.content_hash),
            "Last-Modified": http_date_us(entry.modified_at),
            "Vary": "pubky-host",
            "Cache-Control": "private, must-revalidate",
        }

    async def _put(self, request: web.Request, tenant: PublicKey, path: str) -> web.Response:
        user = self.store.get_user(tenant.z32())
        if user is None:
            return _text(404, "Not Found")
        if user.disabled:
            return _text(403, "User is disabled")
        if path.endswith("/"):
            return _text(400, "Cannot write to a directory path")
        length = request.content_length
        if self.quota_bytes is not None and length is not None:
            denied = self._quota_denied(user.used_bytes, length, user.id, path)
            if denied is not None:
                return denied
        content = await request.read()
        if self.quota_bytes is not None:
            denied = self._quota_denied(user.used_bytes, len(content), user.id, path)
            if denied is not None:
                return denied
        digest = blake3.blake3(content).digest()
        event = self.store.put_entry(
            user.id, path, content, digest, sniff_content_type(path, content), _now_us()
        )
        self._broadcast(event)
        return web.Response(status=201)

    def _quota_denied(self, used: int, size: int, user_id: int, path: str) -> web.Response | None:
        assert self.quota_bytes is not None
        existing = self.store.entry_size(user_id, path)
        if used + max(0, size - existing) > self.quota_bytes:
            mb = self.quota_bytes / 1024 / 1024
            return _text(507, f"Disk space quota of {mb:.1f} MB exceeded. Write operation failed.")
        return None

    async def _delete(self, tenant: PublicKey, path: str) -> web.Response:
        user = self.store.get_user(tenant.z32())
        if user is None:
            return _text(404, "Not Found")
        event = self.store.delete_entry(user.id, path, _now_us())
        if event is None:
            return _text(404, "Not Found")
        self._broadcast(event)
        return web.Response(status=204)

    async def _head(self, tenant: PublicKey, path: str) -> web.Response:
        if self.store.get_user(tenant.z32()) is None:
            return _text(404, "Not Found")
        entry = self.store.get_entry(tenant.z32(), path)
        if entry is None:
            return _text(404, "Not Found")
        headers = self._file_headers(entry)
        headers["Content-Length"] = str(entry.content_length)
        return web.Response(status=200, headers=headers)

    async def _get_file(self, request: web.Request, tenant: PublicKey, path: str) -> web.Response:
        entry = self.store.get_entry(tenant.z32(), path)
        if entry is None:
            return _text(404, "Not Found")
        headers = self._file_headers(entry)
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None:
            current = etag_of(entry.content_hash)
            if any(tag.strip() == current for tag in if_none_match.strip().split(",")):
                return self._not_modified(headers)
        else:
            since = parse_http_date(request.headers.get("If-Modified-Since"))
            if since is not None and since >= entry.modified_at // 1_000_000:
                return self._not_modified(headers)
        content = self.store.get_content(entry.user_id, path)
        if content is None:  # deleted between the two reads
            return _text(404, "Not Found")
        return web.Response(status=200, body=content, headers=headers)

    @staticmethod
    def _not_modified(headers: dict[str, str]) -> web.Response:
        kept = {k: v for k, v in headers.items() if k != "Content-Type"}
        return web.Response(status=304, headers=kept)

    async def _list(self, request: web.Request, tenant: PublicKey, directory: str) -> web.Response:
        params = _query_dict(request)
        flags: dict[str, bool] = {}
        for name in ("reverse", "shallow"):
            value = params.get(name)
            parsed = _parse_bool(value) if value is not None else False
            if parsed is None:
                return _text(400, "Invalid boolean parameter")
            flags[name] = parsed
        limit = _parse_limit(params.get("limit"))
        cursor_path: str | None = None
        raw_cursor = params.get("cursor")
        if raw_cursor:
            cursor_path = _parse_entry_cursor(raw_cursor)
            if cursor_path is None:
                return _text(400, "Invalid cursor")
        user = tenant.z32()
        if not self.store.paths_under(user, directory, limit=1):
            return _text(404, "Directory Not Found")
        reverse = flags["reverse"]
        if flags["shallow"]:
            children = sorted(
                {_shallow_child(directory, p) for p in self.store.paths_under(user, directory)},
                key=lambda s: s.encode("utf-8", "surrogatepass"),
                reverse=reverse,
            )
            if cursor_path is not None:
                c = cursor_path.encode("utf-8", "surrogatepass")
                children = [
                    p
                    for p in children
                    if (
                        p.encode("utf-8", "surrogatepass") < c
                        if reverse
                        else p.encode("utf-8", "surrogatepass") > c
                    )
                ]
            paths = children[:limit]
        else:
            paths = self.store.paths_under(
                user,
                directory,
                after=None if reverse else cursor_path,
                before=cursor_path if reverse else None,
                descending=reverse,
                limit=limit,
            )
        body = "\n".join(f"pubky://{user}{p}" for p in paths)
        return web.Response(status=200, text=body, content_type="text/plain")

    # --- events ---

    def _broadcast(self, event: EventRow) -> None:
        for sub in list(self._subscribers):
            if sub.lagged:
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.lagged = True  # slow consumer: its stream is closed

    def _event_cursor(self, raw: str) -> int | None:
        """Decimal event id, or a legacy 13-char Crockford timestamp looked up to an id."""
        text = raw.strip()
        if text.lstrip("-").isdigit() and text.isascii():
            value = int(text)
            return value if -(2**63) <= value < 2**63 else None
        if len(text) != 13:
            return None
        decoded = crockford_decode(text)
        if decoded is None:
            return None
        return self.store.event_id_at(int.from_bytes(decoded, "big"))

    async def _events_feed(self, request: web.Request) -> web.Response:
        params = _query_dict(request)
        for name in ("reverse", "shallow"):
            value = params.get(name)
            if value is not None and _parse_bool(value) is None:
                return _text(400, "Invalid boolean parameter")
        raw = params.get("cursor") or "0"
        cursor = self._event_cursor(raw.removeprefix("pubky://"))
        if cursor is None:
            return _text(400, "Invalid cursor")
        events = self.store.events_after(cursor, _parse_limit(params.get("limit")))
        lines = [f"{e.kind} pubky://{e.user_public_key}{e.path}" for e in events]
        if events:
            lines.append(f"cursor: {events[-1].id}")
        return web.Response(status=200, text="\n".join(lines), content_type="text/plain")

    def _parse_stream_params(self, request: web.Request) -> _StreamParams | web.Response:
        users: list[tuple[PublicKey, str | None]] = []
        params = _StreamParams(users=users)
        raw_users: list[str] = []
        for name, value in parse_qsl(request.query_string, keep_blank_values=True):
            if name == "user":
                raw_users.append(value)
            elif name == "limit":
                if not (value.isascii() and value.isdigit()) or int(value) > 65535:
                    return _text(400, f"Invalid limit: {value}")
                params.limit = int(value)
            elif name == "reverse":
                params.reverse = value in ("true", "1")
            elif name == "live":
                params.live = value in ("true", "1")
            elif name == "path" and value:
                params.path = value
        if params.live and params.reverse:
            return _text(400, "Cannot use live mode with reverse ordering")
        if params.limit == 0:
            return _text(400, "Invalid limit: 0")
        for value in raw_users:
            if not value:
                continue
            key_text, sep, cursor = value.partition(":")
            if _is_pubky_prefixed(key_text):
                return _text(400, f"Invalid public key: {key_text}")
            try:
                key = PublicKey.parse(key_text, allow_pubky_prefix=False)
            except PubkyError:
                return _text(400, f"Invalid public key: {key_text}")
            users.append((key, cursor if sep else None))
        if not users:
            return _text(400, "user parameter is required")
        if len(users) > MAX_STREAM_USERS:
            return _text(400, f"Too many users. Maximum allowed: {MAX_STREAM_USERS}")
        if params.path is not None:
            candidate = params.path if params.path.startswith("/") else "/" + params.path
            try:
                params.path = normalize_webdav_path(candidate)
            except ValueError:
                return _text(400, f"Invalid path: {candidate}")
        return params

    async def _events_stream(self, request: web.Request) -> web.StreamResponse:
        params = self._parse_stream_params(request)
        if isinstance(params, web.Response):
            return params
        cursors: dict[int, int | None] = {}
        for key, raw_cursor in params.users:
            user = self.store.get_user(key.z32())
            if user is None:
                return _text(404, "Not Found")
            cursor: int | None = None
            if raw_cursor is not None:
                cursor = self._event_cursor(raw_cursor)
                if cursor is None:
                    return _text(400, f"Invalid cursor: {raw_cursor}")
            cursors[user.id] = cursor

        response = web.StreamResponse(
            status=200,
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        )
        sub = _Subscriber()
        self._subscribers.add(sub)  # subscribe before the history query: no gap
        try:
            await response.prepare(request)
            await self._stream_events(response, sub, params, cursors)
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            self._subscribers.discard(sub)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write_eof()
        return response

    async def _stream_events(
        self,
        response: web.StreamResponse,
        sub: _Subscriber,
        params: _StreamParams,
        cursors: dict[int, int | None],
    ) -> None:
        sent = 0
        # Phase 1: history after each user's cursor.
        while True:
            while not sub.queue.empty():
                sub.queue.get_nowait()  # these are covered by the query below
            events = self.store.events_for_users(
                list(cursors.items()),
                reverse=params.reverse,
                path_prefix=params.path,
                limit=STREAM_BATCH,
            )
            for event in events:
                cursors[event.user_id] = event.id
                await response.write(_sse(event))
                sent += 1
                if params.limit is not None and sent >= params.limit:
                    return
            if not events:
                break
        if not params.live:
            return
        # Phase 2: live events from the broadcast.
        while True:
            try:
                item = await asyncio.wait_for(sub.queue.get(), self.keepalive_s)
            except TimeoutError:
                await response.write(b":\n\n")
                continue
            if item is None or sub.lagged:
                return
            if item.user_id not in cursors:
                continue
            last = cursors[item.user_id]
            if last is not None and item.id <= last:
                continue
            if params.path is not None and not item.path.startswith(params.path):
                continue
            cursors[item.user_id] = item.id
            await response.write(_sse(item))
            sent += 1
            if params.limit is not None and sent >= params.limit:
                return

    # --- admin ---

    def _admin(self, handler: _Handler) -> _Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            password = request.headers.get("X-Admin-Password")
            if password is None:
                return _text(401, "Missing admin password")
            if password != self.admin_password:
                return _text(401, "Invalid admin password")
            return await handler(request)

        return guarded

    async def _admin_root(self, request: web.Request) -> web.Response:
        return web.Response(text="Homeserver - Admin Endpoint")

    async def _admin_generate_token(self, request: web.Request) -> web.Response:
        return web.Response(text=self.create_signup_token())

    async def _admin_info(self, request: web.Request) -> web.Response:
        info: dict[str, object] = dict(self.store.stats())
        info.update(
            public_key=self.public_key.z32(),
            pkarr_pubky_address=None,
            pkarr_icann_domain="localhost",
            version="0.6.0-testnet",
        )
        return web.Response(text=json.dumps(info), content_type="application/json")

    async def _admin_set_disabled(self, request: web.Request, disabled: bool) -> web.Response:
        try:
            key = PublicKey.parse(request.match_info["pubkey"], allow_pubky_prefix=False)
        except PubkyError as exc:
            return _text(400, str(exc))
        if not self.store.set_user_disabled(key.z32(), disabled):
            return _text(404, "User not found")
        return web.Response(text="Ok")

    async def _admin_disable(self, request: web.Request) -> web.Response:
        return await self._admin_set_disabled(request, True)

    async def _admin_enable(self, request: web.Request) -> web.Response:
        return await self._admin_set_disabled(request, False)

    async def _admin_delete_entry(self, request: web.Request) -> web.Response:
        entry = _parse_entry_cursor(request.match_info["entry"], with_key=True)
        if entry is None:
            return _text(400, "Invalid entry path")
        key_text, _, _ = request.match_info["entry"].partition("/")
        user = self.store.get_user(PublicKey.parse(key_text).z32())
        if user is None:
            return _text(404, "Not Found")
        event = self.store.delete_entry(user.id, entry, _now_us())
        if event is None:
            return _text(404, "Not Found")
        self._broadcast(event)
        return web.Response(status=204)


# --- query helpers ---------------------------------------------------------------------------


def _query_dict(request: web.Request) -> dict[str, str]:
    """Query parameters as axum's ``Query<HashMap>``: the last occurrence wins."""
    return dict(parse_qsl(request.query_string, keep_blank_values=True))


def _parse_limit(value: str | None) -> int:
    """``limit``: u16, default 100, capped at 1000; empty or invalid means the default."""
    if value is None or not value.isascii() or not value.isdigit() or int(value) > 65535:
        return DEFAULT_LIST_LIMIT
    return min(int(value), MAX_LIST_LIMIT)


def _parse_entry_cursor(raw: str, *, with_key: bool = False) -> str | None:
    """``[pubky://]<z32>/<path>`` → the normalised path (the key part is only validated)."""
    text = raw.removeprefix("pubky://")
    key_text, sep, rest = text.partition("/")
    if not sep or _is_pubky_prefixed(key_text):
        return None
    try:
        PublicKey.parse(key_text, allow_pubky_prefix=False)
        path = normalize_webdav_path("/" + rest)
    except (PubkyError, ValueError):
        return None
    if with_key and not path.startswith("/pub/"):
        return None
    return path


def _shallow_child(directory: str, path: str) -> str:
    rest = path[len(directory) :]
    segment, sep, _ = rest.partition("/")
    return directory + segment + ("/" if sep else "")


def _sse(event: EventRow) -> bytes:
    lines = [
        f"event: {event.kind}",
        f"data: pubky://{event.user_public_key}{event.path}",
        f"data: cursor: {event.id}",
    ]
    if event.content_hash is not None:
        lines.append("data: content_hash: " + base64.b64encode(event.content_hash).decode())
    return ("\n".join(lines) + "\n\n").encode("utf-8")
