"""The sovereignty score rubric (version 2): five components of 0-20 points, 0-100 in total.

Every point comes from a stored fact, and no fact that earns points is taken on the word of the
person it benefits: it is verified by this service, and the breakdown says per rule whether and
when (``explain``).

=======================  =========================================================  ======
component                rule                                                       points
=======================  =========================================================  ======
provider_independence    the domain resolves through Pubky (an active Pubky domain)  10
                         the family runs its own homeserver                          6
                         no registrar in the resolution path (never registered, or   4
                         a completed DNS → Pubky migration)
key_ownership            the family holds the key itself, proven (self-custody)      16
                         or: this service holds it, sealed at rest                   10
                         a guardian holds a current backup (only with a known key)   4
censorship_resistance    relays serving the current packet: 1 / 2 / 3+               8/14/20
                         or, DNS only: the registrar can take the name down          2
privacy                  the family runs its own homeserver                          8
                         the domain is private (not listed publicly)                 6
                         no registrar record (no WHOIS / registrar account)          6
portability              records live in a signed packet any relay can serve         10
                         there is a known key to take elsewhere                      6
                         the DNS records are stored (a zone to copy)                 4
=======================  =========================================================  ======

How each fact is established (``domains.services.facts``, ``manage.py verify_facts``):

* **key** — a service-custody key is generated and sealed here (held). A self-custody key counts
  only once its holder proved possession through pubkyauth (a signed AuthToken received over
  the HTTP relay, ``families.services.key_proofs``); an unproven claim earns no key-ownership
  or key portability points and never blocks the proven holder.
* **relays** — a relay counts while it serves the domain's current packet: set when it accepts
  the packet, and re-asked (GET) by ``verify_facts``; a relay that stops serving it stops
  counting, as does a copy past its lifetime.
* **self-hosted homeserver** — only when the packet the relays serve for the domain's key has
  ``_pubky`` pointing at the homeserver key the family proved (``PUT
  /api/families/<id>/homeserver/``). Never accepted as input.
* **guardian backup** — "current" only when the backup URL answers on its homeserver and was
  written after the family key's last rotation (checked by ``verify_facts``).
* **active on Pubky**, **private**, **DNS records**, **migration** — this service's own records.
* **registrar** — as entered by the family (nothing offline can check it); the breakdown marks it
  declared.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any

RUBRIC_VERSION = 2
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
    # Whether the key is held by this service or proven by its holder. Rubric-1 breakdowns
    # predate proofs and lack it: they are explained as they were scored.
    key_proven: bool = True


@dataclass(frozen=True)
class ScoreResult:
    components: dict[str, int]
    breakdown: dict[str, Any]

    @property
    def total(self) -> int:
        return sum(self.components.values())


#: Which stored fact each rule reads (the breakdown's verification entries are keyed by it).
FACT_OF_RULE: dict[str, tuple[str, ...]] = {
    "provider_independence": ("pubky", "self_hosted", "registrar"),
    "key_ownership": ("key", "key", "backup"),
    "censorship_resistance": ("relays", "registrar"),
    "privacy": ("self_hosted", "visibility", "registrar"),
    "portability": ("pubky", "key", "dns_records"),
}


def _rules(facts: DomainFacts) -> dict[str, list[tuple[str, bool, int]]]:
    """The rubric: for each component, its rules as (description, holds, points)."""
    registrar_free = not facts.has_registrar or facts.migrated_to_pubky
    known_key = facts.key_custody is not None and facts.key_proven
    relays = RELAY_POINTS[min(facts.relays_published, 3)] if facts.pubky_active else 0
    dns_only = not facts.pubky_active and facts.dns_record_count > 0
    return {
        "provider_independence": [
            ("resolves through Pubky", facts.pubky_active, 10),
            ("self-hosted homeserver (verified)", facts.self_hosted_homeserver, 6),
            ("no registrar in the resolution path", registrar_free, 4),
        ],
        "key_ownership": [
            (
                "family holds the key (self-custody, proven)",
                facts.key_custody == "family" and facts.key_proven,
                16,
            ),
            ("key held by this service, sealed at rest", facts.key_custody == "service", 10),
            (
                "a guardian holds a current backup (verified)",
                known_key and facts.guardian_backup_current,
                4,
            ),
        ],
        "censorship_resistance": [
            (f"packet served by {facts.relays_published} relay(s)", relays > 0, relays),
            ("registrar DNS only", dns_only, 2),
        ],
        "privacy": [
            ("self-hosted homeserver (verified)", facts.self_hosted_homeserver, 8),
            ("not listed publicly", facts.private, 6),
            ("no registrar record", registrar_free, 6),
        ],
        "portability": [
            ("records in a signed packet", facts.pubky_active, 10),
            ("a known key to take elsewhere", known_key, 6),
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


def explain(
    breakdown: dict[str, Any], verifications: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Expand a stored breakdown into each component's rules, points and maximum.

    Each rule also says how its fact is known: ``verified`` (checked by this service, not
    taken from the family's word), ``verified_at`` (when, ISO 8601, or null) and ``how``. The
    verifications come from ``verifications`` (read now) or those stored with the breakdown.
    """
    facts = DomainFacts(**breakdown["facts"])
    known = verifications if verifications is not None else breakdown.get("verified", {})
    explained: dict[str, Any] = {}
    for name, rules in _rules(facts).items():
        earned = breakdown["points"][name]
        entries = []
        for (text, holds, value), got, fact in zip(rules, earned, FACT_OF_RULE[name], strict=True):
            check = known.get(fact, {})
            entries.append(
                {
                    "rule": text,
                    "holds": holds,
                    "points": got,
                    "max": value,
                    "fact": fact,
                    "verified": check.get("verified"),
                    "verified_at": check.get("verified_at"),
                    "how": check.get("how", ""),
                }
            )
        explained[name] = {
            "points": min(sum(earned), COMPONENT_MAX),
            "max": COMPONENT_MAX,
            "rules": entries,
        }
    return explained
