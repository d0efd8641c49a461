"""Helpers shared by the test packages (import as ``tests.helpers``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_manage(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` in a subprocess with the test environment plus ``env`` overrides."""
    return run_manage_env(*args, env={**os.environ, **(env or {})}, timeout=timeout)


def run_manage_env(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` with exactly ``env`` (no inheritance), for configuration tests."""
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "manage.py"), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
