"""Recording security events (failed logins, denials, rate limits, private key use, …)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from families.models import SecurityEvent, SecurityEventKind, User

logger = logging.getLogger("pubky.security")

_acting_user: ContextVar[User | None] = ContextVar("pubky_acting_user", default=None)


@contextmanager
def acting_as(user: User | None) -> Iterator[None]:
    """Within the block, key use and other events without an explicit user are ``user``'s.

    The API enters it for every authenticated request, so a private key opened deep inside a
    service (signing a packet) is recorded with the person who asked for it.
    """
    token = _acting_user.set(user)
    try:
        yield
    finally:
        _acting_user.reset(token)


def acting_user() -> User | None:
    """The user on whose behalf the current request acts (``None`` for workers)."""
    return _acting_user.get()


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
