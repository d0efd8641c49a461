"""Following homeservers' change feeds for the ``pubky://`` URLs someone subscribed to.

``watch_homeservers`` polls each relevant homeserver's ``/events/`` feed from a cursor stored
in :class:`HomeserverCursor`; a page's events and the advanced cursor commit together, so a
restart resumes exactly where it stopped; a page commits only while the stored cursor is still
where the page started, so two watchers never publish the same page. A change to a watched file
(or to a file under a watched directory URL, one ending in ``/``) refreshes the content cache
and publishes ``pubky_content_update`` on the URL's topic.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from pubky.errors import HomeserverNotFound, PubkyError
from pubky.homeserver_client import HomeserverClient
from pubky.keys import PublicKey
from pubky.urls import PubkyUrl
from realtime import topics
from realtime.cache import PubkyContentCache, encode_content
from realtime.events import emit
from realtime.models import EventSource, HomeserverCursor, PubkySubscription

logger = logging.getLogger("pubky.realtime.watcher")
PAGE_LIMIT = 1000


@dataclass
class WatchPlan:
    """Watched URLs grouped by the homeserver that holds them."""

    by_homeserver: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    unresolved: set[str] = field(default_factory=set)


def watched_urls() -> set[str]:
    return set(PubkySubscription.objects.values_list("url", flat=True).distinct())


def plan(client: HomeserverClient, urls: set[str], homeservers: dict[str, str]) -> WatchPlan:
    """Group URLs by homeserver; ``homeservers`` caches user key -> homeserver key."""
    result = WatchPlan()
    for url in urls:
        try:
            user = PubkyUrl.parse(url).public_key.z32()
        except PubkyError:
            continue
        homeserver = homeservers.get(user)
        if homeserver is None:
            try:
                found = client.homeserver_of(user)
            except PubkyError:
                found = None
            if found is None:
                result.unresolved.add(url)
                continue
            homeserver = homeservers[user] = found.z32()
        result.by_homeserver[homeserver].add(url)
    return result


def matching_subscriptions(url: str, watched: set[str]) -> list[str]:
    """The watched URLs an event on ``url`` concerns: the file itself and its directories."""
    return [w for w in watched if w == url or (w.endswith("/") and url.startswith(w))]


def _content_payload(client: HomeserverClient, url: str, kind: str) -> dict[str, Any]:
    cache = PubkyContentCache()
    if kind == "DEL":
        cache.invalidate(url)
        return {"url": url, "deleted": True, "content": None, "encoding": None, "etag": None}
    try:
        result = client.get(url)
    except HomeserverNotFound:
        cache.invalidate(url)
        return {"url": url, "deleted": True, "content": None, "encoding": None, "etag": None}
    entry = {"url": url, "found": True, "etag": result.etag}
    entry.update(encode_content(result.content, result.content_type))
    cache.set(url, entry)
    return {**entry, "deleted": False}


def _initial_cursor(client: HomeserverClient, homeserver: str) -> str:
    """Start a new homeserver at the end of its feed: history is not news."""
    cursor = "0"
    while True:
        page = client.events(homeserver, cursor=cursor, limit=PAGE_LIMIT)
        if page.cursor is None or not page.events:
            return cursor
        cursor = page.cursor
        if len(page.events) < PAGE_LIMIT:
            return cursor


def poll_homeserver(client: HomeserverClient, homeserver: str, watched: set[str]) -> int:
    """Read new events of one homeserver and publish those for watched URLs; returns count."""
    row = HomeserverCursor.objects.filter(homeserver=homeserver).first()
    if row is None:
        row, _ = HomeserverCursor.objects.get_or_create(
            homeserver=homeserver, defaults={"cursor": _initial_cursor(client, homeserver)}
        )
    published = 0
    while True:
        page = client.events(homeserver, cursor=row.cursor, limit=PAGE_LIMIT)
        if not page.events or page.cursor is None:
            return published
        # The last event per URL in a page wins: content is fetched once, as it is now.
        latest: dict[str, str] = {}
        for event in page.events:
            if matching_subscriptions(event.url, watched):
                latest[event.url] = event.kind
        payloads = {url: _content_payload(client, url, kind) for url, kind in latest.items()}
        with transaction.atomic():
            # Commit the page only if the cursor is still where it started: if another watcher
            # (a second copy during a change of leader) got there first, it published these.
            stored = HomeserverCursor.objects.select_for_update().get(pk=row.pk).cursor
            if stored != row.cursor:
                logger.info("homeserver %s: another watcher advanced the cursor", homeserver)
                return published
            for url, payload in payloads.items():
                for subscribed in matching_subscriptions(url, watched):
                    emit(
                        topic=topics.pubky_url(subscribed),
                        type="pubky_content_update",
                        payload={**payload, "subscription": subscribed},
                        source=EventSource.WATCHER,
                    )
                    published += 1
            row.cursor = page.cursor
            row.save(update_fields=["cursor", "updated_at"])
        if len(page.events) < PAGE_LIMIT:
            return published


def watch_once(client: HomeserverClient, homeservers: dict[str, str]) -> int:
    """One pass over every homeserver with watched URLs."""
    urls = watched_urls()
    if not urls:
        return 0
    watch = plan(client, urls, homeservers)
    total = 0
    for homeserver, hs_urls in watch.by_homeserver.items():
        try:
            PublicKey.parse(homeserver)
            total += poll_homeserver(client, homeserver, hs_urls)
        except PubkyError as exc:
            logger.warning("homeserver %s: %s", homeserver, exc)
    return total
