"""``.venv`` with Python 3.11 and the pinned requirements, installed once per change of a file."""

# This module's job is to start processes, so ruff's subprocess check is disabled file-wide.
# ruff: noqa: S603

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .console import rel, say
from .errors import ConfigError
from .paths import REPO, VENV, VENV_PY
from .signals import check_step


def requirements_closure(path: Path) -> list[Path]:
    """The file and every file it includes with ``-r`` / ``--requirement``, in order."""
    seen: list[Path] = []

    def visit(p: Path) -> None:
        p = p.resolve()
        if p in seen:
            return
        if not p.is_file():
            raise ConfigError(f"requirements file {rel(p)} not found")
        seen.append(p)
        for line in p.read_text().splitlines():
            match = re.match(r"^\s*(?:-r|--requirement)[=\s]\s*(\S+)", line)
            if match:
                visit(p.parent / match.group(1))

    visit(path)
    return seen


def requirements_hash(path: Path) -> str:
    digest = hashlib.sha256(f"{sys.version_info[:2]}".encode())
    for part in requirements_closure(path):
        digest.update(part.name.encode() + b"\0" + part.read_bytes() + b"\0")
    return digest.hexdigest()


def venv_python_ok() -> bool:
    if not VENV_PY.exists():
        return False
    probe = subprocess.run(
        [str(VENV_PY), "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 11))"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def ensure_venv(requirements: str) -> None:
    """Create .venv (Python 3.11) if needed and install ``requirements`` unless already done."""
    if not venv_python_ok():
        if VENV.exists():
            say(f"{rel(VENV)} is broken or not Python 3.11; recreating it")
            try:
                shutil.rmtree(VENV)
            except OSError as exc:
                raise ConfigError(f"cannot remove the unusable {rel(VENV)}: {exc}") from None
        say(f"creating {rel(VENV)} with {sys.executable}")
        made = subprocess.run(
            [sys.executable, "-m", "venv", str(VENV)], capture_output=True, text=True, check=False
        )
        if made.returncode != 0:
            detail = (made.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise ConfigError(
                f"cannot create {rel(VENV)}: {detail} (is python3.11-venv installed?)"
            )
    stamp_path = VENV / ".devstack-requirements.json"
    try:
        stamps = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        stamps = {}
    req = REPO / requirements
    wanted = requirements_hash(req)
    if stamps.get(requirements) == wanted:
        return
    say(f"installing {requirements} into {rel(VENV)} (once per change of the file)")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    env.pop("PIP_REQUIRE_VIRTUALENV", None)
    check_step(
        [str(VENV_PY), "-m", "pip", "install", "-qq", "--progress-bar", "off", "-r", str(req)],
        env=env,
        what=f"pip install -r {requirements}",
    )
    # Everything a file includes is now installed too, so record those files as satisfied as well.
    for part in requirements_closure(req):
        stamps[rel(part)] = requirements_hash(part)
    stamp_path.write_text(json.dumps(stamps, indent=1, sort_keys=True))


def site_packages() -> Path:
    out = subprocess.run(
        [str(VENV_PY), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())
