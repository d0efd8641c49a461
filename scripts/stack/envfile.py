"""``KEY=value`` files: reading ``.env``, and the generated secrets in ``.data/local.env``."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from .console import rel
from .errors import ConfigError


def parse_env_file(path: Path) -> dict[str, str]:
    """Read ``KEY=value`` lines (``export`` prefix, comments and simple quotes allowed)."""
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except FileNotFoundError:
        return values
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ConfigError(f"{rel(path)} line {number}: expected KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def ensure_local_secrets(path: Path) -> dict[str, str]:
    """Generate SECRET_KEY and PUBKY_KEY_ENCRYPTION_KEY once into ``path`` (mode 0600)."""
    values = parse_env_file(path)
    missing = {
        "SECRET_KEY": lambda: secrets.token_urlsafe(50),
        "PUBKY_KEY_ENCRYPTION_KEY": lambda: secrets.token_hex(32),
    }
    new = {key: make() for key, make in missing.items() if not values.get(key)}
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = (
            ""
            if path.exists()
            else (
                "# Generated once by scripts/devstack.py for local development only. Keep it\n"
                "# private; deleting it makes encrypted keys in the local database unreadable.\n"
            )
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as handle:
            handle.write(header + "".join(f"{key}={value}\n" for key, value in new.items()))
        values.update(new)
    os.chmod(path, 0o600)
    return values
