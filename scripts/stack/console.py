"""Messages: ``devstack: …`` progress lines, warnings, log tails and the final ``error:``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

from .paths import REPO


def say(message: str) -> None:
    print(f"devstack: {message}", flush=True)


def warn(message: str) -> None:
    print(f"devstack: warning: {message}", file=sys.stderr, flush=True)


def rel(path: Path) -> str:
    """A path relative to the repository when it is inside it (for messages)."""
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(f"    {line}" for line in text[-lines:])


def fail(message: str, code: int) -> NoReturn:
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)
