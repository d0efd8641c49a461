"""Recording security events (failed logins, denials, rate limits, private key use, …)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from families.models import SecurityEvent, SecurityEventKind, User
from pubkyproject import security_port

logger = logging.getLogger("pubky.security")


def acting_as(user: User | None) -> AbstractContextManager[None]:
    """Within the block, key use and other events without an explicit user are ``user``'s
    (:func:`pubkyproject.security_port.acting_as`: the API enters it for every request)."""
    return security_port.acting_as(user)


def acting_user() -> User | None:
    """The user on whose behalf the current request acts (``None`` for workers)."""
    user = security_port.acting_user()
    return user if isinstance(user, User) else None


def security_event_record(
    *,
    kind: SecurityEventKind | str,
    user: User | None = None,
    username: str = "",
    ip_address: str | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Append one event to the security audit table (and the ``pubky.security`` log).

    Never pass secrets in ``detail``: it is shown in the admin.
    """
    event = SecurityEvent.objects.create(
        kind=kind,
        user=user if user is not None and user.pk else None,
        username=(username or (user.get_username() if user is not None else ""))[:150],
        ip_address=ip_address,
        target=target[:255],
        detail=detail or {},
    )
    logger.info("security event %s user=%s target=%s", kind, event.username, event.target)
    return event


def private_key_use_record(*, purpose: str, target: str, user: User | None = None) -> None:
    """Every time a sealed private key is opened, say why, for what and for whom.

    Without ``user`` the acting user of the request (:func:`acting_as`) is recorded; a worker
    acting on its own (the republisher) records none, and says so in ``detail``.
    """
    actor = user if user is not None else acting_user()
    security_event_record(
        kind=SecurityEventKind.PRIVATE_KEY_USED,
        user=actor,
        target=target,
        detail={"purpose": purpose, "acting": "user" if actor is not None else "service"},
    )


def record_reported(
    *,
    kind: str,
    user: Any | None,
    username: str,
    ip_address: str | None,
    target: str,
    detail: Mapping[str, Any],
) -> None:
    """The recorder behind :mod:`pubkyproject.security_port` (plugged in by ``families.apps``):
    events the core reports land in the same trail."""
    if kind not in SecurityEventKind.values:
        raise ValueError(f"unknown security event kind {kind!r}")
    security_event_record(
        kind=kind,
        user=user if isinstance(user, User) else None,
        username=username,
        ip_address=ip_address,
        target=target,
        detail=dict(detail),
    )
