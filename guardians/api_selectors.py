"""The API's reads of guardians and their notifications, scoped by ``pubkyproject.policy``."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from families.models import Family, User
from families.selectors import ordered
from guardians.models import FederationGuardian, GuardianNotification
from pubkyproject import policy

Who = policy.Principal | User | AnonymousUser | None


def guardians_list(
    *,
    who: Who,
    family: Family,
    status: str | None = None,
    backup_status: str | None = None,
    ordering: str | None = None,
) -> QuerySet[FederationGuardian]:
    queryset = policy.scope(
        who, FederationGuardian.objects.filter(family=family).select_related("user")
    )
    if status:
        queryset = queryset.filter(status=status)
    if backup_status:
        queryset = queryset.filter(pubky_backup_status=backup_status)
    return ordered(queryset, ordering, "name")


def notifications_list(
    *, who: Who, family: Family, unread: bool | None = None, kind: str | None = None
) -> QuerySet[GuardianNotification]:
    queryset = policy.scope(who, GuardianNotification.objects.filter(family=family))
    if unread is True:
        queryset = queryset.filter(read_at=None)
    elif unread is False:
        queryset = queryset.exclude(read_at=None)
    if kind:
        queryset = queryset.filter(kind=kind)
    return queryset.order_by("-created_at", "-pk")
