"""The errors of migrations (each has its API error ``code``)."""

from __future__ import annotations

from pubkyproject.pubky_client import PubkyServiceError

__all__ = [
    "ApprovalRequired",
    "ChallengeMismatch",
    "DnsLookupFailed",
    "InvalidTransition",
    "MigrationConflict",
    "MigrationError",
]


class MigrationError(PubkyServiceError):
    """Base of the migration errors."""

    code = "migration_error"


class InvalidTransition(MigrationError):
    """The migration is not in a state that allows the requested step."""

    code = "invalid_transition"


class MigrationConflict(MigrationError):
    """The domain cannot start this migration (another is open, or it is already there)."""

    code = "migration_conflict"


class ChallengeMismatch(MigrationError):
    """The ``_pubky-challenge`` TXT record is missing or holds another value."""

    code = "challenge_mismatch"


class DnsLookupFailed(MigrationError):
    """The resolvers could not answer (timeout, SERVFAIL, no reachable server)."""

    code = "dns_lookup_failed"


class ApprovalRequired(MigrationError):
    """Guardian approval is required and not (yet) given."""

    code = "approval_required"
