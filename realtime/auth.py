"""JWT authentication for WebSockets: the same simplejwt access tokens as the API, refused
once their session ended (``pubkyproject.api.sessions``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from families.models import SecurityEventKind, User
from families.security import security_event_record
from pubkyproject.api.sessions import keys_for, local_revocations, refused, session_of
from pubkyproject.policy import Principal, aprincipal_for_user_id
from realtime.limits import admission, connection_registry

logger = logging.getLogger("pubky.realtime")


class AuthenticationFailed(Exception):
    pass


@dataclass(frozen=True)
class Identity:
    user: User
    expires_at: float  # UNIX seconds
    principal: Principal
    session_id: str | None = None  # the ``sid`` claim: the sign-in this token belongs to
    issued_at: int | None = None  # the ``iat`` claim

    def revocation_keys(self) -> tuple[str, str]:
        return keys_for({"sid": self.session_id, "user_id": self.user.pk})


async def arevoked(claims: Mapping[str, Any]) -> bool:
    """Whether the token's session ended (Redis denylist; this process's own revocations while
    Redis is unreachable)."""
    keys = keys_for(claims)
    try:
        values = await connection_registry().values(keys)
    except Exception as exc:
        logger.warning("session denylist unreachable (%r); checking local revocations", exc)
        values = [local_revocations.get(key) for key in keys]
    return refused(claims, values[0], values[1])


async def aauthenticate_token(token: str, *, ip_address: str | None = None) -> Identity:
    """Validate an access token, load its active user and what the policy knows about them.

    On the event loop: the token is checked in place and the principal read in one query
    through the asyncio pool, so a new socket never waits for Django's database thread. A
    failure (rare) is recorded as a security event through the ORM.
    """
    reason: str
    try:
        access = AccessToken(token)  # type: ignore[arg-type]
        user_id = int(access["user_id"])
        # The principal (PostgreSQL) and the denylist (Redis) at the same time.
        principal, revoked = await asyncio.gather(
            aprincipal_for_user_id(user_id), arevoked(access.payload)
        )
        if revoked:
            reason = "the session of this token has ended"
        elif principal is not None:
            # The consumer needs the user's id (and a model instance for audit rows), not the
            # whole row: skip loading it.
            user = User(pk=user_id)
            return Identity(
                user=user,
                expires_at=float(access["exp"]),
                principal=principal,
                session_id=session_of(access.payload),
                issued_at=int(access["iat"]) if "iat" in access.payload else None,
            )
        else:
            reason = "unknown or inactive user"
    except (TokenError, KeyError, ValueError, TypeError) as exc:
        reason = str(exc) or exc.__class__.__name__
    await database_sync_to_async(security_event_record)(
        kind=SecurityEventKind.TOKEN_INVALID,
        ip_address=ip_address,
        target="websocket",
        detail={"reason": reason[:200]},
    )
    raise AuthenticationFailed(reason)


def client_ip(scope: dict[str, Any]) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


async def authenticate_scope(scope: dict[str, Any]) -> None:
    """Mark a WebSocket scope (the caller's own copy) with who connects and how.

    Reads ``?token=`` and ``?batch=`` from the query string; sets ``identity`` (or
    ``auth_error``), ``batch``, and ``refused`` when the address is past its connection-attempt
    rate (checked before any token, so a flood costs no signature checks). The consumer also
    accepts an ``auth`` message later.
    """
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    token = (query.get("token") or [None])[0]
    scope["identity"] = None
    scope["auth_error"] = None
    scope["refused"] = None
    scope["batch"] = (query.get("batch") or ["0"])[0] in {"1", "true", "yes"}
    if not admission().attempt(client_ip(scope) or "-"):
        scope["refused"] = "too many connection attempts from this address"
    elif token:
        try:
            scope["identity"] = await aauthenticate_token(token, ip_address=client_ip(scope))
        except AuthenticationFailed as exc:
            scope["auth_error"] = str(exc)
