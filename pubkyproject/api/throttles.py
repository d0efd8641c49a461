"""Request rate limits; every rate comes from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``.

DRF's throttles copy the rates into a class attribute when ``rest_framework.throttling`` is
imported, so a settings override (an environment, a test) would not reach them. These read the
rates at request time instead. A rate-limit hit is written to the security audit trail by the
API's exception handler (``pubkyproject.api.exceptions``).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


class _SettingsRate:
    scope: str | None
    optional = False

    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        if self.scope is None or self.scope not in rates:
            if self.optional:
                return None
            raise ImproperlyConfigured(f"No throttle rate set for the {self.scope!r} scope")
        return rates[self.scope]

    def get_ident(self, request: Request) -> str:
        # DRF trusts any X-Forwarded-For unless NUM_PROXIES is set, so a client could dodge a
        # limit by sending a new one with every request. Without a configured proxy count,
        # count by the connection's address.
        if api_settings.NUM_PROXIES is None:
            return str(request.META.get("REMOTE_ADDR", ""))
        return str(super().get_ident(request))  # type: ignore[misc]


class AnonThrottle(_SettingsRate, AnonRateThrottle):
    """Anonymous callers, per client address (``anon`` rate)."""


class UserThrottle(_SettingsRate, UserRateThrottle):
    """Authenticated callers, per user (``user`` rate)."""


class LoginThrottle(_SettingsRate, SimpleRateThrottle):
    """Token requests, per client address whoever they claim to be (``login`` rate).

    Keyed by address rather than by username so that guessing many usernames from one place
    is limited as much as guessing one user's password.
    """

    scope = "login"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PubkyNetworkThrottle(_SettingsRate, SimpleRateThrottle):
    """Endpoints that talk to relays or homeservers (register, publish, resolve, enable).

    Uses the ``pubky_network`` rate when settings define one; without it only the ``anon`` and
    ``user`` limits apply.
    """

    scope = "pubky_network"
    optional = True

    def get_cache_key(self, request: Request, view: Any) -> str:
        user = request.user
        ident = f"user-{user.pk}" if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
