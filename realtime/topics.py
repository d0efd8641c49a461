"""Topic names: one per thing a client can subscribe to (``docs/websocket.md``).

A topic is also the Redis pub/sub group its events travel on, so names are short, stable and
free of characters channels rejects in group names (only ASCII alphanumerics, ``-``, ``_`` and
``.``, under 100 characters): URLs are hashed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

RELAYS = "relays"

# subscribe key -> (entity name in replies, topic prefix)
SUBSCRIPTION_KEYS: dict[str, str] = {
    "pubkyUrl": "pubkyUrl",
    "pubkyDomainId": "pubkyDomain",
    "sovereigntyScoreDomainId": "sovereigntyScore",
    "domainMigrationId": "domainMigration",
    "familyId": "family",
    "relays": "relays",
}


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


# subscribe key -> the topic of the object with that id
ID_TOPICS = {
    "pubkyDomainId": pubky_domain,
    "sovereigntyScoreDomainId": sovereignty_score,
    "domainMigrationId": domain_migration,
    "familyId": family,
}


@dataclass(frozen=True)
class Target:
    """What one subscription points at: its entity, identifier and topic."""

    entity: str
    key: str  # the subscribe key the client used
    value: str | int | bool
    topic: str

    def describe(self) -> dict[str, str | int | bool]:
        """The identifying part of replies: ``url`` for URLs, ``id`` otherwise."""
        if self.entity == "pubkyUrl":
            return {"entity": self.entity, "url": str(self.value)}
        if self.entity == "relays":
            return {"entity": self.entity}
        return {"entity": self.entity, "id": self.value}

    def describe_with_topic(self) -> dict[str, str | int | bool]:
        """``describe()`` plus the topic that this subscription's events carry."""
        return {**self.describe(), "topic": self.topic}
