"""Topic names: one per thing a client can subscribe to (``docs/websocket.md``).

A topic is also the Redis pub/sub group its events travel on, so names are short, stable and
free of characters channels rejects in group names (only ASCII alphanumerics, ``-``, ``_`` and
``.``, under 100 characters): URLs are hashed. They sit in the core, below every app, because
whoever announces an event (through ``pubkyproject.event_port``) names its topic.
"""

from __future__ import annotations

import hashlib

RELAYS = "relays"


def pubky_domain(pk: int) -> str:
    return f"pubkyDomain.{pk}"


def sovereignty_score(domain_id: int) -> str:
    return f"sovereigntyScore.{domain_id}"


def domain_migration(pk: int) -> str:
    return f"domainMigration.{pk}"


def family(pk: int) -> str:
    return f"family.{pk}"


def user(pk: int) -> str:
    """Control messages for one user's sockets (access revoked, …); never replayed to clients."""
    return f"user.{pk}"


def pubky_url(url: str) -> str:
    digest = hashlib.blake2b(url.encode(), digest_size=16).hexdigest()
    return f"pubkyUrl.{digest}"
