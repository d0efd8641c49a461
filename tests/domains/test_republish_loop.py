"""republish_pkarr --loop (the worker ./scripts/run starts) runs passes, stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.helpers import REPO_ROOT
from tests.realtime.conftest import subprocess_env


@pytest.mark.django_db(transaction=True)
def test_the_republish_worker_loops_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "republish_pkarr", "--loop", "--interval", "0.2"],
        cwd=REPO_ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        # Two passes seen (however long the start takes on a loaded machine), then stop it.
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if sum("republished 0 of 0 due" in seen for seen in lines) >= 2:
                break
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
        out = "".join(lines) + rest
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert out.count("republished 0 of 0 due") >= 2
    assert "republish_pkarr: stopped" in out


def test_the_republish_worker_rejects_a_bad_interval() -> None:
    from tests.helpers import run_manage

    result = run_manage("republish_pkarr", "--loop", "--interval", "0")
    assert result.returncode != 0
    assert "--interval must be positive" in result.stderr
