"""A PKARR relay with pkarr-3.x semantics (``docs/pubky.md``, "PKARR relays"), backed by SQLite.

There is no DHT on a loopback testnet, so the relay's own cache *is* the network: what a relay
stores is what it serves. Everything else follows the Rust relay of pkarr 3.10 (the one
``pubky-core v0.6.0`` and ``@synonymdev/pubky@0.6.0`` talk to):

``PUT /<key>``  body = relay payload (``sig ‖ ts ‖ dns``)
    * ``204`` stored;  ``400`` bad key / body < 72 bytes / bad signature / DNS packet > 1000
      bytes (bodies of 1073..1104 bytes) / unparsable DNS;  ``413`` body > 1104 bytes;
    * ``409`` the relay holds a more recent packet;  ``412`` ``If-Match`` (decimal µs timestamp)
      differs from the stored (or in-flight) packet's timestamp;  ``428`` another publish of a
      different packet for the key is still in flight and no ``If-Match`` was sent;
    * ``429`` when a rate limit is configured and exceeded.

``GET /<key>``
    ``200`` payload with ``Content-Type: application/pkarr.org/relays#payload``,
    ``Cache-Control: public, max-age=<ttl clamped 300..86400>``, ``Last-Modified``;
    ``304`` when ``If-Modified-Since`` ≥ the packet time (second precision) — *with* the same
    headers and no body (the pkarr 3.x "empty 200" quirk is deliberately not reproduced);
    ``404`` unknown key; ``400`` bad key.

``GET /`` is an HTML status page. CORS is fully permissive, as ``CorsLayer::very_permissive``.

``publish_delay`` simulates the DHT round-trip of a real relay so that the in-flight
(``428``) rules can be exercised; it is ``0`` by default.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from pubky.errors import PubkyError
from pubky.http import format_http_date, parse_http_date
from pubky.keys import PublicKey
from pubky.packet import MAX_TTL, MIN_TTL, SignedPacket
from pubky.testnet.storage import RelayStore

__all__ = [
    "MAX_BODY_BYTES",
    "PAYLOAD_CONTENT_TYPE",
    "PkarrRelay",
    "RateLimit",
    "cors_middleware",
]

PAYLOAD_CONTENT_TYPE = "application/pkarr.org/relays#payload"
# axum's DefaultBodyLimit in the Rust relay: larger bodies get 413, smaller invalid ones 400.
MAX_BODY_BYTES = 1104
MIN_PAYLOAD_BYTES = 72

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def cors_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """``tower_http::cors::CorsLayer::very_permissive()``: mirror origin, method and headers.

    Preflight requests are answered here (``200``, empty body) so that no route has to know
    about ``OPTIONS``; every other response gets the mirrored headers added.
    """
    origin = request.headers.get("Origin")
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response: web.StreamResponse = web.Response(status=200)
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers.setdefault("Vary", "origin, access-control-request-method")
        response.headers["Access-Control-Expose-Headers"] = (
            "ETag, Last-Modified, Content-Type, Content-Length, Cache-Control,"
            " Pkarr-Dht-Stored-Nodes"
        )
    if request.method == "OPTIONS":
        method = request.headers.get("Access-Control-Request-Method")
        if method:
            response.headers["Access-Control-Allow-Methods"] = method
        req_headers = request.headers.get("Access-Control-Request-Headers")
        if req_headers:
            response.headers["Access-Control-Allow-Headers"] = req_headers
        response.headers["Access-Control-Max-Age"] = "86400"
    return response


@dataclass
class RateLimit:
    """Token bucket per client IP (the Rust relay's ``quota``/``burst``)."""

    per_second: float
    burst: int


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


@dataclass
class _InFlight:
    packet: SignedPacket
    done: asyncio.Event


class PkarrRelay:
    """Relay state (store, in-flight publishes, rate limiter) and its aiohttp application."""

    def __init__(
        self,
        store: RelayStore,
        *,
        publish_delay: float = 0.0,
        rate_limit: RateLimit | None = None,
        name: str = "pkarr relay",
    ) -> None:
        self.store = store
        self.publish_delay = publish_delay
        self.rate_limit = rate_limit
        self.name = name
        self._inflight: dict[bytes, _InFlight] = {}
        self._buckets: dict[str, _Bucket] = {}

    def make_app(self) -> web.Application:
        # The body is read by hand (capped) so the 400-vs-413 boundary is exact.
        app = web.Application(middlewares=[cors_middleware], client_max_size=MAX_BODY_BYTES * 4)
        app.router.add_get("/", self._index)
        app.router.add_get("/{key}", self._get)
        app.router.add_put("/{key}", self._put)
        return app

    # --- helpers ---

    def _rate_limited(self, request: web.Request) -> bool:
        if self.rate_limit is None:
            return False
        ip = request.remote or "?"
        now = time.monotonic()
        bucket = self._buckets.get(ip)
        if bucket is None:
            bucket = self._buckets[ip] = _Bucket(float(self.rate_limit.burst), now)
        bucket.tokens = min(
            float(self.rate_limit.burst),
            bucket.tokens + (now - bucket.stamp) * self.rate_limit.per_second,
        )
        bucket.stamp = now
        if bucket.tokens < 1.0:
            return True
        bucket.tokens -= 1.0
        return False

    def stored(self, public_key: PublicKey) -> SignedPacket | None:
        """The packet this relay currently serves for ``public_key``."""
        data = self.store.get(public_key.raw)
        return SignedPacket.from_bytes(data) if data is not None else None

    # --- routes ---

    async def _index(self, request: web.Request) -> web.Response:
        body = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Pkarr Relay</title></head>"
            "<body><h1>Pkarr Relay</h1><p>This server is a "
            "<a href='https://pkarr.org'>Pkarr</a> relay (local Pubky testnet, no DHT).</p>"
            f"<pre>name    : {html.escape(self.name)}\npackets : {self.store.count()}</pre>"
            "</body></html>"
        )
        return web.Response(text=body, content_type="text/html")

    async def _get(self, request: web.Request) -> web.Response:
        if self._rate_limited(request):
            return web.Response(status=429, text="Too Many Requests")
        try:
            public_key = PublicKey.parse(request.match_info["key"], allow_pubky_prefix=False)
        except PubkyError as exc:
            return web.Response(status=400, text=str(exc))
        packet = self.stored(public_key)
        if packet is None:
            return web.Response(status=404)
        headers = {
            "Content-Type": PAYLOAD_CONTENT_TYPE,
            "Cache-Control": f"public, max-age={packet.ttl(MIN_TTL, MAX_TTL)}",
            "Last-Modified": format_http_date(packet.timestamp / 1_000_000),
        }
        since = parse_http_date(request.headers.get("If-Modified-Since"))
        if since is not None and since >= packet.timestamp // 1_000_000:
            return web.Response(status=304, headers=headers)
        return web.Response(status=200, body=packet.to_relay_payload(), headers=headers)

    async def _put(self, request: web.Request) -> web.Response:
        if self._rate_limited(request):
            return web.Response(status=429, text="Too Many Requests")
        try:
            public_key = PublicKey.parse(request.match_info["key"], allow_pubky_prefix=False)
        except PubkyError as exc:
            return web.Response(status=400, text=str(exc))
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return web.Response(status=413, text="length limit exceeded")
        body = await _read_capped(request, MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            return web.Response(status=413, text="length limit exceeded")
        if len(body) < MIN_PAYLOAD_BYTES:
            return web.Response(
                status=400, text=f"relay payload too small: {len(body)} < {MIN_PAYLOAD_BYTES}"
            )
        try:
            packet = SignedPacket.from_relay_payload(public_key, body)
        except PubkyError as exc:
            return web.Response(status=400, text=str(exc) or type(exc).__name__)
        cas = _parse_if_match(request.headers.get("If-Match"))

        # 1. the relay's cache (pkarr Client::publish_inner)
        cached = self.stored(public_key)
        if cached is not None:
            if cached.more_recent_than(packet):
                return web.Response(status=409, text="NotMostRecent")
            if cas is not None and cached.timestamp != cas:
                return web.Response(status=412, text="CasFailed")

        # 2. an in-flight "DHT put" for the same key (mainline's ConflictRisk rules)
        inflight = self._inflight.get(public_key.raw)
        if inflight is not None:
            if inflight.packet.signature == packet.signature:
                await inflight.done.wait()
                return web.Response(status=204)
            if not packet.more_recent_than(inflight.packet):
                return web.Response(status=409, text="NotMostRecent")
            if cas is None:
                return web.Response(status=428, text="ConflictRisk")
            if cas != inflight.packet.timestamp:
                return web.Response(status=412, text="CasFailed")

        self.store.put(public_key.raw, packet.timestamp, packet.to_bytes(), _now_us())
        if self.publish_delay > 0:
            entry = _InFlight(packet, asyncio.Event())
            self._inflight[public_key.raw] = entry
            try:
                await asyncio.sleep(self.publish_delay)
            finally:
                entry.done.set()
                if self._inflight.get(public_key.raw) is entry:
                    del self._inflight[public_key.raw]
        return web.Response(status=204)


async def _read_capped(request: web.Request, limit: int) -> bytes:
    """Read the body until EOF or ``limit`` bytes (``StreamReader.read(n)`` may return less)."""
    chunks: list[bytes] = []
    total = 0
    while total < limit:
        chunk = await request.content.read(limit - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _parse_if_match(value: str | None) -> int | None:
    """``If-Match: <u64>``; anything unparsable counts as absent, like the Rust relay."""
    if value is None:
        return None
    text = value.strip().strip('"')
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if number < 2**64 else None


def _now_us() -> int:
    return time.time_ns() // 1000
