"""JWT authentication for WebSockets: the same simplejwt access tokens as the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from families.models import SecurityEventKind, User
from families.policy import Principal, aprincipal_for_user_id
from families.security import security_event_record


class AuthenticationFailed(Exception):
    pass


@dataclass(frozen=True)
class Identity:
    user: User
    expires_at: float  # UNIX seconds
    principal: Principal


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
        principal = await aprincipal_for_user_id(user_id)
        if principal is not None:
            # The consumer needs the user's id (and a model instance for audit rows), not the
            # whole row: skip loading it.
            user = User(pk=user_id)
            return Identity(user=user, expires_at=float(access["exp"]), principal=principal)
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


class JWTAuthMiddleware(BaseMiddleware):
    """Read ``?token=`` from the query string; the consumer also accepts an ``auth`` message."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = (query.get("token") or [None])[0]
        scope["identity"] = None
        scope["auth_error"] = None
        scope["batch"] = (query.get("batch") or ["0"])[0] in {"1", "true", "yes"}
        if token:
            try:
                scope["identity"] = await aauthenticate_token(token, ip_address=client_ip(scope))
            except AuthenticationFailed as exc:
                scope["auth_error"] = str(exc)
        return await super().__call__(scope, receive, send)
