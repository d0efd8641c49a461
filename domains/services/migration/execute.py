"""Carrying out a verified (and, where required, approved) migration.

Execution snapshots the domain into ``previous_state`` (what a rollback restores), then does
the network work with no transaction open: DNS → Pubky signs the domain's DNS records into a
PKARR packet and puts it on every relay; Pubky → DNS reads the packet back into DNS records
and retires the key. The result is written in one transaction; any failure marks the
migration ``failed`` and restores the domain's status, writing nothing else.
"""

from __future__ import annotations

from django.db import transaction

from domains.models import (
    DomainMigration,
    DomainStatus,
    KeyCustody,
    MigrationDirection,
    MigrationState,
    PubkyDomain,
    PubkyDomainStatus,
)
from domains.services.migration.approvals import (
    domain_migration_approvals,
    domain_migration_approvals_required,
)
from domains.services.migration.errors import ApprovalRequired, MigrationConflict
from domains.services.migration.lifecycle import domain_migration_fail
from domains.services.migration.record_import import packet_records_import
from domains.services.migration.rollback import migration_snapshot
from domains.services.migration.state import (
    migration_finish,
    migration_locked,
    migration_sync,
    require_state,
)
from domains.services.publishing import (
    PublishOutcome,
    packet_publish,
    packet_records_for,
    packet_sign,
    pubky_domain_keypair_open,
    publish_outcome_apply,
)
from domains.services.registration import create_pubky_domain, domain_homeserver_account
from domains.services.scoring import calculate_sovereignty_score
from pubky.keys import Keypair
from pubky.packet import SignedPacket
from pubkyproject.pubky_client import PubkyClient, PubkyServiceError, pubky_client

__all__ = ["domain_migration_execute"]


def _begin_publishing(migration: DomainMigration) -> DomainMigration:
    """verified → publishing, with the snapshot taken, in one short transaction."""
    with transaction.atomic():
        locked = migration_locked(migration)
        require_state(locked, "execute", (MigrationState.VERIFIED,))
        required = domain_migration_approvals_required(locked)
        approved = domain_migration_approvals(locked)
        if approved < required:
            raised = (
                f" (the family's threshold was raised from {locked.approvals_required})"
                if required > locked.approvals_required
                else ""
            )
            raise ApprovalRequired(
                f"migration {locked.pk} of {locked.domain.name} needs {required} guardian "
                f"approval(s){raised}; {approved} given"
            )
        domain = locked.domain
        pubky_domain = PubkyDomain.objects.filter(domain=domain).first()
        original = locked.previous_state.get("domain", {}).get("status", DomainStatus.ACTIVE)
        locked.previous_state = migration_snapshot(domain, pubky_domain, original)
        locked.approvals_required = required  # what it was approved under (never lower)
        locked.pubky_domain = pubky_domain
        locked.state = MigrationState.PUBLISHING
        locked.error = ""
        locked.full_clean()
        locked.save()
    return migration_sync(migration, locked)


def domain_migration_execute(
    *, migration: DomainMigration, client: PubkyClient | None = None
) -> DomainMigration:
    """Carry out a verified (and, if required, approved) migration.

    Raises :class:`ApprovalRequired` without changing anything while approvals are missing.
    Any failure after that marks the migration ``failed`` (domain status restored, nothing
    else written) and re-raises the typed error.
    """
    client = client or pubky_client()
    _begin_publishing(migration)
    try:
        if migration.direction == MigrationDirection.DNS_TO_PUBKY:
            _execute_dns_to_pubky(migration, client)
        else:
            _execute_pubky_to_dns(migration, client)
    except PubkyServiceError as exc:
        domain_migration_fail(migration=migration, reason=str(exc))
        raise
    except Exception as exc:
        domain_migration_fail(migration=migration, reason=f"{type(exc).__name__}: {exc}")
        raise
    return migration


