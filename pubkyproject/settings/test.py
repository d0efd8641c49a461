"""Test settings: real PostgreSQL and Valkey (scripts/test starts them), fast hashing."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit


def _worker_redis_url(url: str, worker: str) -> str:
    """``url`` on Valkey database N + 1 for the pytest-xdist worker ``gwN`` (``--fast``).

    The workers share one Valkey; keys named by user id (the session denylist, the socket
    counts, the cache) would cross between their databases, whose ids overlap.
    """
    parts = urlsplit(url)
    if not worker.startswith("gw") or not worker[2:].isdigit() or parts.scheme == "unix":
        return url
    return urlunsplit(parts._replace(path=f"/{int(worker[2:]) + 1}"))


if os.environ.get("REDIS_URL") and os.environ.get("PYTEST_XDIST_WORKER"):
    # Before base reads it; subprocesses a worker starts inherit the same database.
    os.environ["REDIS_URL"] = _worker_redis_url(
        os.environ["REDIS_URL"], os.environ["PYTEST_XDIST_WORKER"]
    )


def _private_channel_prefix(environ: dict[str, str] | os._Environ[str]) -> str:
    """This run's channel-layer prefix, set in ``environ`` for the processes the tests start.

    Channel-layer messages travel on Redis pub/sub channels, which all databases of a Valkey
    share: each test run gets a prefix of its own, before the first layer exists, and each
    pytest-xdist worker adds its name to the prefix its run handed down.
    """
    environ.setdefault("CHANNEL_LAYER_PREFIX", f"pubkytest{uuid.uuid4().hex[:8]}")
    worker = environ.get("PYTEST_XDIST_WORKER", "")
    if worker and not environ["CHANNEL_LAYER_PREFIX"].endswith(worker):
        environ["CHANNEL_LAYER_PREFIX"] += worker
    return environ["CHANNEL_LAYER_PREFIX"]


_private_channel_prefix(os.environ)  # before base reads it

from pubkyproject.settings.base import *  # noqa: E402, F403
from pubkyproject.settings.base import PUBKY_KEY_ENCRYPTION_KEY as _KEY  # noqa: E402
from pubkyproject.settings.base import REST_FRAMEWORK as _REST_FRAMEWORK  # noqa: E402
from pubkyproject.settings.base import SECRET_KEY as _SECRET  # noqa: E402

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

# Every test client builds its own middleware chain, and WhiteNoise's middleware lists all static
# files when it is built (~60 ms each time, most of an API test's cost). Looking a static file up
# when it is asked for instead serves the same files with the same headers.
WHITENOISE_AUTOREFRESH = True
