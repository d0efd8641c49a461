"""Verifying the facts the sovereignty score believes (nothing is taken on the family's word).

* :func:`pkarr_records_verify` asks every relay a domain was published to what it serves now
  (GET); a relay counts only while it serves the current packet.
* :func:`domain_self_hosting_verify` reads the packet the relays serve for the domain's key:
  the domain is self-hosted only when its ``_pubky`` points at the homeserver key the family
  proved (``families.services.key_claims.family_homeserver_attach``).
* :func:`guardian_backup_verify` fetches a guardian's backup URL from its homeserver: a backup
  is current only when it answers and was written after the family key's last rotation.

Each check does its network work with no transaction open, then records the result and
rescores the affected domains. ``manage.py verify_facts [--loop]`` runs them all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from domains.models import (
    DomainRecord,
    PkarrPublishStatus,
    PkarrRecord,
    PubkyDomain,
    PubkyDomainStatus,
)
from domains.services.scoring import sovereignty_score_calculate
from pubky.errors import PubkyError
from pubky.homeserver_client import homeserver_of_packet
from pubky.http import parse_http_date
from pubkyproject.pubky_client import PubkyClient, pubky_client

__all__ = [
    "FactCheckReport",
    "domain_self_hosting_verify",
    "facts_verify_all",
    "guardian_backup_verify",
    "pkarr_records_verify",
]

log = logging.getLogger(__name__)


def _rescore(domain_ids: set[int], reason: str) -> None:
    for domain in DomainRecord.objects.filter(pk__in=domain_ids).order_by("pk"):
        sovereignty_score_calculate(domain=domain, reason=reason)


def pkarr_records_verify(*, pubky_domain: PubkyDomain, client: PubkyClient | None = None) -> int:
    """Ask each relay of ``pubky_domain`` what it serves; returns how many serve the current
    packet. A relay that serves nothing (or an older packet) stops counting."""
    client = client or pubky_client()
    urls = list(pubky_domain.pkarr_records.values_list("relay_url", flat=True))
    if not urls:
        return 0
    report = client.resolve_report(pubky_domain.public_key, relay_urls=urls)
    now = timezone.now()
    serving = 0
    with transaction.atomic():
        locked = PubkyDomain.objects.select_for_update().get(pk=pubky_domain.pk)
        rows = {
            row.relay_url: row
            for row in PkarrRecord.objects.select_for_update().filter(pubky_domain=locked)
        }
        changed = False
        for result in report.results:
            row = rows.get(result.relay_url)
            if row is None or (not result.ok and result.status is None):
                continue  # unreachable: what it serves is unknown, the copy's lifetime decides
            served = result.packet.timestamp if result.packet is not None else None
            if row.served_timestamp != served:
                changed = True
            row.served_timestamp = served
            row.verified_at = now
            row.save(update_fields=["served_timestamp", "verified_at"])
            current = locked.last_packet_timestamp
            if (
                served is not None
                and row.status == PkarrPublishStatus.PUBLISHED
                and (current is None or served >= current)
            ):
                serving += 1
        if changed and locked.domain_id is not None:
            _rescore({locked.domain_id}, "relays_verified")
    return serving


def domain_self_hosting_verify(*, domain: DomainRecord, client: PubkyClient | None = None) -> bool:
    """Does the packet the relays serve for ``domain``'s key point at the family's proven
    homeserver? Records the answer (``self_hosted_homeserver``, ``self_hosted_verified_at``)."""
    family = domain.family
    pubky = (
        PubkyDomain.objects.filter(domain=domain)
        .exclude(status=PubkyDomainStatus.SUSPENDED)
        .first()
    )
    holds = False
    if pubky is not None and family.homeserver_public_key and family.homeserver_proven_at:
        client = client or pubky_client()
        try:
            packet = client.resolve(pubky.public_key)
        except PubkyError as exc:  # unreachable relays: keep the last answer
            log.warning("self-hosting check of %s: %s", domain.name, exc)
            return domain.self_hosted_homeserver
        target = homeserver_of_packet(packet) if packet is not None else None
        holds = target is not None and target.z32() == family.homeserver_public_key
    with transaction.atomic():
        locked = DomainRecord.objects.select_for_update().get(pk=domain.pk)
        before = locked.self_hosted_homeserver
        locked.self_hosted_homeserver = holds
        locked.self_hosted_verified_at = timezone.now()
        locked.save(update_fields=["self_hosted_homeserver", "self_hosted_verified_at"])
        if before != holds:
            sovereignty_score_calculate(domain=locked, reason="self_hosting_verified")
    domain.self_hosted_homeserver = holds
    return holds


def _family_key_rotated_at(family_id: int) -> datetime | None:
    from families.models import PubkyKeypair

    return (
        PubkyKeypair.objects.filter(family_id=family_id, is_active=True)
        .values_list("created_at", flat=True)
        .first()
    )


def guardian_backup_verify(*, guardian: object, client: PubkyClient | None = None) -> bool:
    """Is ``guardian``'s backup current? Its URL must answer on its homeserver with a file
    written after the family key's last rotation. Records the outcome and rescores."""
    from guardians.models import BackupStatus, FederationGuardian

    assert isinstance(guardian, FederationGuardian)
    client = client or pubky_client()
    error = ""
    verified_at: datetime | None = None
    now = timezone.now()
    if guardian.pubky_backup_status != BackupStatus.CURRENT or not guardian.pubky_backup_url:
        error = "no backup reported as current"
    else:
        try:
            result = client.homeservers.head(guardian.pubky_backup_url)
        except PubkyError as exc:
            error = f"the backup URL does not answer: {exc}"[:2000]
        else:
            written = parse_http_date(result.last_modified)
            rotated = _family_key_rotated_at(guardian.family_id)
            if written is None:
                error = "the homeserver did not say when the backup was written"
            elif rotated is not None and written < int(rotated.timestamp()):
                error = "the backup was written before the family key's last rotation"
            else:
                verified_at = now
    with transaction.atomic():
        locked = FederationGuardian.objects.select_for_update().get(pk=guardian.pk)
        before = locked.pubky_backup_verified_at is not None
        locked.pubky_backup_verified_at = verified_at
        locked.pubky_backup_checked_at = now
        locked.pubky_backup_check_error = error
        locked.save(
            update_fields=[
                "pubky_backup_verified_at",
                "pubky_backup_checked_at",
                "pubky_backup_check_error",
                "updated_at",
            ]
        )
        if before != (verified_at is not None):
            _rescore(
                set(
                    DomainRecord.objects.filter(family_id=locked.family_id).values_list(
                        "pk", flat=True
                    )
                ),
                "guardian_backup_verified",
            )
    return verified_at is not None


