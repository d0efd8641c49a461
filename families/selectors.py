"""Reads for the families app and the audit trails; lists are scoped by ``pubkyproject.policy``."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from auditlog.models import LogEntry
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q, QuerySet

from families.models import (
    AccessGrant,
    Family,
    FamilyMembership,
    PubkyKeypair,
    SecurityEvent,
    User,
)
from pubkyproject import policy

M = TypeVar("M", bound=Model)

Who = policy.Principal | User | AnonymousUser | None


def ordered(queryset: QuerySet[M], ordering: str | None, default: str) -> QuerySet[M]:
    """Order by ``ordering`` (or ``default``), then by primary key so pages are stable."""
    key = ordering or default
    tie = "-pk" if key.startswith("-") else "pk"
    return queryset.order_by(key, tie)


def families_list(
    *,
    who: Who,
    search: str | None = None,
    visibility: str | None = None,
    pubky_enabled: bool | None = None,
    ordering: str | None = None,
) -> QuerySet[Family]:
    """Families ``who`` may read: their own, those they guard or were granted, public ones."""
    queryset = policy.scope(who, Family.objects.select_related("owner"))
    if search:
        queryset = queryset.filter(Q(name__icontains=search) | Q(slug__icontains=search))
    if visibility:
        queryset = queryset.filter(visibility=visibility)
    if pubky_enabled is not None:
        queryset = queryset.filter(pubky_enabled=pubky_enabled)
    return ordered(queryset, ordering, "name")


def family_members_list(
    *, family: Family, role: str | None = None, ordering: str | None = None
) -> QuerySet[FamilyMembership]:
    """The members of a family the caller may read (checked by the caller)."""
    queryset = FamilyMembership.objects.filter(family=family).select_related("user")
    if role:
        queryset = queryset.filter(role=role)
    ordering = {"username": "user__username", "-username": "-user__username"}.get(
        ordering or "", ordering
    )
    return ordered(queryset, ordering, "user__username")


def family_keypairs_list(
    *, who: Who, family: Family, is_active: bool | None = None
) -> QuerySet[PubkyKeypair]:
    """The family's keypairs ``who`` may see (their public parts are all any API shows)."""
    queryset = policy.scope(who, PubkyKeypair.objects.filter(family=family))
    if is_active is not None:
        queryset = queryset.filter(is_active=is_active)
    return queryset.order_by("-created_at", "-pk")


def access_grants_list(
    *,
    who: Who,
    target_type: str | None = None,
    target_id: int | None = None,
    grantee_id: int | None = None,
    current: bool | None = None,
) -> QuerySet[AccessGrant]:
    """Grants ``who`` received, gave, or administers the target of."""
    queryset = policy.scope(
        who, AccessGrant.objects.select_related("grantee", "granted_by", "content_type")
    )
    if target_type:
        content_type = ContentType.objects.get_for_model(policy.grant_target_model(target_type))
        queryset = queryset.filter(content_type=content_type)
    if target_id is not None:
        queryset = queryset.filter(object_id=target_id)
    if grantee_id is not None:
        queryset = queryset.filter(grantee_id=grantee_id)
    if current is True:
        queryset = queryset.filter(pk__in=AccessGrant.objects.current().values("pk"))
    elif current is False:
        queryset = queryset.exclude(pk__in=AccessGrant.objects.current().values("pk"))
    return queryset.order_by("-created_at", "-pk")


# --- the audit trails (staff only; the caller checks ``policy.can_read_audit``) -------------------


def security_events_list(
    *,
    kind: str | None = None,
    user_id: int | None = None,
    username: str | None = None,
    ip_address: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    ordering: str | None = None,
) -> QuerySet[SecurityEvent]:
    queryset = SecurityEvent.objects.select_related("user")
    if kind:
        queryset = queryset.filter(kind=kind)
    if user_id is not None:
        queryset = queryset.filter(user_id=user_id)
    if username:
        queryset = queryset.filter(
            Q(username__iexact=username) | Q(user__username__iexact=username)
        )
    if ip_address:
        queryset = queryset.filter(ip_address=ip_address)
    if target:
        queryset = queryset.filter(target__icontains=target)
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    if until is not None:
        queryset = queryset.filter(created_at__lt=until)
    return ordered(queryset, ordering, "-created_at")


def log_entries_list(
    *,
    model: str | None = None,
    object_id: str | None = None,
    actor_id: int | None = None,
    action: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    ordering: str | None = None,
) -> QuerySet[LogEntry]:
    """django-auditlog's entries; ``model`` is ``app_label.model`` (e.g. ``domains.dnsrecord``)."""
    queryset = LogEntry.objects.select_related("actor", "content_type")
    if model:
        app_label, _, model_name = model.lower().partition(".")
        queryset = queryset.filter(
            content_type__app_label=app_label, content_type__model=model_name
        )
    if object_id:
        queryset = queryset.filter(object_pk=object_id)
    if actor_id is not None:
        queryset = queryset.filter(actor_id=actor_id)
    if action is not None:
        queryset = queryset.filter(action=action)
    if since is not None:
        queryset = queryset.filter(timestamp__gte=since)
    if until is not None:
        queryset = queryset.filter(timestamp__lt=until)
    return ordered(queryset, ordering, "-timestamp")
