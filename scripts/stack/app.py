"""The web server (uvicorn or daphne) and the background workers of ``./scripts/run``."""

from __future__ import annotations

import dataclasses
import http.client
import os
import time
from collections.abc import Mapping, Sequence

from .children import Child
from .console import rel, say, warn
from .environment import Setup
from .errors import ConfigError, StackError
from .manage_py import command_supports, manage
from .paths import VENV
from .ports import LOOPBACK


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
    # The sans-I/O websockets protocol (realtime.ws_protocol: uvicorn's, writing prepared
    # frames), the WebSocket implementation that applies back-pressure to slow
    # readers; Django's ASGI handler has no lifespan support, so uvicorn need not ask. Frames
    # past 1 MiB are closed with 1009 (uvicorn's own default is 16 MiB), as in scripts/serve.
    return [
        str(VENV / "bin" / "uvicorn"), app,
        "--host", LOOPBACK, "--port", str(port),
        "--ws", "realtime.ws_protocol:PreparedFrameProtocol", "--lifespan", "off",
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
