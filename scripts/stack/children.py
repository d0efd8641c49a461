"""The processes a command starts, and the lock that keeps two commands off one data dir.

Every child is recorded in ``<data dir>/pids.json`` as it starts, so the next command stops
whatever a crashed one left behind before it starts anything itself.
"""

# This module's job is to start processes, so ruff's subprocess check is disabled file-wide.
# ruff: noqa: S603

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from .console import rel, warn
from .errors import ConfigError
from .paths import REPO
from .pids import proc_start_time, signal_pid, stop_foreign
from .signals import SIGNALS


@dataclasses.dataclass
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    start: int | None
    stop_signal: int
    group: bool  # signal the whole process group (our children run in their own sessions)
    tier: int  # higher tiers stop first: 2 apps, 1 testnet, 0 databases
    log: Path | None
    stop_timeout: float = 15.0


class Stack:
    """Owns the data dir lock and every process started under it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.logs = data_dir / "logs"
        self.registry = data_dir / "pids.json"
        self.children: list[Child] = []
        self._lock: IO[str] | None = None

    # The lock keeps two runs off one data dir. Its descriptor is not inherited (Python's default),
    # so a crashed runner's orphans never hold it.
    def lock(self, what: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.data_dir / "devstack.lock", "a+")  # noqa: SIM115 -- held until exit
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            handle.close()
            raise ConfigError(
                f"another {what} is using {rel(self.data_dir)} (pid {owner}); stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock = handle

    def _save(self) -> None:
        entries = [
            {
                "name": c.name,
                "pid": c.popen.pid,
                "start": c.start,
                "signal": c.stop_signal,
                "group": c.group,
                "tier": c.tier,
            }
            for c in self.children
            if c.popen.returncode is None
        ]
        tmp = self.registry.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=1))
        tmp.replace(self.registry)

    def reap_leftovers(self) -> list[str]:
        """Stop processes recorded by a previous run that did not get to clean up."""
        try:
            entries = json.loads(self.registry.read_text())
        except (OSError, ValueError):
            entries = []
        stopped = []
        for entry in sorted(entries, key=lambda e: -int(e.get("tier", 0))):
            pid, start = int(entry["pid"]), entry.get("start")
            if start is None or proc_start_time(pid) != start:
                continue
            stopped.append(f"{entry['name']} (pid {pid})")
            stop_foreign(pid, start, int(entry["signal"]), group=bool(entry["group"]), timeout=30)
        with contextlib.suppress(FileNotFoundError):
            self.registry.unlink()
        return stopped

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        tier: int,
        log: Path | None,
        stop_signal: int = signal.SIGTERM,
        group: bool = True,
        cwd: Path = REPO,
    ) -> Child:
        """Start a background process in its own session (the terminal's Ctrl-C reaches only us)."""
        out: IO[bytes] | None = None
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            out = open(log, "ab")  # noqa: SIM115 -- handed to the child
        with SIGNALS.deferred():
            try:
                popen = subprocess.Popen(
                    list(argv),
                    env=dict(env),
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT if out is not None else None,
                    start_new_session=True,
                )
            finally:
                if out is not None:
                    out.close()
            child = Child(name, popen, proc_start_time(popen.pid), stop_signal, group, tier, log)
            self.children.append(child)
            self._save()
        SIGNALS.raise_if_received()
        return child

    def stop_all(self) -> None:
        """Stop children tier by tier (apps, testnet, databases), escalating to SIGKILL."""
        for tier in sorted({c.tier for c in self.children}, reverse=True):
            batch = [c for c in self.children if c.tier == tier and c.popen.poll() is None]
            for child in batch:
                signal_pid(child.popen.pid, child.stop_signal, group=child.group)
            for child in batch:
                try:
                    child.popen.wait(child.stop_timeout)
                except subprocess.TimeoutExpired:
                    warn(f"{child.name} did not stop in {child.stop_timeout:.0f}s; killing it")
                    signal_pid(child.popen.pid, signal.SIGKILL, group=True)
                    child.popen.wait(10)
            # Grandchildren in the same session (e.g. node processes of the testnet).
            for child in batch:
                if child.group:
                    signal_pid(child.popen.pid, signal.SIGKILL, group=True)
        self._save()
        with contextlib.suppress(FileNotFoundError):
            self.registry.unlink()
