"""Helpers for tests that run several copies of a worker (pubkyproject/leader.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.servers import Process

# Standbys try for the lead this often in the tests (the default is seconds).
FAST_LEADER_POLL = {"WORKER_LEADER_POLL_SECONDS": "0.2", "PYTHONUNBUFFERED": "1"}


def wait_until(condition: Callable[[], bool], what: str, *, timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def leader_and_standby(name: str, *copies: Process) -> tuple[Process, list[Process]]:
    """Wait until one copy leads worker ``name`` and every other one stands by."""

    def roles() -> bool:
        leading = [p for p in copies if f"{name}: leading" in p.log()]
        standing = [p for p in copies if f"{name}: standby" in p.log()]
        return len(leading) == 1 and len(standing) == len(copies) - 1

    wait_until(roles, f"one {name} to lead and {len(copies) - 1} to stand by")
    leader = next(p for p in copies if f"{name}: leading" in p.log())
    return leader, [p for p in copies if p is not leader]


def rounds_after_leading(process: Process, name: str, marker: str) -> tuple[int, int]:
    """``(rounds before it led, rounds since)``: lines containing ``marker`` in its log."""
    log = process.log()
    at = log.find(f"{name}: leading")
    if at < 0:
        return log.count(marker), 0
    return log[:at].count(marker), log[at:].count(marker)


def not_running(process: Process) -> bool:
    return process.proc.poll() is not None
