"""Fixtures for the ``pubky`` package tests (usable by the whole suite).

* ``testnet`` — one session-wide :class:`pubky.testnet.Testnet` on ephemeral loopback ports
  with two relays and open signup. Tests must not stop its relays; use ``make_testnet`` for
  outage, restart or special-configuration scenarios.
* ``make_testnet(**kwargs)`` — start a dedicated ephemeral testnet, stopped after the test.
* ``hs_client`` / ``relay_client`` — fresh clients bound to the shared testnet.
* ``signed_up`` — a new user with a session on the shared homeserver: ``(keypair, client)``.
* ``stub_server`` — a scriptable HTTP server for relay behaviours the testnet never shows
  (5xx, slowness, tampered or quirky answers).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pubky.homeserver_client import HomeserverClient
from pubky.keys import Keypair
from pubky.relay_client import RelayClient
from pubky.testnet import Testnet


@pytest.fixture(scope="session")
def testnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    net = Testnet.ephemeral(tmp_path_factory.mktemp("pubky-testnet"), relays=2)
    net.start()
    try:
        yield net
    finally:
        net.stop()


@pytest.fixture
def make_testnet(tmp_path: Path) -> Iterator[Callable[..., Testnet]]:
    started: list[Testnet] = []

    def factory(data_dir: Path | None = None, **kwargs: Any) -> Testnet:
        directory = data_dir if data_dir is not None else tmp_path / f"net{len(started)}"
        net = Testnet.ephemeral(directory, **kwargs)
        net.start()
        started.append(net)
        return net

    yield factory
    for net in started:
        net.stop()


@pytest.fixture
def relay_client(testnet: Testnet) -> RelayClient:
    return testnet.relay_client()


@pytest.fixture
def hs_client(testnet: Testnet) -> HomeserverClient:
    return testnet.homeserver_client()


@pytest.fixture
def signed_up(testnet: Testnet) -> tuple[Keypair, HomeserverClient]:
    client = testnet.homeserver_client()
    keypair = Keypair.random()
    client.signup(keypair, testnet.homeserver_public_key)
    return keypair, client


# --- scriptable stub server ------------------------------------------------------------------


@dataclass
class StubRoute:
    """How the stub answers requests under ``/r/<id>/…``."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # Answers for requests carrying If-Modified-Since (pkarr 3.x empty-200 quirk tests).
    conditional: tuple[int, bytes] | None = None
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


class StubServer:
    def __init__(self) -> None:
        self.routes: dict[str, StubRoute] = {}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                parts = self.path.split("/")
                route = stub.routes.get(parts[2]) if len(parts) > 2 else None
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                route.requests.append((self.command, dict(self.headers)))
                if route.delay:
                    time.sleep(route.delay)
                status, body = route.status, route.body
                if route.conditional is not None and "If-Modified-Since" in self.headers:
                    status, body = route.conditional
                self.send_response(status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def route(self, **kwargs: Any) -> tuple[str, StubRoute]:
        """Register a behaviour; returns (relay base URL, route)."""
        name = f"x{len(self.routes)}"
        route = StubRoute(**kwargs)
        self.routes[name] = route
        return f"http://127.0.0.1:{self.port}/r/{name}", route

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def stub_server() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()
