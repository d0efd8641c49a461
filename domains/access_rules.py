"""The domains app's part of the access policy (:mod:`pubkyproject.policy`).

Registered from :meth:`domains.apps.DomainsConfig.ready`: how each domain object reaches its
family, domain, Pubky domain and visibility, and that grants may name a domain or a Pubky domain.
"""

from __future__ import annotations

from domains.models import (
    DnsRecord,
    DomainMigration,
    DomainRecord,
    PkarrRecord,
    PubkyDomain,
    SovereigntyScore,
)
from pubkyproject import policy


def register() -> None:
    via_domain = policy.Paths(
        family="domain__family_id", domain="domain_id", visibility="domain__visibility"
    )
    policy.register_paths(
        DomainRecord, policy.Paths(family="family_id", domain="pk", visibility="visibility")
    )
    policy.register_paths(DnsRecord, via_domain)
    policy.register_paths(SovereigntyScore, via_domain)
    policy.register_paths(DomainMigration, via_domain)
    policy.register_paths(
        PubkyDomain,
        policy.Paths(
            family="family_id", domain="domain_id", pubky_domain="pk", visibility="visibility"
        ),
    )
    policy.register_paths(
        PkarrRecord,
        policy.Paths(
            family="pubky_domain__family_id",
            domain="pubky_domain__domain_id",
            pubky_domain="pubky_domain_id",
            visibility="pubky_domain__visibility",
        ),
    )
    policy.register_grant_target(DomainRecord, "domain")
    policy.register_grant_target(PubkyDomain, "pubky_domain")
