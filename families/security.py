"""Recording security events (failed logins, denials, rate limits, private key use, …)."""

from __future__ import annotations

import logging
from typing import Any

from families.models import SecurityEvent, SecurityEventKind, User

logger = logging.getLogger("pubky.security")


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
    """Every time a sealed private key is opened, say why and for what."""
    security_event_record(
        kind=SecurityEventKind.PRIVATE_KEY_USED,
        user=user,
        target=target,
        detail={"purpose": purpose},
    )
