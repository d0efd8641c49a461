"""``manage.py`` command lines, and whether a management command (or an option) exists yet."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .paths import REPO, VENV_PY


def management_command_path(name: str) -> Path | None:
    """The module of ``manage.py <name>`` in one of the project's apps, if it exists yet."""
    for pattern in (
        f"*/management/commands/{name}.py",
        f"*/management/commands/{name}/__init__.py",
        f"*/*/management/commands/{name}.py",
    ):
        for found in REPO.glob(pattern):
            if not found.parts[len(REPO.parts)].startswith("."):
                return found
    return None


def command_supports(name: str, args: Sequence[str]) -> tuple[bool, str]:
    path = management_command_path(name)
    if path is None:
        return False, "its command does not exist yet"
    source = path.read_text(errors="replace")
    for option in (a for a in args if a.startswith("--")):
        if option not in source:
            return False, f"its command has no {option} option yet"
    return True, ""


def manage(*args: str) -> list[str]:
    return [str(VENV_PY), str(REPO / "manage.py"), *args]
