"""Admin actions bound to the one access policy and the security audit trail.

:func:`policy_action` builds a :class:`pubkyproject.admin_actions.ObjectAction` whose access
check is a ``pubkyproject.policy`` rule, asked with the staff user's principal (loaded once per
request), so an admin action is allowed exactly when the API would allow the same operation.
A refusal is recorded as an ``access_denied`` security event (``via: admin``), like a 403 of
the API. Services run "acting as" the staff user, so a private key opened to sign a packet is
recorded with the person who asked.

Superusers pass every rule but the ones that need a role the policy does not give them (only
a guardian decides on a migration).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model
from django.http import HttpRequest

from families.models import SecurityEventKind, User
from families.security import acting_as, security_event_record
from pubkyproject import policy
from pubkyproject.admin_actions import (
    AdminActionFunction,
    Confirmation,
    ObjectAction,
    admin_action,
)
from pubkyproject.api.client import client_ip

__all__ = ["Rule", "policy_action", "principal_of", "record_admin_refusal"]

#: A policy rule: may this principal do this to this object?
Rule = Callable[[policy.Principal, Any], bool]

_PRINCIPAL = "_admin_policy_principal"


def principal_of(request: HttpRequest) -> policy.Principal:
    """The request user's principal, loaded once per request."""
    principal = getattr(request, _PRINCIPAL, None)
    if not isinstance(principal, policy.Principal):
        principal = policy.principal_for(request.user)
        setattr(request, _PRINCIPAL, principal)
    return principal


def _user(request: HttpRequest) -> User | None:
    user = getattr(request, "user", None)
    return user if isinstance(user, User) and user.is_authenticated else None


def record_admin_refusal(request: HttpRequest, obj: Model, action: ObjectAction) -> None:
    """An ``access_denied`` security event for an admin action refused on ``obj``."""
    security_event_record(
        kind=SecurityEventKind.ACCESS_DENIED,
        user=_user(request),
        ip_address=client_ip(request),
        target=f"admin:{action.name} {obj._meta.label_lower}:{obj.pk}",
        detail={
            "via": "admin",
            "action": action.name,
            "model": obj._meta.label_lower,
            "object_id": obj.pk,
            "object": action.label(obj)[:200],
            "reason": action.refusal,
        },
    )


def _acting(request: HttpRequest) -> Any:
    return acting_as(_user(request))


def policy_action(
    *,
    name: str,
    description: str,
    verb: str,
    rule: Rule,
    run: Callable[[HttpRequest, Any, str], str],
    explain: Callable[[Exception], str | None] | None = None,
    confirm: Confirmation | None = None,
    refusal: str = "",
    label: Callable[[Any], str] | None = None,
) -> AdminActionFunction:
    """An admin action that runs ``run`` on every selected object ``rule`` allows.

    ``verb`` completes "not …" in messages ("republished"); ``refusal`` says why a refused
    object was refused ("only its family's members may republish it"); ``label`` names an
    object in messages (the model's name and the object's by default).
    """
    action = ObjectAction(
        name=name,
        description=description,
        verb=verb,
        run=run,
        permitted=lambda request, obj: rule(principal_of(request), obj),
        refused=record_admin_refusal,
        explain=explain or (lambda exc: None),
        context=_acting,
        confirm=confirm,
        refusal=refusal or "you do not have the right to do this",
        **({"label": label} if label is not None else {}),
    )
    return admin_action(action)
