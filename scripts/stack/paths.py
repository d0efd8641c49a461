"""Where things are: the repository, its ``.venv`` and the data directory (``.data``)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv"
VENV_PY = VENV / "bin" / "python"


def data_root() -> Path:
    """``.data`` in the repository, or ``DEVSTACK_DATA_DIR`` when it is set."""
    override = os.environ.get("DEVSTACK_DATA_DIR", "").strip()
    return Path(override).resolve() if override else REPO / ".data"
