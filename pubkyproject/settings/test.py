"""Test settings: real PostgreSQL and Valkey (scripts/test starts them), fast hashing."""

from __future__ import annotations

from pubkyproject.settings.base import *  # noqa: F403
from pubkyproject.settings.base import PUBKY_KEY_ENCRYPTION_KEY as _KEY
from pubkyproject.settings.base import REST_FRAMEWORK as _REST_FRAMEWORK
from pubkyproject.settings.base import SECRET_KEY as _SECRET

DEBUG = False
SECRET_KEY = _SECRET or "test-only-not-secret-0123456789abcdef0123456789"
PUBKY_KEY_ENCRYPTION_KEY = _KEY or bytes.fromhex("22" * 32)
PUBKY_TESTNET = True

# The default PBKDF2 costs ~0.5 s per user; tests create hundreds.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Throttling is exercised by its own tests with explicit rates.
REST_FRAMEWORK = {
    **_REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": "10000/min", "user": "100000/min", "login": "10000/min"},
}
