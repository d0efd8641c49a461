"""What domain code needs to know about a family's guardians, without importing ``guardians``.

``guardians`` sits above ``domains`` (its models point at migrations), so domain code asks
through this small port: the guardians app registers its :class:`Guardianship` in its
``ready()`` and domain services and selectors call :func:`guardianship`. With no provider
registered the first question raises ``ImproperlyConfigured`` (a missing app must not quietly
count as "no approvals, no backups").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Exists, OuterRef, Prefetch

from domains.models import DomainMigration
from pubkyproject.pubky_client import PubkyClient

__all__ = ["BackupCheckRound", "Guardianship", "guardianship", "register"]


@dataclass
class BackupCheckRound:
    """What one round of guardian backup checks did (for ``verify_facts``)."""

    checked: int = 0
    errors: list[str] = field(default_factory=list)


class Guardianship(Protocol):
    """The guardians' answers domain code relies on."""

    def active_guardian_count(self, *, family_id: int) -> int:
        """How many active guardians the family has (who may decide on its migrations)."""

    def approvals_given(self, *, migration: DomainMigration) -> int:
        """How many *active* guardians approved ``migration`` (a revoked one's vote lapses)."""

    def rejected_by(self, *, migration: DomainMigration) -> str | None:
        """The name of an active guardian who rejected ``migration``, if any."""

    def approvals_prefetch(self) -> Prefetch:
        """The ``approvals`` of migrations, in decision order, for migration listings."""

    def verified_backup_exists(self, *, family: OuterRef) -> Exists:
        """An ``Exists`` that is true for a family with a current backup seen by
        ``verify_facts`` (``family`` refers to the family id of the outer query)."""

    def backup_verified_at(self, *, family_id: int) -> datetime | None:
        """When the family's most recently verified current backup was checked."""

    def backups_verify(self, *, client: PubkyClient) -> BackupCheckRound:
        """Check every backup reported current (or counted so far) on its homeserver."""


_provider: Guardianship | None = None


def register(provider: Guardianship) -> None:
    """Plug the guardians' provider in (once, from the guardians app's ``ready()``)."""
    global _provider
    _provider = provider


def guardianship() -> Guardianship:
    if _provider is None:
        raise ImproperlyConfigured(
            "No guardianship provider is registered: the 'guardians' app must be in INSTALLED_APPS."
        )
    return _provider
