"""Stop requests and foreground steps.

SIGINT, SIGTERM and SIGHUP become :class:`Interrupted` at a safe point; while a foreground
step (pytest, migrate, …) runs, the step gets the signal and the stack waits for it to finish.
"""

# This module's job is to start processes, so ruff's subprocess check is disabled file-wide.
# ruff: noqa: S603

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType

from .errors import Interrupted, StackError
from .paths import REPO
from .pids import signal_pid


class Signals:
    """Turns SIGINT/SIGTERM/SIGHUP into ``Interrupted`` at a safe point."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.foreground: subprocess.Popen[bytes] | None = None
        self.defer = False  # while starting a process, so none escapes our bookkeeping
        self.stopping = False

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping:
            return  # already cleaning up; let it finish
        self.received = signum
        if self.foreground is not None:
            # The step shares our terminal, so Ctrl-C reached it already; others are passed on.
            if signum != signal.SIGINT:
                signal_pid(self.foreground.pid, signum, group=False)
            return
        if not self.defer:
            raise Interrupted(signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self.defer = True
        try:
            yield
        finally:
            self.defer = False

    def raise_if_received(self) -> None:
        if self.received is not None and not self.stopping:
            raise Interrupted(self.received)


SIGNALS = Signals()


def run_step(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path = REPO) -> int:
    """Run a command in the foreground (our terminal, our process group) and return its code."""
    with SIGNALS.deferred():
        popen = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL)
        SIGNALS.foreground = popen
    try:
        if SIGNALS.received is not None:  # arrived while we were starting it
            signal_pid(popen.pid, signal.SIGTERM, group=False)
        rc = popen.wait()
    finally:
        SIGNALS.foreground = None
        if popen.poll() is None:
            popen.kill()
            popen.wait()
    SIGNALS.raise_if_received()
    return rc


def check_step(argv: Sequence[str], *, env: Mapping[str, str], what: str, cwd: Path = REPO) -> None:
    rc = run_step(argv, env=env, cwd=cwd)
    if rc != 0:
        raise StackError(f"{what} failed (exit code {rc})")
