"""DRF permission classes: thin wrappers that ask the one access policy (``pubkyproject.policy``).

Object-level decisions are not made here but in :class:`pubkyproject.api.views.ApiView`
(``readable`` → 404, ``require`` → 403), which ask :func:`pubkyproject.policy.scope` and
:func:`pubkyproject.policy.can` with the caller's principal.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from pubkyproject import policy


def _principal(request: Request, view: Any) -> policy.Principal:
    principal = getattr(view, "principal", None)
    if isinstance(principal, policy.Principal):
        return principal
    return policy.principal_for(request.user)


class ReadOrAuthenticated(BasePermission):
    """Anyone may read (the policy scopes what they see: public objects for anonymous callers);
    writing needs an authenticated caller (401 otherwise)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or bool(
            request.user and request.user.is_authenticated
        )


class Authenticated(BasePermission):
    """Endpoints about the caller themself (logout, their notifications)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated)


class AuditReader(BasePermission):
    """The audit trails: ``policy.can_read_audit`` (staff and superusers)."""

    message = "Only staff may read the audit trail."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return policy.can_read_audit(_principal(request, view))
