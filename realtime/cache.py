"""PubkyContentCache: resolved Pubky content in the Django cache (Redis), with invalidation."""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache

from pubky.errors import HomeserverNotFound
from pubky.homeserver_client import HomeserverClient


class PubkyContentCache:
    """Content of ``pubky://`` URLs, cached for ``PUBKY_CONTENT_CACHE_TTL`` seconds.

    ``watch_homeservers`` invalidates (or refreshes) an entry as soon as the homeserver reports
    a change, so the TTL only bounds staleness for URLs nobody watches.
    """

    prefix = "pubky:content:"

    def _key(self, url: str) -> str:
        return self.prefix + hashlib.blake2b(url.encode(), digest_size=16).hexdigest()

    def get(self, url: str) -> dict[str, Any] | None:
        value: dict[str, Any] | None = cache.get(self._key(url))
        return value

    def set(self, url: str, entry: dict[str, Any]) -> None:
        cache.set(self._key(url), entry, timeout=settings.REALTIME["CONTENT_CACHE_TTL"])

    def invalidate(self, url: str) -> None:
        cache.delete(self._key(url))

    def resolve(self, url: str) -> dict[str, Any]:
        """Cached content of ``url``, fetched from its homeserver on a miss."""
        entry = self.get(url)
        if entry is not None:
            return {**entry, "cached": True}
        entry = fetch_content(url)
        self.set(url, entry)
        return {**entry, "cached": False}


def encode_content(content: bytes, content_type: str | None) -> dict[str, Any]:
    """JSON-safe content: UTF-8 text as is, anything else base64."""
    try:
        return {
            "content": content.decode("utf-8"),
            "encoding": "utf-8",
            "contentType": content_type,
        }
    except UnicodeDecodeError:
        return {
            "content": base64.b64encode(content).decode("ascii"),
            "encoding": "base64",
            "contentType": content_type,
        }


@functools.lru_cache(maxsize=1)
def homeserver_reader() -> HomeserverClient:
    """A read-only homeserver client for public content (no sessions), one per process."""
    return HomeserverClient(list(settings.PUBKY_RELAYS), timeout=settings.PUBKY_HTTP_TIMEOUT)


def fetch_content(url: str) -> dict[str, Any]:
    """Fetch ``url`` from its homeserver (resolved through the relays)."""
    try:
        result = homeserver_reader().get(url)
    except HomeserverNotFound:
        return {"url": url, "found": False, "content": None, "encoding": None, "etag": None}
    return {
        "url": url,
        "found": True,
        "etag": result.etag,
        **encode_content(result.content, result.content_type),
    }
