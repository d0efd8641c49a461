"""Explicit access grants: read or write access to one family, domain or Pubky domain."""

from __future__ import annotations

from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from families.models import AccessGrant, GrantPermission, User


@transaction.atomic
def access_grant_create(
    *,
    grantee: User,
    target: Model,
    permission: str = GrantPermission.READ,
    expires_at: datetime | None = None,
    granted_by: User | None = None,
) -> AccessGrant:
    """Grant ``grantee`` ``permission`` on ``target`` (optionally until ``expires_at``)."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    grant = AccessGrant(
        grantee=grantee,
        granted_by=granted_by,
        content_type=ContentType.objects.get_for_model(type(target)),
        object_id=target.pk,
        permission=permission,
        expires_at=expires_at,
    )
    grant.full_clean()
    grant.save()
    return grant


@transaction.atomic
def access_grant_revoke(*, grant: AccessGrant) -> AccessGrant:
    """Revoke a grant now (kept, with ``revoked_at``, for the audit trail). Idempotent."""
    grant = AccessGrant.objects.select_for_update().get(pk=grant.pk)
    if grant.revoked_at is None:
        grant.revoked_at = timezone.now()
        grant.full_clean()
        grant.save()
    return grant
