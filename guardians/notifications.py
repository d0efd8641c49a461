"""What guardians are told when domain code announces something (``domains.signals``).

Each function here composes one kind of notification from an announcement and stores it with
:func:`guardians.services.guardian_notification_create`; ``guardians.receivers`` connects
them. Whether the guardians care is decided here, not by the code that announced:

=================================  ===========================================================
announcement                       notification (``kind``), when
=================================  ===========================================================
``migration_opened``               ``migration_approval_requested``, if it needs approvals
``migration_failed``               ``migration_failed``, if it needed approvals when it failed
``migration_cancelled``            ``migration_cancelled``, if it needs approvals (the policy
                                   now, never fewer than when it opened)
``pubky_domain_suspended``         ``pubky_domain_suspended``, for a claim that was never live
                                   (a live one's change is seen on its row,
                                   ``guardians.domain_changes``)
``pubky_domain_republished``       ``pubky_domain_republished`` (for families with guardians)
``relay_transition``               ``relay_down`` / ``relay_up``, one per affected family
=================================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from domains.models import DomainMigration, PubkyDomain
from domains.services.migration import domain_migration_approvals_required
from domains.services.wording import migration_problem, relay_problem
from families.models import Family
from guardians.models import GuardianNotification
from guardians.services import guardian_domain_change_notify, guardian_notification_create
from pubky.relay_client import RelayResult

__all__ = [
    "migration_cancelled_notify",
    "migration_failed_notify",
    "migration_opened_notify",
    "pubky_domain_republished_notify",
    "pubky_domain_suspended_notify",
    "relay_transition_notify",
]


def _migration_notify(
    migration: DomainMigration, kind: str, title: str, message: str = ""
) -> GuardianNotification:
    return guardian_notification_create(
        family=migration.domain.family,
        kind=kind,
        title=title,
        message=message,
        payload={
            "migration_id": migration.pk,
            "domain": migration.domain.name,
            "direction": migration.direction,
            "state": migration.state,
        },
    )


def migration_opened_notify(*, migration: DomainMigration) -> GuardianNotification | None:
    """Ask the family's guardians to approve a migration that needs their approval."""
    required = migration.approvals_required
    if not required:
        return None
    name = migration.domain.name
    return _migration_notify(
        migration,
        "migration_approval_requested",
        f"Approve moving {name}",
        f"{required} guardian approval(s) needed to move {name} "
        f"({migration.get_direction_display()}).",
    )


def migration_failed_notify(
    *, migration: DomainMigration, reason: str
) -> GuardianNotification | None:
    """Tell the guardians that a migration they had to approve failed, and why in plain words
    (the raw reason stays in the migration's ``error``)."""
    if not migration.approvals_required:
        return None
    message = migration_problem(reason)[:500]
    return _migration_notify(
        migration, "migration_failed", f"Moving {migration.domain.name} failed", message
    )


def migration_cancelled_notify(
    *, migration: DomainMigration, reason: str
) -> GuardianNotification | None:
    """Tell the guardians that a migration needing their approval was cancelled."""
    if not domain_migration_approvals_required(migration):
        return None
    return _migration_notify(
        migration, "migration_cancelled", f"Moving {migration.domain.name} was cancelled", reason
    )


def pubky_domain_suspended_notify(
    *, pubky_domain: PubkyDomain, reason: str, was_active: bool
) -> GuardianNotification | None:
    """Tell the guardians that their family's claim of a key was suspended, and why.

    An active domain that stops being active is already announced by the change receivers
    (``guardians.domain_changes``, with the reason); only a claim that was never live needs
    its own notification.
    """
    if was_active:
        return None
    return guardian_notification_create(
        family=pubky_domain.family,
        kind="pubky_domain_suspended",
        title=f"{pubky_domain.name} was suspended",
        message=reason,
        payload={
            "pubky_domain_id": pubky_domain.pk,
            "domain": pubky_domain.name,
            "public_key": pubky_domain.public_key,
        },
    )


def pubky_domain_republished_notify(
    *, pubky_domain: PubkyDomain, relays: Sequence[str]
) -> GuardianNotification | None:
    """Tell the guardians that the family published its active domain again."""
    return guardian_domain_change_notify(
        family_id=pubky_domain.family_id,
        kind="pubky_domain_republished",
        title=f"{pubky_domain.name} was published again",
        domain_id=pubky_domain.domain_id,
        domain_name=pubky_domain.name,
        message=f"{len(relays)} relay(s) hold its current packet.",
        detail={"public_key": pubky_domain.public_key, "relays": list(relays)},
    )


def relay_transition_notify(
    *,
    url: str,
    transition: str,
    result: RelayResult,
    affected: Mapping[int, Sequence[str]],
) -> list[GuardianNotification]:
    """One notification per family with active Pubky domains on a relay that went down or
    came back up (``transition`` is ``"down"`` or ``"up"``)."""
    families = Family.objects.in_bulk(list(affected))
    notifications = []
    for family_id, names in affected.items():
        if transition == "down":
            title = f"Relay {url} is down"
            problem = relay_problem(result.error or "", result.status, url=url)
            if len(names) == 1:
                message = "1 of your Pubky domains is published on it; it stays reachable "
                message += "through the other relays. "
            else:
                message = f"{len(names)} of your Pubky domains are published on it; they stay "
                message += "reachable through the other relays. "
            message += problem
        else:
            title = f"Relay {url} is back up"
            verb = "is" if len(names) == 1 else "are"
            message = f"{len(names)} of your Pubky domains {verb} served by it again."
        notifications.append(
            guardian_notification_create(
                family=families[family_id],
                kind=f"relay_{transition}",
                title=title,
                message=message,
                payload={"relay_url": url, "domains": list(names), "error": result.error or ""},
            )
        )
    return notifications
