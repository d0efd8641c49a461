"""Loopback ports: read from the environment, checked free before anything starts, waited on."""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Mapping, Sequence

from .children import Child
from .errors import ConfigError
from .profiles import PortSpec

LOOPBACK = "127.0.0.1"


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
