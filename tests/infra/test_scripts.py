"""scripts/run and scripts/test: configuration errors are one line and come before any work."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.stack import children, environment, profiles
from tests.infra._devstack import REPO, clean_env, free_port, run_ports


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port with a listening socket on it, as another program would have."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def run_script(name: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [str(REPO / "scripts" / name)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, time.monotonic() - started


def assert_one_error_line(done: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert done.returncode == 2, done
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "variable", ["PORT", "PG_PORT", "VALKEY_PORT", "TESTNET_RELAY_PORT", "TESTNET_ADMIN_PORT"]
)
def test_run_refuses_a_busy_port_in_one_line_before_doing_anything(
    tmp_path: Path, busy_port: int, variable: str
) -> None:
    env = clean_env(DEVSTACK_DATA_DIR=str(tmp_path), **run_ports(**{variable: str(busy_port)}))

    done, seconds = run_script("run", env)

    line = assert_one_error_line(done, str(busy_port), f"set {variable}=")
    assert line == f"error: port {busy_port} on 127.0.0.1 is in use (set {variable}=…)"
    assert seconds < 20  # no venv, no pip, no servers
    assert not (tmp_path / "run" / "postgres").exists()
    assert not (tmp_path / "run" / "pids.json").exists()


@pytest.mark.parametrize("variable", ["TEST_PG_PORT", "TEST_VALKEY_PORT"])
def test_test_script_refuses_a_busy_port_in_one_line(
    tmp_path: Path, busy_port: int, variable: str
) -> None:
    ports = {"TEST_PG_PORT": str(free_port()), "TEST_VALKEY_PORT": str(free_port())}
    ports[variable] = str(busy_port)
    env = clean_env(DEVSTACK_DATA_DIR=str(tmp_path), **ports)

    done, seconds = run_script("test", env)

    line = assert_one_error_line(done, str(busy_port))
    assert line == f"error: port {busy_port} on 127.0.0.1 is in use (set {variable}=…)"
    assert seconds < 20


def test_several_busy_ports_are_named_in_the_same_line(tmp_path: Path) -> None:
    with socket.socket() as one, socket.socket() as two:
        for sock in (one, two):
            sock.bind(("127.0.0.1", 0))
            sock.listen()
        p1, p2 = one.getsockname()[1], two.getsockname()[1]
        env = clean_env(DEVSTACK_DATA_DIR=str(tmp_path), **run_ports(PORT=str(p1), PG_PORT=str(p2)))

        done, _ = run_script("run", env)

    assert_one_error_line(done, str(p1), str(p2), "PORT=…", "PG_PORT=…")


def test_run_ignores_the_embedded_servers_ports_when_urls_are_given(
    tmp_path: Path, busy_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DATABASE_URL / REDIS_URL / PUBKY_RELAYS win: their embedded servers' ports are not needed."""
    env = clean_env(
        DEVSTACK_DATA_DIR=str(tmp_path),
        DATABASE_URL="postgres://u:p@127.0.0.1:5999/db",
        REDIS_URL="redis://127.0.0.1:6999/0",
        PUBKY_RELAYS="http://127.0.0.1:15999",
        **run_ports(PG_PORT=str(busy_port), VALKEY_PORT=str(busy_port)),
    )
    monkeypatch.setattr(os, "environ", env)

    setup = environment.prepare(profiles.PROFILES["run"])
    try:
        assert not setup.embedded_pg
        assert not setup.embedded_valkey
        assert not setup.testnet
        assert set(setup.ports) == {"PORT"}
        assert setup.env["DATABASE_URL"] == "postgres://u:p@127.0.0.1:5999/db"
    finally:
        setup.stack._lock.close()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"PORT": "eighty"}, "error: PORT must be a port number (1-65535), got 'eighty'"),
        ({"PG_PORT": "70000"}, "error: PG_PORT must be a port number (1-65535), got '70000'"),
    ],
)
def test_run_rejects_a_malformed_port(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    env = clean_env(DEVSTACK_DATA_DIR=str(tmp_path), **run_ports(**overrides))

    done, _ = run_script("run", env)

    assert assert_one_error_line(done) == message


def test_run_rejects_an_unknown_asgi_server_in_one_line(tmp_path: Path) -> None:
    env = clean_env(DEVSTACK_DATA_DIR=str(tmp_path), ASGI_SERVER="gunicorn", **run_ports())

    done, _ = run_script("run", env)

    assert assert_one_error_line(done) == (
        "error: ASGI_SERVER must be one of uvicorn, daphne, got 'gunicorn'"
    )


def test_run_rejects_two_services_on_one_port(tmp_path: Path) -> None:
    port = str(free_port())
    env = clean_env(DEVSTACK_DATA_DIR=str(tmp_path), **run_ports(PORT=port, VALKEY_PORT=port))

    done, _ = run_script("run", env)

    assert assert_one_error_line(done) == f"error: PORT and VALKEY_PORT are both set to port {port}"


def test_a_second_run_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    holder = children.Stack(tmp_path / "run")
    holder.lock("./scripts/run")
    try:
        env = clean_env(DEVSTACK_DATA_DIR=str(tmp_path), **run_ports())
        done, _ = run_script("run", env)
    finally:
        assert holder._lock is not None
        holder._lock.close()

    assert_one_error_line(done, "another ./scripts/run", f"pid {os.getpid()}")


def test_ci_entry_point_runs_exactly_scripts_test() -> None:
    text = (REPO / ".ci" / "run").read_text()
    commands = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]

    assert commands[0] == "set -euo pipefail"
    assert commands[-1] == "./scripts/test"
    for script in ("run", "test", "bootstrap", "manage", "reset", "devstack"):
        assert os.access(REPO / "scripts" / script, os.X_OK), script
