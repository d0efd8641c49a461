"""django-auditlog registration for the domain models people change."""

from __future__ import annotations

from auditlog.registry import auditlog

from domains.models import DnsRecord, DomainMigration, DomainRecord, PubkyDomain

auditlog.register(DomainRecord)
auditlog.register(DnsRecord)
auditlog.register(PubkyDomain, exclude_fields=["private_key_encrypted"])
auditlog.register(DomainMigration)
