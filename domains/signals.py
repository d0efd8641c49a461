"""What the domains app announces to the apps above it (Django signals).

Domain code says *what happened* and never calls the code that reacts: ``guardians`` (which
sits above ``domains``) connects its receivers in its ``ready()`` and turns these into
notifications. Each signal is sent through one ``announce_*`` function below, so every sender
passes the same typed arguments; receivers take them as keyword arguments.

Every signal is sent inside the transaction of the change it describes (a receiver's writes
commit or roll back with it) and with ``send`` (not ``send_robust``): a receiver that fails
fails the change, as if the code were called directly.

==================================  ===========================================================
signal                              arguments (besides ``sender``)
==================================  ===========================================================
``migration_opened``                ``migration``: a new migration (``approvals_required`` set)
``migration_failed``                ``migration`` (``failed``), ``reason``: the raw reason
``migration_cancelled``             ``migration`` (``cancelled``), ``reason`` as given
``pubky_domain_suspended``          ``pubky_domain``, ``reason``, ``was_active``: whether the
                                    claim was live (then its change is seen on the row too)
``pubky_domain_republished``        ``pubky_domain``: an active domain the family asked to
                                    publish again, ``relays``: the relays that now hold it
``relay_transition``                ``url``, ``transition`` (``"up"``/``"down"``), ``result``:
                                    the probe, ``affected``: family id → names of its active
                                    Pubky domains published on that relay
==================================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.dispatch import Signal

from domains.models import DomainMigration, PubkyDomain, RelayStatus
from pubky.relay_client import RelayResult

__all__ = [
    "announce_migration_cancelled",
    "announce_migration_failed",
    "announce_migration_opened",
    "announce_pubky_domain_republished",
    "announce_pubky_domain_suspended",
    "announce_relay_transition",
    "migration_cancelled",
    "migration_failed",
    "migration_opened",
    "pubky_domain_republished",
    "pubky_domain_suspended",
    "relay_transition",
]

migration_opened = Signal()
migration_failed = Signal()
migration_cancelled = Signal()
pubky_domain_suspended = Signal()
pubky_domain_republished = Signal()
relay_transition = Signal()


def announce_migration_opened(*, migration: DomainMigration) -> None:
    migration_opened.send(sender=DomainMigration, migration=migration)


def announce_migration_failed(*, migration: DomainMigration, reason: str) -> None:
    migration_failed.send(sender=DomainMigration, migration=migration, reason=reason)


def announce_migration_cancelled(*, migration: DomainMigration, reason: str) -> None:
    migration_cancelled.send(sender=DomainMigration, migration=migration, reason=reason)


def announce_pubky_domain_suspended(
    *, pubky_domain: PubkyDomain, reason: str, was_active: bool
) -> None:
    pubky_domain_suspended.send(
        sender=PubkyDomain, pubky_domain=pubky_domain, reason=reason, was_active=was_active
    )


def announce_pubky_domain_republished(*, pubky_domain: PubkyDomain, relays: Sequence[str]) -> None:
    pubky_domain_republished.send(
        sender=PubkyDomain, pubky_domain=pubky_domain, relays=list(relays)
    )


def announce_relay_transition(
    *,
    url: str,
    transition: str,
    result: RelayResult,
    affected: Mapping[int, Sequence[str]],
) -> None:
    relay_transition.send(
        sender=RelayStatus, url=url, transition=transition, result=result, affected=affected
    )
