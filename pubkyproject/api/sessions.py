"""Sessions that really end: revoking a sign-in's access tokens before they expire.

A **session** is one sign-in: ``POST /api/auth/token/`` stamps a random session id (the ``sid``
claim) into the refresh token it issues. Every refresh token rotated from it, and every access
token minted from any of them, carries the same ``sid``; so the session is the refresh-token
family, and its id is in every token that family produced.

Ending a session (logout) blacklists its refresh token (simplejwt's table: no new access
tokens) and puts its ``sid`` on a **denylist** in Redis for as long as an access token can live
(``JWT_ACCESS_SECONDS`` plus a minute of clock leeway): the REST authentication
(``pubkyproject.api.authentication``) and the WebSocket authentication (``realtime.auth``)
refuse a token whose ``sid`` is listed. A ``session_revoked`` control event on the user's topic
reaches every web process, which closes the session's open sockets with 4401.

Changing a user's password or deactivating them ends **all** their sessions: every refresh
token still outstanding is blacklisted, every ``sid`` found in them is denylisted, and tokens
without a ``sid`` (minted by other code, or before sessions existed) issued up to that moment
are refused through a per-user cut-off.

While Redis is unreachable, revocations this process made are still refused (it remembers them
for the same time); others are not checked (the access token's own lifetime, 5 minutes by
default, is the bound), and logout answers 503 rather than pretend the session ended.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import jwt
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import is_password_usable
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from pubkyproject import event_port, topics
from pubkyproject.redis_clients import redis_config, sync_client

logger = logging.getLogger("pubky.auth")

SESSION_CLAIM = "sid"
SESSION_REVOKED_EVENT = "session_revoked"
_LEEWAY_SECONDS = 60
_RETRY_AFTER_FAILURE_SECONDS = 5.0


class RevocationUnavailable(Exception):
    """The denylist could not be written (Redis unreachable): the session did not end."""


def new_session_id() -> str:
    return uuid.uuid4().hex


def session_key(session_id: str) -> str:
    return f"pubky:auth:revoked:session:{session_id}"


def user_key(user_id: int | str) -> str:
    return f"pubky:auth:revoked:user:{user_id}"


def denylist_seconds() -> int:
    """How long a revocation must be remembered: the longest an access token can live."""
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    assert isinstance(lifetime, timedelta)
    return int(lifetime.total_seconds()) + _LEEWAY_SECONDS


def keys_for(claims: Mapping[str, Any]) -> tuple[str, str]:
    """The two denylist keys a token is checked against (its session, its user)."""
    return session_key(str(claims.get(SESSION_CLAIM) or "-")), user_key(claims.get("user_id", "-"))


def refused(claims: Mapping[str, Any], session_value: Any, user_value: Any) -> bool:
    """Whether a token with these claims is revoked, given the two denylist entries."""
    if claims.get(SESSION_CLAIM):
        return session_value is not None
    # No session id: only the per-user cut-off applies (tokens issued up to that second).
    if user_value is None:
        return False
    try:
        return int(claims.get("iat", 0)) <= int(float(user_value))
    except (TypeError, ValueError):
        return True


class _LocalRevocations:
    """What this process revoked, for as long as Redis would remember it (checked while Redis
    is unreachable)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, str]] = {}

    def add(self, key: str, value: str, ttl: float) -> None:
        now = time.monotonic()
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            self._entries[key] = (now + ttl, value)

    def get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]


local_revocations = _LocalRevocations()


