"""One call that moves a migration to its next step (what the API's ``advance`` does)."""

from __future__ import annotations

from domains.models import DomainMigration, MigrationState
from domains.services.migration.errors import InvalidTransition
from domains.services.migration.execute import domain_migration_execute
from domains.services.migration.lifecycle import domain_migration_verify
from pubkyproject.pubky_client import PubkyClient

__all__ = ["domain_migration_advance"]


def domain_migration_advance(
    *, migration: DomainMigration, client: PubkyClient | None = None
) -> DomainMigration:
    """Verify a pending/verifying migration, or carry out a verified one.

    Errors are the step's own (``ChallengeMismatch``, ``ApprovalRequired``, ``PublishFailed``,
    …); a migration that is not open raises :class:`InvalidTransition`.
    """
    if migration.state in (MigrationState.PENDING, MigrationState.VERIFYING):
        return domain_migration_verify(migration=migration)
    if migration.state == MigrationState.VERIFIED:
        return domain_migration_execute(migration=migration, client=client)
    if migration.state == MigrationState.FAILED:
        where = f" at {migration.failed_step}" if migration.failed_step else ""
        raise InvalidTransition(
            f"migration {migration.pk} failed{where}: {migration.error or 'no reason recorded'}; "
            "retry it (POST …/retry/) to resume from that step, or cancel it"
        )
    hints: dict[str, str] = {
        MigrationState.PUBLISHING: "it is being carried out now",
        MigrationState.COMPLETED: "it is done; roll it back to undo it",
    }
    hint = hints.get(migration.state, "open a new migration")
    raise InvalidTransition(
        f"migration {migration.pk} is {migration.state}; nothing to advance ({hint})",
        code="invalid_transition",
    )
