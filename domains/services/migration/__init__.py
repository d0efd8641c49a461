"""Moving a domain between registrar DNS and Pubky, as a state machine on ``DomainMigration``.

::

    pending ──verify──▶ verifying ──verify──▶ verified ──execute──▶ publishing ──▶ completed
       │                   │  ▲ (no match yet)    │                     │              │
       └──────fail─────────┴──┴───────fail────────┴────────fail─────────┘          rollback
                                     ▼  ──retry──▶ (the step that failed)              ▼
                                   failed ──cancel──▶ cancelled                   rolled_back

* **Ownership** is proven with a DNS TXT record ``_pubky-challenge.<domain>`` holding the
  random token stored on the migration, looked up with dnspython against
  ``PUBKY_DNS_RESOLVERS`` (the system resolver when empty). A lookup that finds no match
  moves the migration to ``verifying`` with the reason in ``error`` and raises
  :class:`ChallengeMismatch`; DNS changes take time, so the caller simply verifies again.
* **Guardians**: when the family requires it, active guardians must approve before
  :func:`domain_migration_execute` runs; one rejection fails the migration (see
  ``guardians.services``). This package never calls guardian code: it asks how many
  approved through ``domains.guardianship`` and announces openings, failures and
  cancellations (``domains.signals``), which the guardians app turns into notifications.
  How many is decided when it counts, at each decision and at execution: the family's
  policy *then*, never fewer than ``approvals_required`` (the policy when the migration was
  created), so raising the threshold later holds and lowering it, or switching approval off,
  does not let a migration through with fewer approvals. A guardian
  who leaves the family (revoked or removed) loses their votes on unfinished migrations.
* **Retry and cancel**: a failed migration remembers the step that failed (``failed_step``);
  :func:`domain_migration_retry` reopens it there (a failed publish is retried from
  ``verified``, approvals re-checked), unless a guardian rejected it.
  :func:`domain_migration_cancel` ends an open or failed migration for good (``cancelled``).
* **Execute** snapshots the domain into ``previous_state``, then does the network work with no
  transaction open: DNS → Pubky signs the domain's DNS records into a PKARR packet and puts it
  on every relay; Pubky → DNS reads the packet back into DNS records and retires the key. The
  result is written in one transaction; any failure marks the migration ``failed`` and
  restores the domain's status, writing nothing else.
* **Rollback** restores the snapshot: domain fields, the exact DNS record set and the Pubky
  domain's status. A retired Pubky domain is no longer republished, so its relay copies
  lapse within two hours (the DHT's retention).

Every transition is checked: anything else raises :class:`InvalidTransition` naming the state.

The modules: ``errors``; ``dns`` (resolver set-up, TXT and record lookups); ``state`` (the
state machine's primitives); ``approvals``; ``lifecycle`` (open, verify, fail, retry,
cancel); ``record_import`` (live DNS or a PKARR packet into stored records); ``execute``;
``rollback`` (the snapshot and its restoration); ``advance`` (the next step, whatever it is).
Their public names are importable from here.
"""

from __future__ import annotations

from domains.services.migration.advance import domain_migration_advance
from domains.services.migration.approvals import (
    domain_migration_approvals,
    domain_migration_approvals_required,
)
from domains.services.migration.dns import dns_resolver, dns_txt_lookup
from domains.services.migration.errors import (
    ApprovalRequired,
    ChallengeMismatch,
    DnsLookupFailed,
    InvalidTransition,
    MigrationConflict,
    MigrationError,
)
from domains.services.migration.execute import domain_migration_execute
from domains.services.migration.lifecycle import (
    CHALLENGE_LABEL,
    create_domain_migration,
    domain_migration_cancel,
    domain_migration_fail,
    domain_migration_retry,
    domain_migration_verify,
)
from domains.services.migration.record_import import dns_records_import
from domains.services.migration.rollback import domain_migration_rollback

__all__ = [
    "CHALLENGE_LABEL",
    "ApprovalRequired",
    "ChallengeMismatch",
    "DnsLookupFailed",
    "InvalidTransition",
    "MigrationConflict",
    "MigrationError",
    "create_domain_migration",
    "dns_records_import",
    "dns_resolver",
    "dns_txt_lookup",
    "domain_migration_advance",
    "domain_migration_approvals",
    "domain_migration_approvals_required",
    "domain_migration_cancel",
    "domain_migration_execute",
    "domain_migration_fail",
    "domain_migration_retry",
    "domain_migration_rollback",
    "domain_migration_verify",
]
