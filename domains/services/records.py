"""Domains and their DNS records as a family manages them (create, change, delete).

Every change rescores the domain (``calculate_sovereignty_score``): the records, the registrar
and the visibility are facts of the rubric. Records on a domain that is on Pubky reach the
relays when the domain is published again (``pubky_domain_publish``).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from domains.models import OPEN_MIGRATION_STATES, DnsRecord, DomainRecord, PubkyDomainStatus
from domains.services.publishing import InvalidDnsRecordError, dns_records_to_packet_records
from domains.services.registration import domain_name_clean
from domains.services.scoring import calculate_sovereignty_score
from families.models import Family, User, Visibility
from pubkyproject.model_update import model_update
from pubkyproject.pubky_client import PubkyServiceError

__all__ = [
    "DOMAIN_EDITABLE_FIELDS",
    "DomainInUse",
    "dns_record_create",
    "dns_record_delete",
    "dns_record_update",
    "domain_record_create",
    "domain_record_delete",
    "domain_record_update",
]

# ``self_hosted_homeserver`` is not here: it is verified (domains.services.facts), not declared.
DOMAIN_EDITABLE_FIELDS = ("visibility", "registrar", "dns_provider")
DNS_EDITABLE_FIELDS = ("name", "rtype", "value", "ttl")


class DomainInUse(PubkyServiceError):
    """The domain is on Pubky or being migrated; it cannot be deleted now."""

    code = "domain_in_use"


@transaction.atomic
def domain_record_create(
    *,
    family: Family,
    name: str,
    owner: User | None = None,
    visibility: str = Visibility.PRIVATE,
    registrar: str = "",
    dns_provider: str = "",
) -> DomainRecord:
    """Bring a (registrar DNS) domain into ``family``; the name is normalised (IDNA, lower)."""
    try:
        cleaned = domain_name_clean(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from exc
    domain = DomainRecord(
        name=cleaned,
        family=family,
        owner=owner,
        visibility=visibility,
        registrar=registrar,
        dns_provider=dns_provider,
    )
    domain.full_clean()
    domain.save()
    calculate_sovereignty_score(domain=domain, reason="domain_created")
    return domain


@transaction.atomic
def domain_record_update(*, domain: DomainRecord, **changes: Any) -> DomainRecord:
    """Change the domain's editable fields (``DOMAIN_EDITABLE_FIELDS``) and rescore it."""
    domain, _ = model_update(instance=domain, fields=DOMAIN_EDITABLE_FIELDS, data=changes)
    calculate_sovereignty_score(domain=domain, reason="domain_updated")
    domain.refresh_from_db()
    return domain


@transaction.atomic
def domain_record_delete(*, domain: DomainRecord) -> None:
    """Delete a domain with its records and history, unless it is on Pubky or migrating."""
    domain = DomainRecord.objects.select_for_update().get(pk=domain.pk)
    if domain.migrations.filter(state__in=OPEN_MIGRATION_STATES).exists():
        raise DomainInUse(f"{domain.name} has a migration in progress; finish or cancel it first")
    pubky = getattr(domain, "pubky_domain", None)
    if pubky is not None and pubky.status == PubkyDomainStatus.ACTIVE:
        raise DomainInUse(f"{domain.name} is on Pubky; migrate it back to DNS first")
    domain.delete()


def _check(row: DnsRecord) -> None:
    """``full_clean()`` and the packet's own check (the type upper-cased first)."""
    row.rtype = row.rtype.upper()
    row.full_clean()
    try:
        dns_records_to_packet_records([row])
    except InvalidDnsRecordError as exc:
        raise ValidationError({"value": str(exc)}) from exc


@transaction.atomic
def dns_record_create(
    *, domain: DomainRecord, rtype: str, value: str, name: str = "@", ttl: int = 3600
) -> DnsRecord:
    """Add a DNS record (validated as it would be put in a PKARR packet) and rescore."""
    row = DnsRecord(domain=domain, name=name or "@", rtype=rtype, value=value, ttl=ttl)
    _check(row)
    row.save()
    calculate_sovereignty_score(domain=domain, reason="dns_record_created")
    return row


@transaction.atomic
def dns_record_update(*, record: DnsRecord, **changes: Any) -> DnsRecord:
    """Change a DNS record (``DNS_EDITABLE_FIELDS``)."""
    row, _ = model_update(instance=record, fields=DNS_EDITABLE_FIELDS, data=changes, clean=_check)
    return row


@transaction.atomic
def dns_record_delete(*, record: DnsRecord) -> None:
    """Delete a DNS record and rescore its domain."""
    domain = record.domain
    record.delete()
    calculate_sovereignty_score(domain=domain, reason="dns_record_deleted")
