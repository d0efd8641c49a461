"""The two failures the commands report in one ``error:`` line, and a stop request."""

from __future__ import annotations

import signal


class ConfigError(Exception):
    """Bad configuration: reported as one ``error:`` line, exit code 2."""


class StackError(Exception):
    """Something we started failed: reported as one ``error:`` line, exit code 1."""


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
