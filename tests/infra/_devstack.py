"""Shared helpers of the tests of the development stack (``scripts/stack``) and its scripts."""

from __future__ import annotations

import os
import socket
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Variables that would change what the scripts start; the tests set what they need explicitly.
SCRIPT_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "PUBKY_RELAYS",
    "PUBKY_HOMESERVER_URL",
    "PUBKY_TESTNET",
    "DJANGO_SETTINGS_MODULE",
    "DEVSTACK_DATA_DIR",
    "ASGI_SERVER",
    "DEMO_DATA",
    "PORT",
    "PG_PORT",
    "VALKEY_PORT",
    "TESTNET_RELAY_PORT",
    "TESTNET_HOMESERVER_PORT",
    "TESTNET_HTTP_RELAY_PORT",
    "TESTNET_ADMIN_PORT",
    "TEST_PG_PORT",
    "TEST_VALKEY_PORT",
)


def clean_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in SCRIPT_VARS}
    env.update(overrides)
    return env


RUN_PORT_VARS = (
    "PORT",
    "PG_PORT",
    "VALKEY_PORT",
    "TESTNET_RELAY_PORT",
    "TESTNET_HOMESERVER_PORT",
    "TESTNET_HTTP_RELAY_PORT",
    "TESTNET_ADMIN_PORT",
)


def run_ports(**chosen: str) -> dict[str, str]:
    """A free loopback port for every port ./scripts/run needs, with ``chosen`` overrides."""
    ports = {name: str(free_port()) for name in RUN_PORT_VARS}
    ports.update(chosen)
    return ports
