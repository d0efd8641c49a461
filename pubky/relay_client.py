"""PKARR relay client: publish to and resolve from *all* configured relays.

See ``docs/pubky.md``, "PKARR relays".

Why "all": relays are independent caches in front of the DHT and any of them may be down,
stale or lying. Publishing therefore fans out to every relay concurrently and succeeds when at
least one stored the packet; resolving asks every relay, verifies each answer itself and keeps
the most recent *valid* packet (an invalid or tampered answer is ignored, never trusted).

Both relay generations are spoken: npm ``pkarr@1.3.0`` (PUT → 200, no cache headers, 500 for
an older packet) and the pkarr 3.x-6.x Rust relay (PUT → 204, ``If-Match`` compare-and-swap with
409/412/428, ``If-Modified-Since`` → 304). Every call returns per-relay :class:`RelayResult`\\ s so
operators can see which relay misbehaves; the typed :mod:`pubky.errors` are raised only on
request (:meth:`PublishReport.raise_for_failure`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import requests
import urllib3.exceptions

from pubky.errors import (
    CasConflict,
    InvalidPublicKey,
    NotMostRecent,
    PayloadTooLarge,
    PubkyError,
    RateLimited,
    RelayBadRequest,
    RelayError,
    RelayUnavailable,
)
from pubky.http import DEFAULT_TIMEOUT, join_url, thread_session
from pubky.keys import PublicKey
from pubky.packet import MAX_RELAY_PAYLOAD_BYTES, SignedPacket

__all__ = [
    "PublishReport",
    "RelayClient",
    "RelayResult",
    "ResolveReport",
    "error_for_status",
]

# A key that exists on no relay in practice; probing it must answer 404 (or 200).
_PROBE_KEY = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"
# Read a little more than the largest valid payload so an oversized answer is detectable.
_MAX_READ = MAX_RELAY_PAYLOAD_BYTES + 64

# How "meaningful" each failure is when none of the relays accepted a publish: a semantic
# answer from a relay that holds data beats a transport failure of another one.
_ERROR_PRIORITY: tuple[type[RelayError], ...] = (
    CasConflict,
    NotMostRecent,
    PayloadTooLarge,
    RelayBadRequest,
    RateLimited,
    RelayError,
    RelayUnavailable,
)

T = TypeVar("T")


def error_for_status(status: int) -> type[RelayError]:
    """Map a relay HTTP status to the typed error (pkarr's ``map_reqwest_error`` plus 413/429)."""
    if status in (409, 428):
        return NotMostRecent  # 428 = "conflict risk": a concurrent publish is in flight
    if status == 412:
        return CasConflict
    if status == 413:
        return PayloadTooLarge
    if status == 429:
        return RateLimited
    if status == 400:
        return RelayBadRequest
    if status >= 500:
        return RelayUnavailable
    return RelayError


@dataclass(frozen=True)
class RelayResult:
    """What one relay answered to one request.

    ``ok`` means the relay did its job: stored the packet (publish), answered 200/304/404 with
    a usable answer (resolve), or is reachable and speaks the protocol (check). ``status`` is
    ``None`` when no HTTP answer came back (timeout, refused connection). ``packet`` is the
    verified packet a resolve got from this relay, ``not_modified`` is true for a 304.
    """

    relay_url: str
    ok: bool
    status: int | None
    latency_ms: float
    error: str | None = None
    error_type: type[RelayError] | None = None
    packet: SignedPacket | None = field(default=None, repr=False, compare=False)
    not_modified: bool = False

    def to_error(self) -> RelayError:
        """The typed error this result stands for (a generic RelayError if it was ok)."""
        cls = self.error_type or RelayError
        message = f"{self.relay_url}: {self.error or f'HTTP {self.status}'}"
        return cls(message, relay_url=self.relay_url, status=self.status)


@dataclass(frozen=True)
class PublishReport:
    """Per-relay outcome of one publish; ``ok`` when at least one relay stored the packet."""

    public_key: PublicKey
    timestamp: int
    results: list[RelayResult]

    @property
    def ok(self) -> bool:
        return any(r.ok for r in self.results)

    @property
    def succeeded(self) -> list[RelayResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[RelayResult]:
        return [r for r in self.results if not r.ok]

    def raise_for_failure(self) -> None:
        """Raise the most meaningful typed :class:`RelayError` if *no* relay stored the packet.

        Priority: CAS conflict, not-most-recent, too large, bad request, rate limited, other,
        unavailable — so a caller that must retry with a fresh CAS learns so even if another
        relay was merely down.
        """
        if self.ok:
            return
        if not self.results:
            raise RelayUnavailable("no relays configured")
        best = min(self.results, key=lambda r: _ERROR_PRIORITY.index(r.error_type or RelayError))
        raise best.to_error()


@dataclass(frozen=True)
class ResolveReport:
    """Per-relay outcome of one resolve and the packet chosen (most recent valid one)."""

    public_key: PublicKey
    packet: SignedPacket | None
    results: list[RelayResult]

    @property
    def ok(self) -> bool:
        """At least one relay gave a usable answer (a packet, 304 or a clean 404)."""
        return any(r.ok for r in self.results)


class RelayClient:
    """Talk to a fixed list of PKARR relays. Thread-safe; one instance can be shared."""

    def __init__(self, relays: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if isinstance(relays, str):
            relays = [relays]
        cleaned = [r.strip().rstrip("/") for r in relays if r and r.strip()]
        for relay in cleaned:
            if not relay.startswith(("http://", "https://")):
                raise ValueError(f"relay URL must be http(s): {relay!r}")
        self.relays: tuple[str, ...] = tuple(dict.fromkeys(cleaned))
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"RelayClient({list(self.relays)!r})"

    # --- fan-out ---

    def _fan_out(self, call: Callable[[str], T]) -> list[T]:
        if not self.relays:
            return []
        if len(self.relays) == 1:
            return [call(self.relays[0])]
        with ThreadPoolExecutor(max_workers=len(self.relays), thread_name_prefix="pkarr") as ex:
            return list(ex.map(call, self.relays))

    # --- publish ---

    def publish(self, packet: SignedPacket, *, cas: int | None = None) -> PublishReport:
        """PUT ``packet`` to every relay concurrently.

        ``cas`` is the timestamp (µs) of the packet the caller last saw; relays that support
        compare-and-swap refuse the write with 412 when they hold something else. Never
        raises for relay failures: inspect the report or call ``raise_for_failure()``.
        """
        payload = packet.to_relay_payload()
        z32 = packet.public_key.z32()
        headers = {"Content-Type": "application/octet-stream"}
        if cas is not None:
            if cas < 0 or cas >= 2**64:
                raise ValueError(f"cas must be a u64 timestamp, got {cas}")
            headers["If-Match"] = str(cas)

        def put(relay: str) -> RelayResult:
            start = time.monotonic()
            try:
                response = thread_session().put(
                    join_url(relay, z32),
                    data=payload,
                    headers=headers,
                    timeout=(self.timeout, self.timeout * 3),
                )
            except requests.RequestException as exc:
                return _transport_failure(relay, start, exc)
            latency = _ms(start)
            text = _short_text(response)
            response.close()
            if 200 <= response.status_code < 300:
                return RelayResult(relay, True, response.status_code, latency)
            return RelayResult(
                relay,
                False,
                response.status_code,
                latency,
                error=text or f"HTTP {response.status_code}",
                error_type=error_for_status(response.status_code),
            )

        return PublishReport(packet.public_key, packet.timestamp, self._fan_out(put))

    # --- resolve ---

    def resolve(
        self, public_key: PublicKey | str, *, known: SignedPacket | None = None
    ) -> SignedPacket | None:
        """The most recent valid packet any relay has for ``public_key`` (or ``None``).

        With ``known`` (a packet the caller already has), relays are asked with
        ``If-Modified-Since`` and may answer 304; the result is then never older than
        ``known``. Note that HTTP dates have second precision: a newer packet signed within
        the same second as ``known`` is only seen by relays that ignore the condition.
        """
        return self.resolve_report(public_key, known=known).packet

    def resolve_report(
        self, public_key: PublicKey | str, *, known: SignedPacket | None = None
    ) -> ResolveReport:
        """Like :meth:`resolve`, with the per-relay results."""
        key = _as_key(public_key)
        if known is not None and known.public_key != key:
            raise ValueError("known packet belongs to a different public key")
        url_key = key.z32()

        def get(relay: str) -> RelayResult:
            return self._get_one(relay, key, url_key, known)

        results = self._fan_out(get)
        best = known
        for result in results:
            if result.packet is not None and (best is None or result.packet.more_recent_than(best)):
                best = result.packet
        return ResolveReport(key, best, results)

    def _get_one(
        self, relay: str, key: PublicKey, url_key: str, known: SignedPacket | None
    ) -> RelayResult:
        url = join_url(relay, url_key)
        headers: dict[str, str] = {}
        if known is not None:
            headers["If-Modified-Since"] = known.last_modified_http_date()
        start = time.monotonic()
        for attempt in range(2):
            try:
                response = thread_session().get(
                    url, headers=headers, timeout=self.timeout, stream=True
                )
                body = response.raw.read(_MAX_READ + 1, decode_content=True)
                response.close()
            except requests.RequestException as exc:
                return _transport_failure(relay, start, exc)
            except (OSError, urllib3.exceptions.HTTPError) as exc:  # errors while reading
                return _transport_failure(relay, start, exc)
            status = response.status_code
            # pkarr 3.x quirk: 200 with an empty body (or 304 without a condition) means "retry
            # without the cache condition" — pkarr's should_retry_with_cache_disabled().
            quirk = (status == 200 and not body) or (status == 304 and known is None)
            if quirk and attempt == 0:
                headers = {"Cache-Control": "no-cache, no-store, must-revalidate"}
                continue
            break
        latency = _ms(start)
        if status == 304 and known is not None:
            return RelayResult(relay, True, status, latency, packet=known, not_modified=True)
        if status == 404:
            return RelayResult(relay, True, status, latency)
        if status != 200:
            return RelayResult(
                relay,
                False,
                status,
                latency,
                error=body[:200].decode("utf-8", "replace") or f"HTTP {status}",
                error_type=error_for_status(status),
            )
        if len(body) > MAX_RELAY_PAYLOAD_BYTES:
            return RelayResult(
                relay, False, status, latency, "response larger than a relay payload", RelayError
            )
        try:
            packet = SignedPacket.from_relay_payload(key, body)
        except PubkyError as exc:
            return RelayResult(relay, False, status, latency, f"invalid packet: {exc}", RelayError)
        return RelayResult(relay, True, status, latency, packet=packet)

    # --- health ---

    def check(self, relay_url: str) -> RelayResult:
        """Probe one relay: GET of a well-known key must answer 200 or 404 quickly."""
        relay = relay_url.rstrip("/")
        start = time.monotonic()
        try:
            response = thread_session().get(join_url(relay, _PROBE_KEY), timeout=self.timeout)
            response.close()
        except requests.RequestException as exc:
            return _transport_failure(relay, start, exc)
        latency = _ms(start)
        if response.status_code in (200, 404):
            return RelayResult(relay, True, response.status_code, latency)
        return RelayResult(
            relay,
            False,
            response.status_code,
            latency,
            error=f"unexpected HTTP {response.status_code}",
            error_type=error_for_status(response.status_code),
        )

    def check_all(self) -> list[RelayResult]:
        """:meth:`check` every configured relay concurrently."""
        return self._fan_out(self.check)


def _as_key(public_key: PublicKey | str) -> PublicKey:
    if isinstance(public_key, PublicKey):
        return public_key
    if not isinstance(public_key, str):
        raise InvalidPublicKey("public key must be a PublicKey or a string")
    return PublicKey.parse(public_key)


def _ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000.0, 3)


def _short_text(response: requests.Response) -> str:
    try:
        return response.text[:200].strip()
    except (requests.RequestException, UnicodeDecodeError, ValueError):
        return ""


def _transport_failure(relay: str, start: float, exc: BaseException) -> RelayResult:
    if isinstance(exc, requests.Timeout):
        message = f"timeout: {exc}"
    elif isinstance(exc, requests.ConnectionError):
        message = f"connection failed: {exc}"
    else:
        message = f"{type(exc).__name__}: {exc}"
    return RelayResult(relay, False, None, _ms(start), message[:300], RelayUnavailable)
