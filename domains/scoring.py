"""The sovereignty score rubric (version 1): five components of 0-20 points, 0-100 in total.

Every point comes from a stored fact, so a score can be recomputed and explained at any time.

=======================  =========================================================  ======
component                rule                                                       points
=======================  =========================================================  ======
provider_independence    the domain resolves through Pubky (an active Pubky domain)  10
                         the family runs its own homeserver                          6
                         no registrar in the resolution path (never registered, or   4
                         a completed DNS → Pubky migration)
key_ownership            the family holds the key itself (self-custody)              16
                         or: this service holds it, sealed at rest                   10
                         a guardian holds a current backup (only with a key)         4
censorship_resistance    relays holding the current packet: 1 / 2 / 3+               8/14/20
                         or, DNS only: the registrar can take the name down          2
privacy                  the family runs its own homeserver                          8
                         the domain is private (not listed publicly)                 6
                         no registrar record (no WHOIS / registrar account)          6
portability              records live in a signed packet any relay can serve         10
                         there is a key to take elsewhere                            6
                         the DNS records are stored (a zone to copy)                 4
=======================  =========================================================  ======
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any

RUBRIC_VERSION = 1
COMPONENT_MAX = 20
RELAY_POINTS = (0, 8, 14, 20)


@dataclass(frozen=True)
class DomainFacts:
    """What the rubric looks at, read from the database by ``domains.selectors``."""

    pubky_active: bool
    key_custody: str | None  # "family", "service" or None (no Pubky key)
    relays_published: int
    self_hosted_homeserver: bool
    private: bool
    has_registrar: bool
    migrated_to_pubky: bool
    guardian_backup_current: bool
    dns_record_count: int


@dataclass(frozen=True)
class ScoreResult:
    components: dict[str, int]
    breakdown: dict[str, Any]

    @property
    def total(self) -> int:
        return sum(self.components.values())


def _rules(facts: DomainFacts) -> dict[str, list[tuple[str, bool, int]]]:
    """The rubric: for each component, its rules as (description, holds, points)."""
    registrar_free = not facts.has_registrar or facts.migrated_to_pubky
    has_key = facts.key_custody is not None
    relays = RELAY_POINTS[min(facts.relays_published, 3)] if facts.pubky_active else 0
    dns_only = not facts.pubky_active and facts.dns_record_count > 0
    return {
        "provider_independence": [
            ("resolves through Pubky", facts.pubky_active, 10),
            ("self-hosted homeserver", facts.self_hosted_homeserver, 6),
            ("no registrar in the resolution path", registrar_free, 4),
        ],
        "key_ownership": [
            ("family holds the key (self-custody)", facts.key_custody == "family", 16),
            ("key held by this service, sealed at rest", facts.key_custody == "service", 10),
            ("a guardian holds a current backup", has_key and facts.guardian_backup_current, 4),
        ],
        "censorship_resistance": [
            (f"packet held by {facts.relays_published} relay(s)", relays > 0, relays),
            ("registrar DNS only", dns_only, 2),
        ],
        "privacy": [
            ("self-hosted homeserver", facts.self_hosted_homeserver, 8),
            ("not listed publicly", facts.private, 6),
            ("no registrar record", registrar_free, 6),
        ],
        "portability": [
            ("records in a signed packet", facts.pubky_active, 10),
            ("a key to take elsewhere", has_key, 6),
            ("DNS records stored", facts.dns_record_count > 0, 4),
        ],
    }


@functools.lru_cache(maxsize=4096)
def score(facts: DomainFacts) -> ScoreResult:
    """Apply the rubric to one domain's facts.

    The stored breakdown is compact (the facts and the points each rule earned); :func:`explain`
    turns it back into the described rules. Results are cached per distinct set of facts, as
    most domains share a handful of them; callers must not mutate the result.
    """
    components: dict[str, int] = {}
    points: dict[str, list[int]] = {}
    for name, rules in _rules(facts).items():
        earned = [value if holds else 0 for _, holds, value in rules]
        points[name] = earned
        components[name] = min(sum(earned), COMPONENT_MAX)
    breakdown = {"rubric_version": RUBRIC_VERSION, "facts": asdict(facts), "points": points}
    return ScoreResult(components=components, breakdown=breakdown)


def explain(breakdown: dict[str, Any]) -> dict[str, Any]:
    """Expand a stored breakdown into each component's rules, points and maximum."""
    facts = DomainFacts(**breakdown["facts"])
    explained: dict[str, Any] = {}
    for name, rules in _rules(facts).items():
        earned = breakdown["points"][name]
        explained[name] = {
            "points": min(sum(earned), COMPONENT_MAX),
            "max": COMPONENT_MAX,
            "rules": [
                {"rule": text, "holds": holds, "points": got, "max": value}
                for (text, holds, value), got in zip(rules, earned, strict=True)
            ],
        }
    return explained
