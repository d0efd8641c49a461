"""Local development: the embedded PostgreSQL/Valkey started by ./scripts/run."""

from __future__ import annotations

from pubkyproject.env import env_bool
from pubkyproject.settings.base import *  # noqa: F403
from pubkyproject.settings.base import PUBKY_KEY_ENCRYPTION_KEY as _KEY
from pubkyproject.settings.base import SECRET_KEY as _SECRET

DEBUG = env_bool("DEBUG", True)
PUBKY_TESTNET = env_bool("PUBKY_TESTNET", True)

# scripts/run generates real random values into .data/local.env; these fallbacks only keep
# `manage.py` usable for quick local commands and are refused by production settings.
SECRET_KEY = _SECRET or "local-development-only-not-secret-0123456789abcdef"
PUBKY_KEY_ENCRYPTION_KEY = _KEY or bytes.fromhex("11" * 32)
