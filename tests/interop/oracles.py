"""Drive the real npm Pubky/PKARR packages (tests/interop/js) from pytest.

The Node scripts read one JSON document ``{"ops": [...]}`` on stdin and print one JSON line
``{"results": [...]}`` (see ``js/lib.mjs``). Every failure message carries the Node stderr, so a
red test shows what the npm client actually saw.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

JS_DIR = Path(__file__).resolve().parent / "js"
NODE_MODULES = JS_DIR / "node_modules"
REQUIRED_PACKAGES = ("pkarr", "@synonymdev/pubky", "bittorrent-dht", "sodium-universal")
INSTALL_HINT = "run `npm ci` in tests/interop/js"

#: Default wall-clock limit for one Node script run (a whole batch of ops).
DEFAULT_TIMEOUT = 30.0

Json = dict[str, Any]


def node_executable() -> str | None:
    return shutil.which("node")


def missing_oracles_reason() -> str | None:
    """Why the npm oracles cannot run here, or ``None`` when they can."""
    if not NODE_MODULES.is_dir():
        return f"npm interop oracles not installed ({NODE_MODULES} missing): {INSTALL_HINT}"
    missing = [name for name in REQUIRED_PACKAGES if not (NODE_MODULES / name).is_dir()]
    if missing:
        return f"npm packages missing from {NODE_MODULES}: {', '.join(missing)}; {INSTALL_HINT}"
    if node_executable() is None:
        return "node_modules is installed but no `node` executable is on PATH"
    return None


def _tail(text: str, limit: int = 6000) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


class NodeScriptError(AssertionError):
    """A Node oracle script crashed, timed out, or an op did not behave as expected."""


@dataclass
class NodeRun:
    """The outcome of one script invocation: one result per op, plus Node's stderr."""

    script: str
    ops: list[Json]
    results: list[Json]
    stderr: str = field(repr=False)

    def describe(self, index: int) -> str:
        return (
            f"{self.script} op #{index} {json.dumps(self.ops[index])[:2000]}\n"
            f"result: {json.dumps(self.results[index])[:4000]}\n"
            f"--- node stderr ---\n{_tail(self.stderr)}"
        )

    def value(self, index: int = 0) -> Json:
        """The result of op ``index``, which must have succeeded."""
        result = self.results[index]
        if not result.get("ok"):
            raise NodeScriptError(f"npm oracle op failed unexpectedly:\n{self.describe(index)}")
        return result

    def error(self, index: int = 0) -> Json:
        """The error of op ``index``, which must have failed."""
        result = self.results[index]
        if result.get("ok"):
            raise NodeScriptError(f"npm oracle op succeeded unexpectedly:\n{self.describe(index)}")
        error: Json = result["error"]
        return error


def run_node(script: str, ops: list[Json], *, timeout: float = DEFAULT_TIMEOUT) -> NodeRun:
    """Run ``js/<script>`` with ``ops`` and return its per-op results."""
    node = node_executable()
    if node is None:
        raise NodeScriptError("no `node` executable on PATH")
    request = json.dumps({"ops": ops})
    try:
        completed = subprocess.run(
            [node, str(JS_DIR / script)],
            input=request,
            capture_output=True,
            text=True,
            cwd=JS_DIR,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise NodeScriptError(
            f"{script} did not finish within {timeout}s (ops: {[op.get('op') for op in ops]})\n"
            f"--- node stderr ---\n{_tail(stderr)}"
        ) from None
    if completed.returncode != 0:
        raise NodeScriptError(
            f"{script} exited with {completed.returncode}\n"
            f"--- node stdout ---\n{_tail(completed.stdout)}\n"
            f"--- node stderr ---\n{_tail(completed.stderr)}"
        )
    try:
        results = json.loads(completed.stdout)["results"]
    except (ValueError, KeyError) as exc:
        raise NodeScriptError(
            f"{script} printed no JSON result ({exc})\n"
            f"--- node stdout ---\n{_tail(completed.stdout)}\n"
            f"--- node stderr ---\n{_tail(completed.stderr)}"
        ) from None
    if len(results) != len(ops):
        raise NodeScriptError(f"{script} answered {len(results)} results for {len(ops)} ops")
    return NodeRun(script=script, ops=ops, results=results, stderr=completed.stderr)


def pkarr(*ops: Json, timeout: float = DEFAULT_TIMEOUT) -> NodeRun:
    """Run ops through npm ``pkarr@1.3.0`` (``js/pkarr_tool.mjs``)."""
    return run_node("pkarr_tool.mjs", list(ops), timeout=timeout)


def pubky(*ops: Json, timeout: float = DEFAULT_TIMEOUT) -> NodeRun:
    """Run ops through npm ``@synonymdev/pubky@0.6.0`` (``js/pubky_tool.mjs``)."""
    return run_node("pubky_tool.mjs", list(ops), timeout=timeout)


class NpmPkarrRelay:
    """The npm ``pkarr@1.3.0`` relay on a private loopback DHT (``js/pkarr_relay.mjs``)."""

    def __init__(self, *, start_timeout: float = 20.0) -> None:
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.url = ""
        self.port = 0
        self.dht_port = 0

    def log_text(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")

    def start(self) -> NpmPkarrRelay:
        node = node_executable()
        if node is None:
            raise NodeScriptError("no `node` executable on PATH")
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the relay
            prefix="npm-pkarr-relay-", suffix=".log", delete=False
        )
        self._process = subprocess.Popen(
            [node, str(JS_DIR / "pkarr_relay.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=JS_DIR,
        )
        line = self._read_handshake()
        info = json.loads(line)
        self.url = info["relay_url"]
        self.port = int(info["port"])
        self.dht_port = int(info["dht_port"])
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise NodeScriptError(f"npm pkarr relay is not on loopback: {line!r}")
        return self

    def _read_handshake(self) -> str:
        process = self._process
        if process is None or process.stdout is None:
            raise NodeScriptError("npm pkarr relay process is not running")
        stdout = process.stdout
        deadline = time.monotonic() + self._start_timeout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"\n" not in buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or process.poll() is not None:
                    break
                if selector.select(timeout=remaining):
                    chunk = os.read(stdout.fileno(), 4096)
                    if not chunk:
                        break
                    buffer += chunk
        if b"\n" not in buffer:
            returncode = process.poll()
            self.stop()
            raise NodeScriptError(
                f"npm pkarr relay did not start within {self._start_timeout}s "
                f"(exit code {returncode}); stdout={buffer!r}\n"
                f"--- node stderr ---\n{_tail(self.log_text())}"
            )
        return buffer.split(b"\n", 1)[0].decode()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # Closing stdin is the polite shutdown; then SIGTERM/SIGKILL by this PID only.
            if process.stdin is not None:
                try:
                    process.stdin.close()
                except OSError:
                    pass
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=3)
        if process is not None:
            for stream in (process.stdin, process.stdout):
                if stream is not None and not stream.closed:
                    stream.close()
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> NpmPkarrRelay:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
