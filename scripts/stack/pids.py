"""Processes by PID, for those that are not our children (left behind by a crashed run).

A PID is paired with its kernel start time, so a reused PID is never taken for the old process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def proc_start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (guards against PID reuse), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited already
        return None
    return int(fields[19])


def proc_cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def wait_gone(pid: int, start: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = proc_start_time(pid)
        if now is None or (start is not None and now != start):
            return True
        time.sleep(0.05)
    return False


def signal_pid(pid: int, sig: int, *, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def stop_foreign(pid: int, start: int | None, sig: int, *, group: bool, timeout: float) -> None:
    """Stop a process that is not our child (left by a crashed run)."""
    signal_pid(pid, sig, group=group)
    if not wait_gone(pid, start, timeout):
        signal_pid(pid, signal.SIGKILL, group=True)
        signal_pid(pid, signal.SIGKILL, group=False)
        wait_gone(pid, start, 5)
