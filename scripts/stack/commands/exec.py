"""``devstack exec`` (``./scripts/manage``, the Makefile): a command in a profile's environment."""

from __future__ import annotations

import argparse

from ..console import warn
from ..environment import build_env
from ..errors import ConfigError
from ..paths import data_root
from ..ports import LOOPBACK, port_from_env, port_is_free
from ..postgres import database_url
from ..profiles import PROFILES
from ..signals import run_step
from ..stackfile import running_stack_state
from ..venv import ensure_venv


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
