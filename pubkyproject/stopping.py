"""Graceful stop for the long-running worker commands (``--loop`` and friends)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event that SIGINT or SIGTERM sets, so a worker loop finishes its round and exits.

    ``event.wait(seconds)`` doubles as an interruptible sleep between rounds. The previous
    handlers come back on exit; off the main thread (where handlers cannot be installed, e.g.
    a command called from a test) the event is only set by the caller.
    """
    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, request_stop)
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
