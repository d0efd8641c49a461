"""``devstack test`` (``./scripts/test``): lint, types, migrations and pytest on a test stack."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

from ..console import rel, say
from ..environment import Setup, prepare, start_databases
from ..errors import Interrupted
from ..manage_py import manage
from ..npm import npm_ci
from ..paths import REPO, VENV
from ..profiles import PROFILES
from ..signals import SIGNALS, run_step
from ..system_packages import OPTIONAL_TEST_SYSTEM_PACKAGES, ensure_system_packages
from ..venv import ensure_venv


def mypy_args() -> list[str]:
    try:
        config = tomllib.loads((REPO / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        config = {}
    return [] if config.get("tool", {}).get("mypy", {}).get("files") else ["."]


def migrations_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(REPO.glob("*/migrations/*.py")):
        digest.update(rel(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def drop_ci_tmp_data(setup: Setup) -> None:
    """In CI, a cluster kept under /tmp (a clone the PG user cannot reach) is never reused."""
    in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    plan = setup.pg_plan
    if in_ci and plan is not None and not plan.data.is_relative_to(setup.data_dir):
        shutil.rmtree(plan.data.parent, ignore_errors=True)


#: What `test --fast` runs: no browser, no npm clients, no real server processes.
FAST_TESTS = "not e2e and not interop and not browser"


def fast_pytest_args(pytest_args: Sequence[str]) -> list[str]:
    """``pytest_args`` narrowed to the fast tests; a ``-m`` of the caller's is kept and combined.

    ``-m slow`` becomes ``-m "(slow) and (not e2e and …)"``, so ``--fast`` never widens what the
    caller asked for and never runs a test it is meant to leave out.
    """
    args = list(pytest_args)
    combined = False
    for index, arg in enumerate(args):
        if arg == "-m" and index + 1 < len(args):
            args[index + 1] = f"({args[index + 1]}) and ({FAST_TESTS})"
            combined = True
        elif arg.startswith("-m") and len(arg) > 2 and not arg.startswith("-m="):
            args[index] = f"-m({arg[2:]}) and ({FAST_TESTS})"
            combined = True
        elif arg.startswith("-m="):
            args[index] = f"-m=({arg[3:]}) and ({FAST_TESTS})"
            combined = True
        if arg == "--":
            break
    return args if combined else ["-m", FAST_TESTS, *args]


def cmd_test(args: argparse.Namespace) -> int:
    profile = PROFILES["test"]
    setup = prepare(profile)
    env = setup.env
    results: list[tuple[str, int]] = []
    try:
        ensure_venv(profile.requirements)
        fast = bool(getattr(args, "fast", False))
        if not fast:  # the npm clients and Chromium serve only the tests --fast leaves out
            npm_ci(REPO / "tests" / "interop" / "js")
            ensure_system_packages(OPTIONAL_TEST_SYSTEM_PACKAGES)
        start_databases(setup)
        bin_dir = VENV / "bin"
        steps: list[tuple[str, list[str]]] = []
        if os.environ.get("SKIP_LINT", "") not in ("1", "true", "yes"):
            steps += [
                ("ruff check", [str(bin_dir / "ruff"), "check", "."]),
                ("ruff format", [str(bin_dir / "ruff"), "format", "--check", "."]),
                ("mypy", [str(bin_dir / "mypy"), *mypy_args()]),
            ]
            if (REPO / "manage.py").exists():
                steps.append(
                    (
                        "migrations",
                        manage("makemigrations", "--check", "--dry-run", "--verbosity", "1"),
                    )
                )
        pytest_args = fast_pytest_args(args.pytest_args) if fast else list(args.pytest_args)
        migrations_stamp = setup.data_dir / "migrations.sha256"
        migrations_now = migrations_digest()
        stale = not migrations_stamp.exists() or migrations_stamp.read_text() != migrations_now
        if stale and not {"--create-db", "--reuse-db"} & set(pytest_args):
            # pytest-django --reuse-db keeps the test database; an edited migration needs a new one.
            pytest_args.append("--create-db")
        steps.append(("pytest", [str(bin_dir / "pytest"), *pytest_args]))
        for name, argv in steps:
            say(f"{name}: {' '.join(rel(Path(a)) if a.startswith('/') else a for a in argv)}")
            results.append((name, run_step(argv, env=env)))
        migrations_stamp.write_text(migrations_now)
    except Interrupted as stop:
        say(f"interrupted by {signal.Signals(stop.signum).name}")
        return 130
    finally:
        SIGNALS.stopping = True
        setup.stack.stop_all()
        drop_ci_tmp_data(setup)
    failed = [(name, rc) for name, rc in results if rc != 0]
    if failed:
        summary = ", ".join(f"{name} (exit {rc})" for name, rc in failed)
        print(f"devstack: FAILED: {summary}", file=sys.stderr, flush=True)
        return failed[0][1]
    return 0
