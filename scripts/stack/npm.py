"""``npm ci`` of the interop tests' packages, skipped while ``node_modules`` matches its lock."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from .console import rel, say
from .errors import ConfigError
from .signals import check_step


def npm_ci(directory: Path) -> None:
    """``npm ci`` the interop packages, skipped when node_modules matches the lockfile already."""
    if not (directory / "package.json").exists():
        return
    lock = directory / "package-lock.json"
    if not lock.exists():
        raise ConfigError(f"{rel(lock)} is missing; npm ci needs it")
    if shutil.which("npm") is None:
        raise ConfigError("npm is not installed (Node 20 + npm are needed for the interop tests)")
    digest = hashlib.sha256(
        lock.read_bytes() + (directory / "package.json").read_bytes()
    ).hexdigest()
    stamp = directory / "node_modules" / ".devstack-lock.sha256"
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    say(f"npm ci in {rel(directory)}")
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    argv = ["npm", "ci", "--no-audit", "--no-fund"]
    check_step(argv, env=env, what=f"npm ci in {rel(directory)}", cwd=directory)
    stamp.write_text(digest + "\n")
