"""The port through which the core reports security events (sign-ins, denials, rate limits).

The API base (``pubkyproject.api``) sees failed logins, 403s and 429s, but the security audit
trail is a model of the ``families`` app, above the core. So the core says *what happened* here,
and ``families`` plugs its recorder in when its app is ready (``families.apps``). The acting
user (on whose behalf a request works) lives here too: the API sets it, the recorder reads it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

# The kinds of event the core reports (the recorder's model lists them all, with labels).
LOGIN_SUCCEEDED = "login_succeeded"
LOGOUT = "logout"
LOGIN_FAILED = "login_failed"
TOKEN_INVALID = "token_invalid"  # noqa: S105  (an event kind, not a secret)
ACCESS_DENIED = "access_denied"
RATE_LIMITED = "rate_limited"
CORE_KINDS = frozenset(
    {LOGIN_SUCCEEDED, LOGOUT, LOGIN_FAILED, TOKEN_INVALID, ACCESS_DENIED, RATE_LIMITED}
)


class Recorder(Protocol):
    """What the app keeping the security audit trail provides."""

    def __call__(
        self,
        *,
        kind: str,
        user: Any | None,
        username: str,
        ip_address: str | None,
        target: str,
        detail: Mapping[str, Any],
    ) -> None:
        """Append one event to the trail (``user`` is a user object or None)."""


_recorder: Recorder | None = None
_acting_user: ContextVar[Any | None] = ContextVar("pubky_acting_user", default=None)


def register(recorder: Recorder) -> None:
    """Plug in the recorder (called once, from the owning app's ``ready()``)."""
    global _recorder
    _recorder = recorder


def record(
    *,
    kind: str,
    user: Any | None = None,
    username: str = "",
    ip_address: str | None = None,
    target: str = "",
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Report one security event. Never pass secrets in ``detail``: the admin shows it."""
    if _recorder is None:
        raise ImproperlyConfigured(
            "No security event recorder is registered: the 'families' app must be in "
            "INSTALLED_APPS."
        )
    _recorder(
        kind=kind,
        user=user,
        username=username,
        ip_address=ip_address,
        target=target,
        detail=detail or {},
    )


@contextmanager
def acting_as(user: Any | None) -> Iterator[None]:
    """Within the block, key use and other events without an explicit user are ``user``'s.

    The API enters it for every authenticated request, so a private key opened deep inside a
    service (signing a packet) is recorded with the person who asked for it.
    """
    token = _acting_user.set(user)
    try:
        yield
    finally:
        _acting_user.reset(token)


def acting_user() -> Any | None:
    """The user on whose behalf the current request acts (``None`` for workers)."""
    return _acting_user.get()
