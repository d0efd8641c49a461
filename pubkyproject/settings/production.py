"""Production: every secret must come from the environment; nothing has a development default."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from pubkyproject.env import env_bool, env_int, env_list, env_str, parse_encryption_key
from pubkyproject.settings.base import *  # noqa: F403
from pubkyproject.settings.base import BASE_DIR, DATABASES, LOGGING

DEBUG = False
SECRET_KEY = env_str("SECRET_KEY")
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters in production")
PUBKY_KEY_ENCRYPTION_KEY = parse_encryption_key(env_str("PUBKY_KEY_ENCRYPTION_KEY"))
env_str("DATABASE_URL")
if not env_list("REDIS_SENTINELS"):
    env_str("REDIS_URL")  # one Redis, unless the sentinels name it
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required but not set")

# Connection pooling (psycopg 3 pool, Django 5.1+): web processes reuse connections instead of
# opening one per request or per consumer call.
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["OPTIONS"] = {
    **DATABASES["default"]["OPTIONS"],  # type: ignore[dict-item]
    "pool": {
        "min_size": env_int("DATABASE_POOL_MIN", 2, minimum=0),
        "max_size": env_int("DATABASE_POOL_MAX", 20, minimum=1),
        "timeout": 10,
    },
}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
SECURE_CONTENT_TYPE_NOSNIFF = True

# Static files: collected into the image (collectstatic), served by WhiteNoise with hashed
# names (cached for a year by browsers and proxies) and pre-compressed copies.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / ".data" / "static")))
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", False)
# Hashed files are cached for a year (WhiteNoise's default); a file asked for by its plain name
# only briefly.
WHITENOISE_MAX_AGE = 60
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "pubkyproject.storage.StaticFilesStorage"},
}

# One JSON object per log line unless LOG_FORMAT=plain is set explicitly.
LOG_FORMAT = env_str("LOG_FORMAT", "json")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
_handlers: dict[str, dict[str, object]] = LOGGING["handlers"]  # type: ignore[assignment]
_handlers["console"]["formatter"] = LOG_FORMAT
