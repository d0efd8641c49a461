"""The idempotence helpers of scripts/stack: secrets, stamps, locks, leftovers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.stack import (
    app,
    children,
    cli,
    envfile,
    environment,
    errors,
    fast,
    manage_py,
    pids,
    ports,
    postgres,
    profiles,
    stackfile,
    system_packages,
    venv,
)


def test_env_file_parsing_accepts_export_comments_and_quotes(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# comment\n\nexport A=1\nB = 'two words'\nC=\"x=y\"\nD=\n")

    assert envfile.parse_env_file(path) == {"A": "1", "B": "two words", "C": "x=y", "D": ""}
    assert envfile.parse_env_file(tmp_path / "missing.env") == {}


def test_env_file_parsing_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("A=1\nnot an assignment\n")

    with pytest.raises(errors.ConfigError, match=r"line 2: expected KEY=value"):
        envfile.parse_env_file(path)


def test_local_secrets_are_generated_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "local.env"

    first = envfile.ensure_local_secrets(path)
    second = envfile.ensure_local_secrets(path)

    assert first == second
    assert len(first["SECRET_KEY"]) >= 50
    assert len(bytes.fromhex(first["PUBKY_KEY_ENCRYPTION_KEY"])) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_local_secrets_keep_values_already_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "local.env"
    path.write_text("SECRET_KEY=mine\n")

    values = envfile.ensure_local_secrets(path)

    assert values["SECRET_KEY"] == "mine"
    assert "PUBKY_KEY_ENCRYPTION_KEY" in envfile.parse_env_file(path)


def test_requirements_hash_follows_included_files(tmp_path: Path) -> None:
    base = tmp_path / "requirements.txt"
    dev = tmp_path / "requirements-dev.txt"
    base.write_text("Django==5.2.19\n")
    dev.write_text("-r requirements.txt\npytest==9.2.0\n")

    before = venv.requirements_hash(dev)
    base.write_text("Django==5.2.20\n")

    assert venv.requirements_closure(dev) == [dev.resolve(), base.resolve()]
    assert venv.requirements_hash(dev) != before


def test_a_missing_included_requirements_file_is_a_config_error(tmp_path: Path) -> None:
    dev = tmp_path / "requirements-dev.txt"
    dev.write_text("--requirement nope.txt\n")

    with pytest.raises(errors.ConfigError, match=r"nope\.txt"):
        venv.requirements_closure(dev)


def test_port_is_free_sees_a_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not ports.port_is_free(port)
    assert ports.port_is_free(port)


def test_a_crashed_runs_children_are_stopped_by_the_next_run(tmp_path: Path) -> None:
    crashed = children.Stack(tmp_path)
    child = crashed.spawn(
        "sleeper",
        [sys.executable, "-c", "import time; time.sleep(120)"],
        env=os.environ,
        tier=2,
        log=tmp_path / "sleeper.log",
    )
    pid = child.popen.pid
    assert (tmp_path / "pids.json").exists()
    # The runner "crashes": nothing stops the child; the next run finds it in the registry.

    stopped = children.Stack(tmp_path).reap_leftovers()
    child.popen.wait(10)  # reap the zombie (it is our child in this test)

    assert stopped == [f"sleeper (pid {pid})"]
    assert child.popen.returncode == -signal.SIGTERM
    assert not (tmp_path / "pids.json").exists()


def test_leftover_registry_ignores_reused_pids(tmp_path: Path) -> None:
    """A recorded PID now used by another process (different start time) is left alone."""
    (tmp_path / "pids.json").write_text(
        f'[{{"name": "old", "pid": {os.getpid()}, "start": 1, "signal": 15, "group": false,'
        ' "tier": 0}]'
    )

    assert children.Stack(tmp_path).reap_leftovers() == []


def test_stop_all_stops_children_and_their_process_groups(tmp_path: Path) -> None:
    stack = children.Stack(tmp_path)
    # A child that starts a grandchild in the same session and ignores SIGTERM itself.
    script = (
        "import signal, subprocess, sys, time;"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']);"
        "print(p.pid, flush=True); time.sleep(120)"
    )
    child = stack.spawn(
        "stubborn", [sys.executable, "-c", script], env=os.environ, tier=2, log=tmp_path / "s.log"
    )
    child.stop_timeout = 1
    deadline = 50
    while not (tmp_path / "s.log").read_text().strip() and deadline:
        subprocess.run(["sleep", "0.1"], check=True)
        deadline -= 1
    grandchild = int((tmp_path / "s.log").read_text().split()[0])

    stack.stop_all()

    assert child.popen.returncode == -signal.SIGKILL
    assert pids.wait_gone(grandchild, None, 5)


def test_stale_postmaster_pid_of_another_process_is_removed(tmp_path: Path) -> None:
    data = tmp_path / "postgres"
    data.mkdir()
    # Our own PID: alive, but not a postgres for this data dir (as after a reboot and PID reuse).
    (data / "postmaster.pid").write_text(f"{os.getpid()}\n{data}\n")

    postgres.reap_stale_postmaster(data)

    assert not (data / "postmaster.pid").exists()


def test_command_support_check_reports_missing_commands_and_options() -> None:
    ok, why = manage_py.command_supports("no_such_command_here", ["--loop"])
    assert not ok
    assert "does not exist" in why
    seed = manage_py.management_command_path("seed_demo")
    if seed is not None:
        ok, why = manage_py.command_supports("seed_demo", ["--no-such-option-xyz"])
        assert not ok
        assert "--no-such-option-xyz" in why


def test_workers_are_listed_once_with_unique_commands() -> None:
    names = [worker.command for worker in app.WORKERS]

    assert len(names) == len(set(names))
    assert {"pubky_listen", "watch_homeservers", "check_relays"} <= set(names)


def test_optional_system_packages_hook_changes_nothing_when_installed() -> None:
    """The hook for browser tests (chromium): installed packages are left alone."""
    if shutil.which("dpkg-query") is None:
        pytest.skip("not a Debian system")

    assert system_packages.ensure_system_packages([]) == []
    assert system_packages.ensure_system_packages(["bash", "coreutils"]) == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["test"], []),
        (["test", "-q", "-x"], ["-q", "-x"]),
        (["test", "tests/realtime", "-k", "hub"], ["tests/realtime", "-k", "hub"]),
        (["test", "--", "-k", "hub"], ["-k", "hub"]),
    ],
)
def test_everything_after_test_goes_to_pytest(argv: list[str], expected: list[str]) -> None:
    args = cli.parse_args(argv)
    assert (args.cmd, args.pytest_args, args.fast) == ("test", expected, False)


@pytest.mark.parametrize(
    ("argv", "fast", "expected"),
    [
        (["test", "--fast"], True, []),
        (["test", "--fast", "-x", "tests/pubky"], True, ["-x", "tests/pubky"]),
        (["test", "--fast", "--", "-k", "hub"], True, ["-k", "hub"]),
        # Only a leading --fast is the devstack's; later ones are pytest's to refuse.
        (["test", "-x", "--fast"], False, ["-x", "--fast"]),
        (["test", "--", "--fast"], False, ["--fast"]),
    ],
)
def test_a_leading_fast_flag_is_the_devstacks_and_the_rest_goes_to_pytest(
    argv: list[str], fast: bool, expected: list[str]
) -> None:
    args = cli.parse_args(argv)
    assert (args.cmd, args.fast, args.pytest_args) == ("test", fast, expected)


def test_the_fast_flag_is_listed_in_the_test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.parse_args(["test", "--help"])
    assert "--fast" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], ["-m", fast.FAST_TESTS]),
        (["tests/pubky", "-x"], ["-m", fast.FAST_TESTS, "tests/pubky", "-x"]),
        (["-m", "django_db", "-q"], ["-m", f"(django_db) and ({fast.FAST_TESTS})", "-q"]),
        (["-mdjango_db"], [f"-m(django_db) and ({fast.FAST_TESTS})"]),
        (["-m=django_db"], [f"-m=(django_db) and ({fast.FAST_TESTS})"]),
    ],
)
def test_fast_narrows_pytest_to_tests_without_browser_npm_or_server_processes(
    given: list[str], expected: list[str]
) -> None:
    assert fast.FAST_TESTS == "not e2e and not interop and not browser"
    assert fast.fast_markers(given) == expected


@pytest.mark.parametrize(
    ("path", "name", "expected"),
    [
        ("interop/test_npm_pkarr.py", "test_anything", {"interop"}),
        ("api/test_limits_on_servers.py", "test_x[daphne]", {"e2e"}),
        ("pubky/test_testnet.py", "test_manage_py_pubky_testnet[SIGTERM]", {"e2e"}),
        ("pubky/test_testnet.py", "test_http_relay_consumer_first", set()),
        ("pubky/test_keys.py", "test_anything", set()),
    ],
)
def test_the_suite_marks_interop_directories_and_process_tests(
    path: str, name: str, expected: set[str]
) -> None:
    from tests.conftest import markers_for

    assert markers_for(path, name) == expected


def test_every_test_the_suite_marks_as_starting_processes_exists() -> None:
    from tests.conftest import PROCESS_TESTS, TESTS

    for entry in PROCESS_TESTS:
        path, _, name = entry.partition("::")
        source = (TESTS / path).read_text()
        assert not name or f"def {name}(" in source, f"{entry} names no test"


def test_the_web_server_is_uvicorn_with_websockets_sansio_unless_daphne_is_asked_for() -> None:
    assert app.asgi_server({}) == "uvicorn"
    assert app.asgi_server({"ASGI_SERVER": " Daphne "}) == "daphne"
    uvicorn = app.asgi_server_argv("uvicorn", 8123)
    assert uvicorn[0].endswith("/uvicorn")
    assert uvicorn[uvicorn.index("--ws") + 1] == "realtime.ws_protocol:PreparedFrameProtocol"
    assert uvicorn[uvicorn.index("--port") + 1] == "8123"
    assert uvicorn[uvicorn.index("--ws-max-size") + 1] == "1048576"
    assert app.asgi_server_argv("daphne", 8123)[0].endswith("/daphne")
    with pytest.raises(errors.ConfigError, match="ASGI_SERVER must be one of uvicorn, daphne"):
        app.asgi_server({"ASGI_SERVER": "gunicorn"})


def test_the_stack_state_is_read_only_while_its_run_holds_the_lock(tmp_path: Path) -> None:
    state = {
        "DATABASE_URL": "postgres://postgres:postgres@127.0.0.1:31001/pubky",
        "PUBKY_RELAYS": "http://127.0.0.1:31021",
        "PUBKY_KEY_ENCRYPTION_KEY": "never-copied",
        "UNRELATED": "dropped",
    }
    stackfile.stack_state_path(tmp_path).write_text(json.dumps(state))

    assert stackfile.running_stack_state(tmp_path) is None  # nobody holds the lock: stale

    stack = children.Stack(tmp_path)
    stack.lock("./scripts/run")
    try:
        assert stackfile.running_stack_state(tmp_path) == {
            "DATABASE_URL": state["DATABASE_URL"],
            "PUBKY_RELAYS": state["PUBKY_RELAYS"],
        }
    finally:
        assert stack._lock is not None
        stack._lock.close()


def test_processes_keep_compiled_modules_under_the_data_dir(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DEVSTACK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.delenv("PYTHONPYCACHEPREFIX", raising=False)
    env, _ = environment.build_env(profiles.PROFILES["test"])
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "pycache")
    assert "PYTHONDONTWRITEBYTECODE" not in env  # the cache is out of the tree instead
    # A cache place of the caller's wins, and so does its wish for no bytecode there.
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path / "mine"))
    env, _ = environment.build_env(profiles.PROFILES["test"])
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "mine")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
