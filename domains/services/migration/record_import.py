"""Importing DNS records into a domain's stored ones: from live DNS, or from a PKARR packet.

Records already stored (same name, type and value) are kept; only missing ones are added,
each through the ORM so receivers see every row.
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.rdatatype
from django.db import transaction

from domains.models import DnsRecord, DnsRecordType, DomainRecord
from domains.services.migration.dns import dns_lookup, dns_resolver
from pubky.packet import SignedPacket

__all__ = ["IMPORT_TYPES", "dns_records_import", "packet_records_import"]

IMPORT_TYPES = (
    DnsRecordType.A,
    DnsRecordType.AAAA,
    DnsRecordType.MX,
    DnsRecordType.TXT,
    DnsRecordType.CNAME,
)


def dns_records_import(
    *,
    domain: DomainRecord,
    names: Sequence[str] = ("@", "www"),
    types: Sequence[str] = IMPORT_TYPES,
    resolvers: Sequence[str] | None = None,
) -> list[DnsRecord]:
    """Copy the live DNS records of the domain (``types`` at ``names``) into its stored ones.

    Registrars offer no zone transfer, so the common names are queried one by one. Records
    already stored are kept; only missing ones are added (in one transaction, after all the
    lookups). CNAMEs are imported for non-apex names only, as the apex cannot have one.
    """
    resolver = dns_resolver(resolvers)
    found: list[tuple[str, str, str, int]] = []
    for name in names:
        fqdn = domain.name if name == "@" else f"{name}.{domain.name}"
        for rtype in types:
            if rtype == DnsRecordType.CNAME and name == "@":
                continue
            answer = dns_lookup(resolver, fqdn, rtype)
            if answer is None or answer.rrset is None:
                continue
            if dns.rdatatype.to_text(answer.rrset.rdtype) != rtype:
                continue  # a CNAME answered for the name; imported as CNAME on its own
            owner = answer.rrset.name.to_text().rstrip(".").lower()
            if owner != fqdn:
                continue
            for rdata in answer.rrset:
                found.append((name, rtype, rdata.to_text(), int(answer.rrset.ttl)))
    created: list[DnsRecord] = []
    with transaction.atomic():
        existing = set(domain.dns_records.values_list("name", "rtype", "value"))
        for name, rtype, value, ttl in found:
            if (name, rtype, value) in existing:
                continue
            row = DnsRecord(domain=domain, name=name, rtype=rtype, value=value, ttl=ttl)
            row.full_clean()
            row.save()
            existing.add((name, rtype, value))
            created.append(row)
    return created


def packet_records_import(*, domain: DomainRecord, packet: SignedPacket | None) -> list[DnsRecord]:
    """Copy the records of the domain's PKARR packet into its stored DNS records.

    Only names inside the key and types registrar DNS rows model are taken; the key's own
    Pubky identity (``_pubky``, its homeserver) is not a DNS record. Call inside the
    transaction that completes the move.
    """
    existing = set(domain.dns_records.values_list("name", "rtype", "value"))
    created: list[DnsRecord] = []
    for record in packet.records() if packet is not None else []:
        if record.name.endswith(".") or record.rtype not in DnsRecordType.values:
            continue  # outside the key, or a type registrar DNS rows don't model
        if record.name == "_pubky" or record.name.startswith("_pubky."):
            continue  # the key's own Pubky identity (its homeserver), not a DNS record
        value = record.value
        if record.rtype == DnsRecordType.TXT:
            value = record.text()
        if (record.name, record.rtype, value) in existing:
            continue
        row = DnsRecord(domain=domain, name=record.name, rtype=record.rtype, value=value)
        row.ttl = record.ttl
        row.full_clean()
        row.save()
        existing.add((record.name, record.rtype, value))
        created.append(row)
    return created
