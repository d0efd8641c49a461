"""The primitives of the migration state machine: checking, locking and finishing a step.

Each step locks the migration row (:func:`migration_locked`), checks that its state allows the
step (:func:`require_state`, which names the real state and what can be done with it), writes
the new state (:func:`migration_finish` for the final ones), and hands the caller's instance
back up to date (:func:`migration_sync`).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from domains.models import DomainMigration, MigrationState
from domains.services.migration.errors import InvalidTransition

__all__ = [
    "migration_finish",
    "migration_locked",
    "migration_state_text",
    "migration_sync",
    "require_state",
]

# What can be done with a migration in each final state, for error messages.
_NEXT_STEPS: dict[str, str] = {
    MigrationState.FAILED: "retry it (from the step that failed) or cancel it",
    MigrationState.COMPLETED: "roll it back to undo it",
    MigrationState.CANCELLED: "open a new migration",
    MigrationState.ROLLED_BACK: "open a new migration",
}


def migration_state_text(migration: DomainMigration) -> str:
    """``failed at publishing (reason)``, ``completed``, … : the real state, for messages."""
    if migration.state == MigrationState.FAILED:
        where = f" at {migration.failed_step}" if migration.failed_step else ""
        error = f" ({migration.error[:200]})" if migration.error else ""
        return f"failed{where}{error}"
    return str(migration.state)


def require_state(migration: DomainMigration, step: str, allowed: Iterable[str]) -> None:
    """Raise :class:`InvalidTransition` unless ``migration`` is in one of ``allowed``."""
    allowed = tuple(allowed)
    if migration.state not in allowed:
        hint = _NEXT_STEPS.get(migration.state)
        raise InvalidTransition(
            f"migration {migration.pk} of {migration.domain.name} is "
            f"{migration_state_text(migration)}; cannot {step} it "
            f"(only from {', '.join(allowed)})" + (f"; {hint}" if hint else "")
        )


def migration_locked(migration: DomainMigration) -> DomainMigration:
    """The migration's row, locked for the rest of the transaction, with its domain."""
    return DomainMigration.objects.select_for_update().select_related("domain").get(pk=migration.pk)


def migration_sync(target: DomainMigration, source: DomainMigration) -> DomainMigration:
    """Bring the caller's instance up to date with the row ``source`` saved.

    Services work on a locked copy but return the caller's object, so callers keep one
    instance; reloading (rather than copying fields) also drops stale cached relations.
    """
    if target is not source:
        target.refresh_from_db()
    return target


def migration_finish(migration: DomainMigration, state: str) -> None:
    """Save ``migration`` in ``state``, stamping when it completed or was rolled back."""
    migration.state = state
    now = timezone.now()
    if state == MigrationState.COMPLETED:
        migration.completed_at = now
    elif state == MigrationState.ROLLED_BACK:
        migration.rolled_back_at = now
    migration.full_clean()
    migration.save()
