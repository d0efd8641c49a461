"""The development stack behind ``./scripts/run`` and ``./scripts/test`` (stdlib only).

The command line: ``run``, ``test [--fast] [pytest args]``, ``bootstrap [--dev]``,
``exec --profile P -- CMD`` and ``reset [run|test|all]``. Configuration errors print one
``error: …`` line and exit with 2; a failure of something the stack started exits with 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .commands.bootstrap import cmd_bootstrap
from .commands.exec import cmd_exec
from .commands.reset import cmd_reset
from .commands.run import cmd_run
from .commands.test import cmd_test
from .console import fail
from .errors import ConfigError, Interrupted, StackError
from .fast import FAST_TESTS
from .paths import REPO
from .profiles import PROFILES
from .signals import SIGNALS


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    argv = list(argv)
    if argv[:1] == ["test"] and argv[1:2] not in (["-h"], ["--help"]):
        # Everything after `test` belongs to pytest, options first included (`test -q -x`):
        # argparse's REMAINDER refuses a leading option. Only a leading `--fast` is ours;
        # after `--`, or after the first pytest argument, `--fast` goes to pytest as written.
        rest = argv[1:]
        fast = False
        while rest[:1] == ["--fast"]:
            fast, rest = True, rest[1:]
        pytest_args = rest[1:] if rest[:1] == ["--"] else rest
        return argparse.Namespace(cmd="test", pytest_args=pytest_args, fast=fast)
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", help="serve the app with PostgreSQL, Valkey, testnet and workers")
    test = sub.add_parser("test", help="lint, type-check and pytest against real servers")
    test.add_argument("--fast", action="store_true", help=f"pytest -m '{FAST_TESTS}' only")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest")
    boot = sub.add_parser("bootstrap", help="create .venv and install requirements")
    boot.add_argument("--dev", action="store_true", help="requirements-dev.txt and npm packages")
    exe = sub.add_parser("exec", help="run a command with the profile's environment")
    exe.add_argument("--profile", choices=sorted(PROFILES), default="run")
    exe.add_argument("command", nargs=argparse.REMAINDER)
    reset = sub.add_parser("reset", help="stop leftovers and delete a profile's data")
    reset.add_argument("which", nargs="?", choices=["run", "test", "all"], default="run")
    args = parser.parse_args(argv)
    if args.cmd == "exec" and args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if args.cmd == "test" and args.pytest_args[:1] == ["--"]:
        args.pytest_args = args.pytest_args[1:]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    if sys.version_info[:2] != (3, 11):
        fail(f"Python 3.11 is required, this is {sys.version.split()[0]} (set PYTHON=…)", 2)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.chdir(REPO)
    SIGNALS.install()
    handlers = {
        "run": cmd_run,
        "test": cmd_test,
        "bootstrap": cmd_bootstrap,
        "exec": cmd_exec,
        "reset": cmd_reset,
    }
    try:
        return handlers[args.cmd](args)
    except ConfigError as exc:
        fail(str(exc), 2)
    except StackError as exc:
        fail(str(exc), 1)
    except Interrupted:
        return 130
