"""``devstack run`` (``./scripts/run``): the whole stack, until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Mapping
from typing import NoReturn

from ..app import asgi_server, banner, start_app, wait_for_web
from ..children import Child, Stack
from ..console import log_tail, rel, say, warn
from ..envfile import parse_env_file
from ..environment import prepare, start_databases
from ..errors import Interrupted, StackError
from ..manage_py import manage, management_command_path
from ..paths import REPO
from ..profiles import PROFILES
from ..signals import SIGNALS, check_step
from ..stackfile import stack_state_path, write_stack_state
from ..testnet import start_testnet
from ..venv import ensure_venv


def cmd_run(_args: argparse.Namespace) -> int:
    profile = PROFILES["run"]
    asgi_server({**parse_env_file(REPO / ".env"), **os.environ})  # a bad ASGI_SERVER stops here
    setup = prepare(profile)
    stack, env = setup.stack, setup.env
    assert profile.web is not None
    web_port = setup.ports[profile.web.env]
    env["PORT"] = str(web_port)
    env.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
    try:
        ensure_venv(profile.requirements)
        start_databases(setup)
        check_step(manage("migrate", "--noinput"), env=env, what="manage.py migrate")
        testnet = start_testnet(setup) if setup.testnet else None
        seeded = management_command_path("seed_demo") is not None
        if seeded:
            check_step(manage("seed_demo"), env=env, what="manage.py seed_demo")
        else:
            warn("manage.py seed_demo does not exist yet; no demo user")
        web, workers = start_app(setup, web_port)
        write_stack_state(setup)
        wait_for_web(web, web_port)
        info = banner(setup, web_port, seeded=seeded, workers=list(workers), testnet=bool(testnet))
        print(info, flush=True)
        return supervise(web, workers, testnet, stack)
    except Interrupted:
        print("", flush=True)
        say("stopping")
        return 0
    finally:
        SIGNALS.stopping = True
        with contextlib.suppress(FileNotFoundError):
            stack_state_path(setup.data_dir).unlink()
        stack.stop_all()


def supervise(
    web: Child, workers: Mapping[str, Child], testnet: Child | None, stack: Stack
) -> NoReturn:
    """Wait until Ctrl-C or until the web server or a database dies; report dead workers once."""
    reported: set[str] = set()
    databases = [c for c in stack.children if c.tier == 0]
    while True:
        time.sleep(0.5)
        if web.popen.poll() is not None:
            raise StackError(f"the web server exited (exit code {web.popen.returncode})")
        for child in databases:
            if child.popen.poll() is not None:
                raise StackError(
                    f"{child.name} exited unexpectedly, see {rel(child.log or stack.logs)}"
                )
        for child in [*workers.values(), *([testnet] if testnet else [])]:
            if child.popen.poll() is not None and child.name not in reported:
                reported.add(child.name)
                code = child.popen.returncode
                warn(f"{child.name} exited with code {code}, see {rel(child.log or stack.logs)}:")
                print(log_tail(child.log) if child.log else "", file=sys.stderr, flush=True)
