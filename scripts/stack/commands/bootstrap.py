"""``devstack bootstrap`` (``./scripts/bootstrap``): ``.venv``; with ``--dev`` the npm packages."""

from __future__ import annotations

import argparse

from ..console import rel, say
from ..npm import npm_ci
from ..paths import REPO, VENV
from ..profiles import PROFILES
from ..venv import ensure_venv


def cmd_bootstrap(args: argparse.Namespace) -> int:
    ensure_venv(PROFILES["test" if args.dev else "run"].requirements)
    if args.dev:
        npm_ci(REPO / "tests" / "interop" / "js")
    say(f"{rel(VENV)} is ready")
    return 0
