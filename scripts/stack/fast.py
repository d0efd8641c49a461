"""What ``./scripts/test --fast`` runs, and how: the inner loop of a developer, not CI.

It leaves out the tests that start real processes (``e2e``), run the npm clients (``interop``)
or drive Chromium (``browser``); it runs the property tests under the Hypothesis profile
``fast`` (fewer examples each, see ``tests/conftest.py``); and it spreads the tests over one
pytest-xdist worker per CPU, each with its own test database and Valkey database.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from .errors import ConfigError

#: What `test --fast` runs: no browser, no npm clients, no real server processes.
FAST_TESTS = "not e2e and not interop and not browser"

#: The Hypothesis profile of ``--fast`` (registered by ``tests/conftest.py``).
HYPOTHESIS_PROFILE = "fast"

#: At most this many workers by default: each is a whole Django process with its own database.
MAX_DEFAULT_WORKERS = 4

#: Valkey has 16 databases; worker ``gwN`` uses database N + 1 (``pubkyproject/settings/test.py``).
MAX_WORKERS = 15

#: pytest options that need the tests in this process (a debugger, output to the terminal).
ONE_PROCESS_OPTIONS = ("--pdb", "--trace", "-s", "--capture=no", "--collect-only", "--co")


def fast_markers(pytest_args: Sequence[str]) -> list[str]:
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


def _options(pytest_args: Sequence[str]) -> list[str]:
    """The caller's arguments up to a ``--`` (after it, everything is a path or a test id)."""
    args = list(pytest_args)
    return args[: args.index("--")] if "--" in args else args


def chooses_workers(pytest_args: Sequence[str]) -> bool:
    """Whether the caller decided about xdist already (``-n``, ``--dist``, ``-p no:xdist``)."""
    options = _options(pytest_args)
    for index, arg in enumerate(options):
        if arg in ("-n", "--numprocesses") or arg.startswith(("-n=", "--numprocesses=")):
            return True
        if arg.startswith("-n") and arg[2:].isdigit():
            return True
        if arg == "--dist" or arg.startswith("--dist="):
            return True
        plugin = options[index + 1] if arg == "-p" and index + 1 < len(options) else arg[2:]
        if arg.startswith("-p") and plugin.strip() == "no:xdist":
            return True
    return False


def fast_pytest_args(pytest_args: Sequence[str], *, workers: int) -> list[str]:
    """The pytest command line of ``--fast``: the fast tests, fewer examples, ``workers`` workers.

    The caller's own ``--hypothesis-profile``, ``-n`` (or ``-p no:xdist``) win; so does a
    debugger or ``-s``, which need one process.
    """
    options = _options(pytest_args)
    args = fast_markers(pytest_args)
    if not any(a.startswith("--hypothesis-profile") for a in options):
        args = [f"--hypothesis-profile={HYPOTHESIS_PROFILE}", *args]
    one_process = any(a in ONE_PROCESS_OPTIONS for a in options)
    if workers > 1 and not one_process and not chooses_workers(pytest_args):
        args = ["-n", str(workers), *args]
    return args


def worker_count(env: Mapping[str, str]) -> int:
    """``DEVSTACK_TEST_WORKERS``, or one worker per CPU this process may use (at most 4)."""
    raw = env.get("DEVSTACK_TEST_WORKERS", "").strip()
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_WORKERS:
            raise ConfigError(
                f"DEVSTACK_TEST_WORKERS must be a number from 1 to {MAX_WORKERS}, got {raw!r}"
            )
        return int(raw)
    return max(1, min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS))