class _SyncStore:
    """The denylist through a plain Redis client (one per thread), for the REST path."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._down_until = 0.0

    def _client(self) -> redis.Redis:
        client: redis.Redis | None = getattr(self._local, "client", None)
        # Direct or through Sentinel (pubkyproject.redis_clients); rebuilt when the settings
        # change (tests point it at another server).
        config = redis_config()
        if client is None or getattr(self._local, "config", None) != config:
            client = sync_client(config, socket_timeout=1, socket_connect_timeout=1)
            self._local.client, self._local.config = client, config
        return client

    def values(self, keys: tuple[str, str]) -> tuple[Any, Any]:
        if time.monotonic() < self._down_until:
            return local_revocations.get(keys[0]), local_revocations.get(keys[1])
        try:
            first, second = self._client().mget(keys)
        except redis.RedisError as exc:
            self._down_until = time.monotonic() + _RETRY_AFTER_FAILURE_SECONDS
            logger.warning("session denylist unreachable (%r); checking local revocations", exc)
            return local_revocations.get(keys[0]), local_revocations.get(keys[1])
        return first, second

    def write(self, entries: Mapping[str, str]) -> None:
        ttl = denylist_seconds()
        for key, value in entries.items():
            local_revocations.add(key, value, ttl)
        try:
            pipe = self._client().pipeline(transaction=False)
            for key, value in entries.items():
                pipe.set(key, value, ex=ttl)
            pipe.execute()
        except redis.RedisError as exc:
            raise RevocationUnavailable(str(exc)) from exc


store = _SyncStore()


def is_revoked(claims: Mapping[str, Any]) -> bool:
    """Whether the token with these (already verified) claims belongs to an ended session."""
    return refused(claims, *store.values(keys_for(claims)))


def session_of(claims: Mapping[str, Any]) -> str | None:
    value = claims.get(SESSION_CLAIM)
    return str(value) if value else None


@transaction.atomic
def end_session(*, user_id: int, session_id: str | None) -> None:
    """Logout: refuse the session's access tokens from now on and close its sockets.

    The caller has blacklisted the refresh token it was given. A token family without a session
    id (issued before sessions existed) is ended through the user's cut-off, which refuses only
    tokens without a session id.
    """
    if session_id:
        store.write({session_key(session_id): "1"})
        payload: dict[str, Any] = {"sessions": [session_id]}
    else:
        store.write({user_key(user_id): str(time.time())})
        payload = {"unnamed": True, "before": int(time.time())}
    _announce(user_id, payload)


@transaction.atomic
def end_all_sessions(*, user_id: int) -> None:
    """Password changed or user deactivated: end every session of the user.

    Every outstanding (not yet blacklisted, not expired) refresh token is blacklisted, every
    session id found in them denylisted, and tokens without one refused up to now.
    """
    live = list(
        OutstandingToken.objects.filter(user_id=user_id, expires_at__gt=timezone.now())
        .filter(blacklistedtoken__isnull=True)
        .only("id", "token")
    )
    sessions = sorted({sid for sid in (_sid_in(t.token) for t in live) if sid})
    now = time.time()
    entries = {session_key(sid): "1" for sid in sessions}
    entries[user_key(user_id)] = str(now)
    try:
        store.write(entries)
    except RevocationUnavailable:
        # The password change itself must not fail; the refresh tokens are blacklisted below
        # and this process refuses the sessions; other processes stop at the tokens' expiry.
        logger.warning("could not denylist the sessions of user %s in Redis", user_id)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=t) for t in live], ignore_conflicts=True
    )
    _announce(user_id, {"all": True, "before": int(now)})


def _sid_in(token: str) -> str | None:
    """The session id in a stored refresh token (read without verifying: it is our own row)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    value = claims.get(SESSION_CLAIM)
    return str(value) if value else None


def _announce(user_id: int, payload: dict[str, Any]) -> None:
    """Tell every web process (through the outbox and the channel layer) to close the sockets."""
    event_port.emit(topic=topics.user(user_id), type=SESSION_REVOKED_EVENT, payload=payload)


def socket_is_revoked(
    payload: Mapping[str, Any], session_id: str | None, issued_at: int | None
) -> bool:
    """Whether a ``session_revoked`` event ends a socket signed in with this session."""
    before = payload.get("before")
    issued_before = issued_at is None or before is None or issued_at <= int(before)
    if payload.get("all"):
        return issued_before
    if payload.get("unnamed"):
        return session_id is None and issued_before
    sessions: Iterable[Any] = payload.get("sessions") or ()
    return session_id is not None and session_id in {str(s) for s in sessions}


# --- receivers: a password change or a deactivation ends every session ----------------------


def _note_credentials_change(sender: type, instance: Any, raw: bool = False, **kw: Any) -> None:
    """Before a user row is saved: remember whether this save changes the password (Django's
    ``set_password`` leaves the raw password on ``_password`` until the save) or deactivates."""
    if raw or instance.pk is None:
        return
    changed = False
    if getattr(instance, "_password", None) is not None:
        # A first password (the user had none that could sign in) ends no session.
        old = type(instance).objects.filter(pk=instance.pk).values_list("password", flat=True)
        changed = any(p and is_password_usable(p) for p in old)
    if not changed and not instance.is_active:
        changed = type(instance).objects.filter(pk=instance.pk, is_active=True).exists()
    instance._pubky_end_sessions = changed


def _end_sessions_after_save(sender: type, instance: Any, raw: bool = False, **kw: Any) -> None:
    if not raw and getattr(instance, "_pubky_end_sessions", False):
        instance._pubky_end_sessions = False
        end_all_sessions(user_id=instance.pk)


def connect_receivers() -> None:
    user_model = get_user_model()
    pre_save.connect(_note_credentials_change, sender=user_model, dispatch_uid="sessions-pre")
    post_save.connect(_end_sessions_after_save, sender=user_model, dispatch_uid="sessions-post")