@dataclass
class FactCheckReport:
    relays_checked: int = 0
    domains_checked: int = 0
    backups_checked: int = 0
    errors: list[str] = field(default_factory=list)


def facts_verify_all(*, client: PubkyClient | None = None) -> FactCheckReport:
    """One round of every check: relays of live Pubky domains, self-hosting of the domains of
    families with a proven homeserver (and those still marked self-hosted), backups reported
    current."""
    from guardians.models import BackupStatus, FederationGuardian, GuardianStatus

    client = client or pubky_client()
    report = FactCheckReport()
    live = PubkyDomain.objects.filter(status=PubkyDomainStatus.ACTIVE).order_by("pk")
    for pubky_domain in live.iterator():
        try:
            pkarr_records_verify(pubky_domain=pubky_domain, client=client)
            report.relays_checked += 1
        except Exception as exc:  # one bad domain must not stop the round
            log.exception("relay check of %s failed", pubky_domain.name)
            report.errors.append(f"{pubky_domain.name}: {exc}")
    domains = DomainRecord.objects.select_related("family").filter(
        family__homeserver_proven_at__isnull=False
    ) | DomainRecord.objects.select_related("family").filter(self_hosted_homeserver=True)
    for domain in domains.distinct().order_by("pk").iterator():
        try:
            domain_self_hosting_verify(domain=domain, client=client)
            report.domains_checked += 1
        except Exception as exc:
            log.exception("self-hosting check of %s failed", domain.name)
            report.errors.append(f"{domain.name}: {exc}")
    guardians = FederationGuardian.objects.filter(status=GuardianStatus.ACTIVE).filter(
        pubky_backup_status=BackupStatus.CURRENT
    ) | FederationGuardian.objects.exclude(pubky_backup_verified_at=None)
    for guardian in guardians.distinct().order_by("pk").iterator():
        try:
            guardian_backup_verify(guardian=guardian, client=client)
            report.backups_checked += 1
        except Exception as exc:
            log.exception("backup check of guardian %s failed", guardian.pk)
            report.errors.append(f"guardian {guardian.pk}: {exc}")
    return report
