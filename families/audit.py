"""django-auditlog registration: every model people change, never a sealed key or password."""

from __future__ import annotations

from auditlog.registry import auditlog

from families.models import AccessGrant, Family, FamilyMembership, PubkyKeypair, User

auditlog.register(
    User,
    exclude_fields=["password", "last_login", "pubky_private_key_encrypted"],
)
auditlog.register(Family)
auditlog.register(FamilyMembership)
auditlog.register(PubkyKeypair, exclude_fields=["private_key_encrypted"])
auditlog.register(AccessGrant)
