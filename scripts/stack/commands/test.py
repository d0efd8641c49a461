"""``devstack test`` (``./scripts/test``): lint, types, migrations and pytest on a test stack."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import sys
import time
import tomllib
from pathlib import Path

from ..children import Child
from ..console import rel, say
from ..environment import Setup, prepare, start_databases
from ..errors import Interrupted
from ..fast import fast_pytest_args, worker_count
from ..manage_py import manage
from ..npm import npm_ci
from ..paths import REPO, VENV
from ..profiles import PROFILES
from ..signals import SIGNALS, run_step
from ..system_packages import OPTIONAL_TEST_SYSTEM_PACKAGES, ensure_system_packages
from ..venv import ensure_venv, site_packages


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


def xdist_installed() -> bool:
    return (site_packages() / "xdist" / "__init__.py").exists()


def finished_line(started: float) -> str:
    """How long ``--fast`` took, with the load that explains a slow run on a shared machine."""
    seconds = time.monotonic() - started
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"test --fast took {seconds:.1f}s (servers and pytest; load average {load})"


def shown(argv: list[str]) -> str:
    """A command line as printed: paths relative to the repository."""
    return " ".join(rel(Path(a)) if a.startswith("/") else a for a in argv)


def beside_log(setup: Setup, name: str) -> Path:
    """Where a step run beside pytest writes its output (fresh for every run)."""
    return setup.data_dir / "logs" / f"{name}.log"


def start_beside(setup: Setup, name: str, argv: list[str]) -> Child:
    """Start a check in the background, its output to :func:`beside_log` (shown afterwards)."""
    say(f"{name} (beside pytest): {shown(argv)}")
    log = beside_log(setup, name)
    log.unlink(missing_ok=True)
    return setup.stack.spawn(name, argv, env=setup.env, tier=2, log=log)


def cmd_test(args: argparse.Namespace) -> int:
    started = time.monotonic()
    profile = PROFILES["test"]
    fast = bool(getattr(args, "fast", False))
    workers = worker_count(os.environ) if fast else 1  # a bad DEVSTACK_TEST_WORKERS stops here
    setup = prepare(profile)
    env = setup.env
    results: list[tuple[str, int]] = []
    try:
        ensure_venv(profile.requirements)
        if not fast:  # the npm clients and Chromium serve only the tests --fast leaves out
            npm_ci(REPO / "tests" / "interop" / "js")
            ensure_system_packages(OPTIONAL_TEST_SYSTEM_PACKAGES)
        start_databases(setup)
        bin_dir = VENV / "bin"
        steps: list[tuple[str, list[str]]] = []
        beside: list[tuple[str, list[str]]] = []  # run beside pytest (--fast)
        if os.environ.get("SKIP_LINT", "") not in ("1", "true", "yes"):
            steps += [
                ("ruff check", [str(bin_dir / "ruff"), "check", "."]),
                ("ruff format", [str(bin_dir / "ruff"), "format", "--check", "."]),
            ]
            # --fast type-checks while pytest starts (its output follows pytest's) and leaves the
            # migrations check to tests/foundation/test_project.py, which makes the same one.
            (beside if fast else steps).append(("mypy", [str(bin_dir / "mypy"), *mypy_args()]))
            if (REPO / "manage.py").exists() and not fast:
                steps.append(
                    (
                        "migrations",
                        manage("makemigrations", "--check", "--dry-run", "--verbosity", "1"),
                    )
                )
        if fast:
            workers = workers if workers > 1 and xdist_installed() else 1
            pytest_args = fast_pytest_args(args.pytest_args, workers=workers)
        else:
            pytest_args = list(args.pytest_args)
        migrations_stamp = setup.data_dir / "migrations.sha256"
        migrations_now = migrations_digest()
        stale = not migrations_stamp.exists() or migrations_stamp.read_text() != migrations_now
        if stale and not {"--create-db", "--reuse-db"} & set(pytest_args):
            # pytest-django --reuse-db keeps the test database; an edited migration needs a new one.
            pytest_args.append("--create-db")
        steps.append(("pytest", [str(bin_dir / "pytest"), *pytest_args]))
        started_beside = [(name, start_beside(setup, name, argv)) for name, argv in beside]
        for name, argv in steps:
            say(f"{name}: {shown(argv)}")
            results.append((name, run_step(argv, env=env)))
        for name, child in started_beside:
            rc = child.popen.wait()
            say(f"{name} (beside pytest) finished with exit code {rc}:")
            sys.stdout.write(beside_log(setup, name).read_text(errors="replace"))
            sys.stdout.flush()
            results.append((name, rc))
        migrations_stamp.write_text(migrations_now)
    except Interrupted as stop:
        say(f"interrupted by {signal.Signals(stop.signum).name}")
        return 130
    finally:
        SIGNALS.stopping = True
        setup.stack.stop_all()
        drop_ci_tmp_data(setup)
    if fast:
        say(finished_line(started))
    failed = [(name, rc) for name, rc in results if rc != 0]
    if failed:
        summary = ", ".join(f"{name} (exit {rc})" for name, rc in failed)
        print(f"devstack: FAILED: {summary}", file=sys.stderr, flush=True)
        return failed[0][1]
    return 0
