"""``manage.py migrate_domain <action> <domain>`` — drive a domain migration by hand.

Actions: ``start`` (issue the DNS challenge), ``verify`` (look the challenge up; optionally
import the live records), ``execute`` (publish / move back), ``rollback``, ``cancel`` and
``status``. Each calls one service of :mod:`domains.services.migration`; their typed errors
become a ``CommandError`` with the service's message.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from domains.models import (
    OPEN_MIGRATION_STATES,
    DomainMigration,
    DomainRecord,
    MigrationDirection,
    MigrationState,
)
from domains.services.migration import (
    create_domain_migration,
    domain_migration_approvals,
    domain_migration_execute,
    domain_migration_fail,
    domain_migration_rollback,
    domain_migration_verify,
)
from pubkyproject.pubky_client import PubkyServiceError

ACTIONS = ("start", "verify", "execute", "rollback", "cancel", "status")
DIRECTIONS = {
    "dns-to-pubky": MigrationDirection.DNS_TO_PUBKY,
    "pubky-to-dns": MigrationDirection.PUBKY_TO_DNS,
}


class Command(BaseCommand):
    help = "Move a domain between registrar DNS and Pubky: " + ", ".join(ACTIONS) + "."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=ACTIONS)
        parser.add_argument("domain", help="the domain name")
        parser.add_argument(
            "--direction", choices=sorted(DIRECTIONS), default="dns-to-pubky", help="for start"
        )
        parser.add_argument(
            "--import-records",
            action="store_true",
            help="for verify: copy the live apex and www records into the stored ones",
        )
        parser.add_argument("--reason", default="", help="for rollback and cancel")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["domain"].strip().rstrip(".").lower()
        domain = DomainRecord.objects.select_related("family").filter(name=name).first()
        if domain is None:
            raise CommandError(f"unknown domain {name!r}")
        action = options["action"]
        try:
            if action == "start":
                migration = create_domain_migration(
                    domain=domain, direction=DIRECTIONS[options["direction"]]
                )
                self.stdout.write(f"migration {migration.pk} started ({migration.direction}).")
                self.stdout.write("Prove ownership by publishing this DNS record, then verify:")
                self.stdout.write(
                    f'  {migration.challenge_name}. 300 IN TXT "{migration.challenge_value}"'
                )
            elif action == "verify":
                migration = self._open(domain)
                domain_migration_verify(
                    migration=migration, import_records=options["import_records"]
                )
                self.stdout.write(self.style.SUCCESS(f"migration {migration.pk} verified"))
            elif action == "execute":
                migration = self._open(domain)
                domain_migration_execute(migration=migration)
                self.stdout.write(self.style.SUCCESS(f"migration {migration.pk} completed"))
            elif action == "rollback":
                migration = self._latest(domain, MigrationState.COMPLETED)
                domain_migration_rollback(migration=migration, reason=options["reason"])
                self.stdout.write(self.style.SUCCESS(f"migration {migration.pk} rolled back"))
            elif action == "cancel":
                migration = self._open(domain)
                domain_migration_fail(
                    migration=migration, reason=options["reason"] or "cancelled by an operator"
                )
                self.stdout.write(f"migration {migration.pk} cancelled")
            else:
                self._status(domain)
        except (PubkyServiceError, ValidationError) as exc:
            message = exc.message if isinstance(exc, PubkyServiceError) else "; ".join(exc.messages)
            raise CommandError(message) from exc

    def _open(self, domain: DomainRecord) -> DomainMigration:
        migration = domain.migrations.filter(state__in=OPEN_MIGRATION_STATES).first()
        if migration is None:
            raise CommandError(f"{domain.name} has no migration in progress (start one)")
        return migration

    def _latest(self, domain: DomainRecord, state: str) -> DomainMigration:
        migration = domain.migrations.filter(state=state).order_by("-completed_at", "-pk").first()
        if migration is None:
            raise CommandError(f"{domain.name} has no {state} migration")
        return migration

    def _status(self, domain: DomainRecord) -> None:
        migrations = list(domain.migrations.order_by("-created_at", "-pk")[:10])
        if not migrations:
            self.stdout.write(f"{domain.name}: no migrations")
            return
        for migration in migrations:
            line = f"{migration.pk}: {migration.direction} {migration.state}"
            if migration.approvals_required:
                approved = domain_migration_approvals(migration)
                line += f", approvals {approved}/{migration.approvals_required}"
            if migration.error:
                line += f" - {migration.error}"
            self.stdout.write(line)
