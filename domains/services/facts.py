"""Verifying the facts the sovereignty score believes (nothing is taken on the family's word).

* :func:`pkarr_records_verify` asks every relay a domain was published to what it serves now
  (GET); a relay counts only while it serves the current packet.
* :func:`domain_self_hosting_verify` reads the packet the relays serve for the domain's key:
  the domain is self-hosted only when its ``_pubky`` points at the homeserver key the family
  proved (``families.services.key_claims.family_homeserver_attach``).
* guardians' key backups are checked by the guardians app (``guardians.backups``), asked
  through :func:`domains.guardianship.guardianship`: a backup is current only when its URL
  answers on its homeserver and was written after the family key's last rotation.

Each check does its network work with no transaction open, then records the result and
rescores the affected domains. ``manage.py verify_facts [--loop]`` runs them all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from domains.guardianship import guardianship
from domains.models import (
    DomainRecord,
    PkarrPublishStatus,
    PkarrRecord,
    PubkyDomain,
    PubkyDomainStatus,
)
from domains.services.scoring import calculate_sovereignty_score
from pubky.errors import PubkyError
from pubky.homeserver_client import homeserver_of_packet
from pubkyproject.pubky_client import PubkyClient, pubky_client

__all__ = [
    "FactCheckReport",
    "domain_self_hosting_verify",
    "domains_rescore",
    "facts_verify_all",
    "pkarr_records_verify",
]

log = logging.getLogger(__name__)


def domains_rescore(*, domain_ids: set[int], reason: str) -> None:
    """Rescore the given domains (in id order) because a fact behind their score changed."""
    for domain in DomainRecord.objects.filter(pk__in=domain_ids).order_by("pk"):
        calculate_sovereignty_score(domain=domain, reason=reason)


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
            domains_rescore(domain_ids={locked.domain_id}, reason="relays_verified")
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
            calculate_sovereignty_score(domain=locked, reason="self_hosting_verified")
    domain.self_hosted_homeserver = holds
    return holds


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
    backups = guardianship().backups_verify(client=client)
    report.backups_checked = backups.checked
    report.errors.extend(backups.errors)
    return report
