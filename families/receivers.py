"""Session sign-ins and sign-outs (the admin, the browsable API) as security events.

API sign-ins (``POST /api/auth/token/``) and logouts (``POST /api/auth/logout/``) are recorded
by their views; these receivers cover Django's session login and logout.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from families.models import SecurityEventKind, User
from families.security import security_event_record
from pubkyproject.api.client import client_ip


def _ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return client_ip(request)


@receiver(user_logged_in, dispatch_uid="families.session_login_event")
def record_session_login(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    security_event_record(
        kind=SecurityEventKind.LOGIN_SUCCEEDED,
        user=user if isinstance(user, User) else None,
        ip_address=_ip(request),
        target=f"{request.method} {request.path}" if request is not None else "",
        detail={"method": "session"},
    )


@receiver(user_logged_out, dispatch_uid="families.session_logout_event")
def record_session_logout(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    security_event_record(
        kind=SecurityEventKind.LOGOUT,
        user=user if isinstance(user, User) else None,
        ip_address=_ip(request),
        target=f"{request.method} {request.path}" if request is not None else "",
        detail={"method": "session"},
    )
