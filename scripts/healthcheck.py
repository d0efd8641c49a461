#!/usr/bin/env python3
"""Container health checks (stdlib only, so a check costs no Django start-up).

``healthcheck.py`` (web): GET ``/readyz`` on this container's server; exit 0 on 200. The probe
paths are answered before host validation and the HTTPS redirect, so any Host will do.

``healthcheck.py --worker`` (the workers): the worker is PID 1 of its container and alive, and
the PostgreSQL and Valkey it works with accept connections (Valkey: an authenticated PING, with
the password from REDIS_PASSWORD or REDIS_PASSWORD_FILE). A worker that lost either is
unhealthy until they are back.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit


def check_web(path: str) -> str | None:
    port = int(os.environ.get("PORT", "8000"))
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=8)
        conn.request("GET", path, headers={"Host": "localhost"})
        response = conn.getresponse()
        body = response.read(2000).decode(errors="replace")
    except (OSError, http.client.HTTPException) as exc:
        return f"{path}: {exc}"
    if response.status != 200:
        return f"{path}: HTTP {response.status} {body}"
    return None


def _secret(name: str) -> str | None:
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError:
            return None
    return None


def check_postgres(url: str) -> str | None:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 3):
            return None
    except OSError as exc:
        return f"PostgreSQL {parts.hostname}:{parts.port or 5432}: {exc}"


def check_valkey(url: str) -> str | None:
    parts = urlsplit(url)
    password = _secret("REDIS_PASSWORD") or (unquote(parts.password) if parts.password else None)
    command = b""
    if password:
        arg = password.encode()
        command += b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(arg), arg)
    command += b"*1\r\n$4\r\nPING\r\n"
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 3) as s:
            s.sendall(command)
            reply = b""
            while reply.count(b"\r\n") < (2 if password else 1):
                chunk = s.recv(256)
                if not chunk:
                    break
                reply += chunk
    except OSError as exc:
        return f"Valkey {parts.hostname}:{parts.port or 6379}: {exc}"
    if not reply.rstrip().endswith(b"+PONG"):
        return f"Valkey answered {reply[:100]!r}"
    return None


def check_worker() -> str | None:
    try:
        cmdline = Path("/proc/1/cmdline").read_bytes().replace(b"\0", b" ").decode()
        state = Path("/proc/1/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError as exc:
        return f"worker process: {exc}"
    if "manage.py" not in cmdline or state == "Z":
        return f"worker process is not running ({cmdline.strip()!r}, state {state})"
    database = _secret("DATABASE_URL")
    redis = _secret("REDIS_URL")
    for problem in (
        check_postgres(database) if database else "DATABASE_URL is not set",
        check_valkey(redis) if redis else "REDIS_URL is not set",
    ):
        if problem:
            return problem
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help="check a worker container")
    parser.add_argument("--path", default="/readyz", help="web: the path to GET (/readyz)")
    args = parser.parse_args(argv)
    problem = check_worker() if args.worker else check_web(args.path)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
