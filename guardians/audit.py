"""django-auditlog registration for guardians and their decisions."""

from __future__ import annotations

from auditlog.registry import auditlog

from guardians.models import FederationGuardian, GuardianApproval

auditlog.register(FederationGuardian)
auditlog.register(GuardianApproval)
