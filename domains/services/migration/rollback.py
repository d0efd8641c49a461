"""Undoing a completed migration from the snapshot taken when it was carried out.

:func:`migration_snapshot` records, just before execution, what a rollback restores: the
domain's fields, its exact DNS record set and the Pubky domain's status.
:func:`domain_migration_rollback` puts them back. A retired Pubky domain is no longer
republished, so its relay copies lapse within two hours (the DHT's retention).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from domains.models import (
    DnsRecord,
    DomainMigration,
    DomainRecord,
    DomainStatus,
    MigrationState,
    PubkyDomain,
    PubkyDomainStatus,
)
from domains.services.migration.errors import InvalidTransition
from domains.services.migration.state import (
    migration_finish,
    migration_locked,
    migration_sync,
    require_state,
)
from domains.services.scoring import calculate_sovereignty_score

__all__ = ["SNAPSHOT_DOMAIN_FIELDS", "domain_migration_rollback", "migration_snapshot"]

# The domain's fields a migration changes, so the snapshot keeps and a rollback restores.
SNAPSHOT_DOMAIN_FIELDS = (
    "status",
    "pubky_enabled",
    "pubky_relay_url",
    "pubky_homeserver_url",
    "registrar",
    "dns_provider",
)


def migration_snapshot(
    domain: DomainRecord, pubky_domain: PubkyDomain | None, status: str
) -> dict[str, Any]:
    """What a rollback restores (stored as the migration's ``previous_state``); ``status`` is
    the domain's status before the migration opened (it is ``migrating`` by now)."""
    fields: dict[str, Any] = {name: getattr(domain, name) for name in SNAPSHOT_DOMAIN_FIELDS}
    fields["status"] = status
    return {
        "domain": fields,
        "dns_records": [
            [r.name, r.rtype, r.value, r.ttl]
            for r in domain.dns_records.order_by("name", "rtype", "value")
        ],
        "pubky_domain": (
            {"id": pubky_domain.pk, "status": pubky_domain.status}
            if pubky_domain is not None
            else None
        ),
    }


@transaction.atomic
def domain_migration_rollback(*, migration: DomainMigration, reason: str = "") -> DomainMigration:
    """Undo a completed migration from its ``previous_state`` snapshot.

    Restores the domain's fields, its exact DNS record set (rows are deleted and created
    one by one so receivers see each) and the Pubky domain's status; a Pubky domain the
    migration created is disabled (its sealed key is kept for audit and a later retry).
    Only the latest completed migration of a domain can be rolled back.
    """
    locked = migration_locked(migration)
    require_state(locked, "roll back", (MigrationState.COMPLETED,))
    domain = DomainRecord.objects.select_for_update().get(pk=locked.domain_id)
    newer = domain.migrations.exclude(pk=locked.pk).filter(created_at__gt=locked.created_at)
    if newer.exclude(
        state__in=(MigrationState.FAILED, MigrationState.CANCELLED, MigrationState.ROLLED_BACK)
    ).exists():
        raise InvalidTransition(
            f"{domain.name} has a newer migration than {locked.pk}; roll that one back first"
        )
    snapshot = locked.previous_state or {}
    fields = snapshot.get("domain", {})
    for name in SNAPSHOT_DOMAIN_FIELDS:
        if name in fields:
            setattr(domain, name, fields[name])
    if domain.status == DomainStatus.MIGRATING:
        domain.status = DomainStatus.ACTIVE
    domain.full_clean()
    domain.save()

    wanted = {(n, t, v): ttl for n, t, v, ttl in snapshot.get("dns_records", [])}
    for row in list(domain.dns_records.all()):
        key = (row.name, row.rtype, row.value)
        if key not in wanted:
            row.delete()
        elif row.ttl != wanted[key]:
            row.ttl = wanted[key]
            row.save()
        wanted.pop(key, None)
    for (name, rtype, value), ttl in wanted.items():
        row = DnsRecord(domain=domain, name=name, rtype=rtype, value=value, ttl=ttl)
        row.full_clean()
        row.save()

    before = snapshot.get("pubky_domain")
    pubky_domain = PubkyDomain.objects.select_for_update().filter(domain=domain).first()
    if pubky_domain is not None:
        pubky_domain.status = before["status"] if before else PubkyDomainStatus.DISABLED
        pubky_domain.full_clean()
        pubky_domain.save()

    locked.error = reason[:5000]
    migration_finish(locked, MigrationState.ROLLED_BACK)
    calculate_sovereignty_score(domain=domain, reason="migration_rolled_back")
    return migration_sync(migration, locked)
