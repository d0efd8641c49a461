"""What a WebSocket subscription points at (``docs/websocket.md``).

The topic names themselves are in ``pubkyproject.topics``, below every app.
"""

from __future__ import annotations

from dataclasses import dataclass

from pubkyproject.topics import (
    RELAYS,
    domain_migration,
    family,
    pubky_domain,
    pubky_url,
    sovereignty_score,
    user,
)

__all__ = [
    "ID_TOPICS",
    "RELAYS",
    "SUBSCRIPTION_KEYS",
    "Target",
    "domain_migration",
    "family",
    "pubky_domain",
    "pubky_url",
    "sovereignty_score",
    "user",
]

# subscribe key -> (entity name in replies, topic prefix)
SUBSCRIPTION_KEYS: dict[str, str] = {
    "pubkyUrl": "pubkyUrl",
    "pubkyDomainId": "pubkyDomain",
    "sovereigntyScoreDomainId": "sovereigntyScore",
    "domainMigrationId": "domainMigration",
    "familyId": "family",
    "relays": "relays",
}


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