def _execute_dns_to_pubky(migration: DomainMigration, client: PubkyClient) -> None:
    domain = migration.domain
    existing = PubkyDomain.objects.filter(domain=domain).first()
    if existing is not None and existing.key_custody == KeyCustody.SERVICE:
        # A domain that was on Pubky before keeps its key (and its name on the relays).
        keypair = pubky_domain_keypair_open(
            pubky_domain=existing, purpose="sign PKARR packet (migration)"
        )
        cas = existing.last_packet_timestamp
        homeserver_key = existing.homeserver_key or domain_homeserver_account(
            keypair=keypair, family=domain.family, client=client
        )
    elif existing is not None:
        raise MigrationConflict(
            f"{domain.name} has a self-custody key; the family must publish its packet"
        )
    else:
        keypair = client.generate_keypair()
        cas = None
        homeserver_key = domain_homeserver_account(
            keypair=keypair, family=domain.family, client=client
        )
    records = packet_records_for(domain, homeserver_key=homeserver_key)
    packet = packet_sign(keypair=keypair, records=records, domain_name=domain.name, after=cas)

    def resign(newest: int) -> SignedPacket:
        return packet_sign(keypair=keypair, records=records, domain_name=domain.name, after=newest)

    outcome = packet_publish(packet=packet, cas=cas, client=client, resign=resign)
    outcome.raise_if_nothing_stored(domain.name)
    _complete_dns_to_pubky(migration, keypair, existing, outcome, client, homeserver_key)


@transaction.atomic
def _complete_dns_to_pubky(
    migration: DomainMigration,
    keypair: Keypair,
    existing: PubkyDomain | None,
    outcome: PublishOutcome,
    client: PubkyClient,
    homeserver_key: str,
) -> None:
    locked = migration_locked(migration)
    require_state(locked, "complete", (MigrationState.PUBLISHING,))
    domain = locked.domain
    homeserver_url = domain.family.pubky_homeserver_url or client.homeserver_base_url or ""
    if existing is None:
        pubky_domain = create_pubky_domain(
            domain=domain,
            keypair=keypair,
            homeserver_url=homeserver_url,
            homeserver_key=homeserver_key,
        )
    else:
        pubky_domain = PubkyDomain.objects.select_for_update().get(pk=existing.pk)
        if homeserver_key and pubky_domain.homeserver_key != homeserver_key:
            pubky_domain.homeserver_key = homeserver_key  # saved with the publish outcome
    locked.pubky_domain = pubky_domain
    migration_finish(locked, MigrationState.COMPLETED)
    domain.refresh_from_db()
    domain.status = DomainStatus.ACTIVE
    domain.pubky_homeserver_url = homeserver_url
    domain.full_clean()
    domain.save()
    # Scores the domain too, now that the migration counts as completed.
    publish_outcome_apply(pubky_domain=pubky_domain, outcome=outcome, reason="migration_completed")
    migration_sync(migration, locked)


def _execute_pubky_to_dns(migration: DomainMigration, client: PubkyClient) -> None:
    domain = migration.domain
    pubky_domain = PubkyDomain.objects.filter(domain=domain).first()
    if pubky_domain is None:
        raise MigrationConflict(f"{domain.name} has no Pubky domain")
    packet = client.resolve(pubky_domain.public_key)
    _complete_pubky_to_dns(migration, pubky_domain, packet)


@transaction.atomic
def _complete_pubky_to_dns(
    migration: DomainMigration, pubky_domain: PubkyDomain, packet: SignedPacket | None
) -> None:
    locked = migration_locked(migration)
    require_state(locked, "complete", (MigrationState.PUBLISHING,))
    domain = locked.domain
    packet_records_import(domain=domain, packet=packet)
    pubky_domain = PubkyDomain.objects.select_for_update().get(pk=pubky_domain.pk)
    pubky_domain.status = PubkyDomainStatus.DISABLED
    pubky_domain.full_clean()
    pubky_domain.save()
    migration_finish(locked, MigrationState.COMPLETED)
    domain.refresh_from_db()
    domain.status = DomainStatus.ACTIVE
    domain.pubky_enabled = False
    domain.pubky_relay_url = ""
    domain.full_clean()
    domain.save()
    calculate_sovereignty_score(domain=domain, reason="migration_completed")
    migration_sync(migration, locked)
