"""Typed, loud readers for environment configuration.

Every setting comes from the environment (README, "Configuration and key rotation"). A
malformed value raises ``ImproperlyConfigured`` with a one-line message naming the variable,
which ``manage.py`` and ``asgi.py`` turn into ``error: …`` and exit code 2 instead of a
traceback.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_MISSING = object()


def _raw(name: str) -> str | None:
    """Read ``NAME`` or, for secrets mounted as files, the file named by ``NAME_FILE``."""
    value = os.environ.get(name)
    if value is not None:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {path}: {exc.strerror}") from exc
    return None


def env_str(name: str, default: str | object = _MISSING) -> str:
    value = _raw(name)
    if value is None or value == "":
        if default is _MISSING:
            raise ImproperlyConfigured(f"{name} is required but not set")
        return str(default)
    return value


def env_optional(name: str) -> str | None:
    value = _raw(name)
    return value or None


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_float(
    name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {number}")
    return number


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url_list(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated list of http(s) URLs, normalised without a trailing slash."""
    urls = []
    for item in env_list(name, default):
        parts = urlsplit(item)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ImproperlyConfigured(f"{name} must list http(s) URLs, got {item!r}")
        urls.append(item.rstrip("/"))
    return urls


@dataclass(frozen=True)
class DatabaseConfig:
    name: str
    user: str
    password: str
    host: str
    port: str
    options: dict[str, str]


def parse_database_url(url: str, *, var: str = "DATABASE_URL") -> DatabaseConfig:
    """Parse ``postgres://user:pass@host:port/name?opts``; a malformed URL is a one-line error."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{var} is malformed: {exc}") from None
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"{var} must start with postgres:// or postgresql://, got scheme {parts.scheme!r}"
        )
    name = unquote(parts.path.lstrip("/"))
    if not name or "/" in name:
        raise ImproperlyConfigured(f"{var} must name a database, e.g. postgres://host:5432/pubky")
    host = unquote(parts.hostname or "")
    query = dict(parse_qsl(parts.query))
    # A Unix-socket directory may be given as ?host=/path
    host = query.pop("host", host)
    if not host:
        raise ImproperlyConfigured(f"{var} must name a host")
    return DatabaseConfig(
        name=name,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        host=host,
        port=str(port or ""),
        options=query,
    )


def parse_redis_url(url: str, *, var: str = "REDIS_URL") -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{var} is malformed: {exc}") from None
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(
            f"{var} must start with redis://, rediss:// or unix://, got {parts.scheme!r}"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ImproperlyConfigured(f"{var} must name a host")
    return url


def parse_encryption_key(value: str, *, var: str = "PUBKY_KEY_ENCRYPTION_KEY") -> bytes:
    """Decode a 32-byte key given as 64 hex characters or (url-safe) base64."""
    text = value.strip()
    raw: bytes | None = None
    if len(text) == 64:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = None
    if raw is None:
        try:
            padded = text + "=" * (-len(text) % 4)
            raw = base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(
                f"{var} must be 32 bytes as 64 hex characters or base64"
            ) from None
    if len(raw) != 32:
        raise ImproperlyConfigured(
            f"{var} must decode to exactly 32 bytes, got {len(raw)} "
            "(generate one with: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return raw
