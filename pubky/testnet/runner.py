"""Run a complete local Pubky network — PKARR relay(s), homeserver (+ admin API) and HTTP relay —
on one background asyncio thread, so synchronous code and tests can simply start and stop it.

Quick start::

    from pubky.testnet import Testnet

    with Testnet.ephemeral() as net:                  # all ports chosen by the OS, temp data
        client = net.homeserver_client()
        ...                                           # net.relay_urls, net.homeserver_url, …

    net = Testnet("/tmp/pubky-testnet")               # fixed ports 15411/6286/15412/6288
    net.start(); ...; net.stop()                      # same data dir ⇒ same data after restart

Everything binds to loopback only. When ``host`` is ``127.0.0.1`` each server also tries to
listen on ``[::1]`` with the same port, because the homeserver's packet advertises
``localhost`` and some clients (Node) may resolve that to IPv6 first.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Protocol, TypeVar

from aiohttp import web

from pubky.homeserver_client import HomeserverClient
from pubky.keys import Keypair, PublicKey
from pubky.packet import Record, SignedPacket
from pubky.relay_client import PublishReport, RelayClient
from pubky.testnet.homeserver import DEFAULT_ADMIN_PASSWORD, Homeserver
from pubky.testnet.http_relay import DEFAULT_REQUEST_TIMEOUT, HttpRelay
from pubky.testnet.relay import PkarrRelay, RateLimit
from pubky.testnet.storage import HomeserverStore, RelayStore

__all__ = ["Testnet", "homeserver_records", "serve_forever"]

T = TypeVar("T")
_START_TIMEOUT = 30.0
HOMESERVER_RECORD_TTL = 3600


def homeserver_records(http_port: int, tls_port: int, ipv4: str = "127.0.0.1") -> list[Record]:
    """The homeserver's own endpoint records for a ``localhost`` ICANN endpoint."""
    port_be = http_port.to_bytes(2, "big")
    escaped = "".join(f"\\{b:03d}" for b in port_be)
    return [
        Record("@", "HTTPS", f"1 . port={tls_port} ipv4hint={ipv4}", HOMESERVER_RECORD_TTL),
        Record("@", "HTTPS", f'10 localhost. key65280="{escaped}"', HOMESERVER_RECORD_TTL),
        Record("@", "A", ipv4, HOMESERVER_RECORD_TTL),
    ]


@dataclass
class _Server:
    """One listening application: how to build it, where it listens, its runner if up."""

    name: str
    port: int
    runner: web.AppRunner | None = None


class Testnet:
    """A local Pubky network on loopback.

    Arguments (all keyword-only except ``data_dir``):

    * ``data_dir`` — where the SQLite files live (relay caches, homeserver). ``None`` ⇒ a
      temporary directory removed on :meth:`stop`. Reusing a directory keeps all data.
    * ``host`` — loopback address to bind (``127.0.0.1``, ``::1`` or ``localhost``).
    * ``relay_ports`` — one PKARR relay per entry; ``0`` = ephemeral port.
    * ``homeserver_port`` (6286), ``admin_port`` (6288), ``http_relay_port`` (15412) — ``0`` =
      ephemeral; ``admin_port=None`` disables the admin API, ``http_relay_port=None`` the
      HTTP relay.
    * ``signup_mode`` — ``"open"`` or ``"token_required"`` (tokens from
      :meth:`create_signup_token` or ``GET /generate_signup_token`` on the admin port with
      ``X-Admin-Password``).
    * ``homeserver_secret`` — 32-byte seed of the homeserver key; the default (zeros) gives
      ``8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo`` like upstream's testnet.
    * ``admin_password`` ("admin"), ``user_storage_quota_mb`` (0 = unlimited),
      ``relay_publish_delay`` (simulated DHT latency, makes 428 observable),
      ``relay_rate_limit`` (``RateLimit``; ``None`` = off), ``http_relay_timeout`` (600 s),
      ``keepalive_s`` (SSE keep-alive period), ``auth_window_s`` (45).

    After :meth:`start`: ``relay_urls``, ``homeserver_url``, ``homeserver_public_key``,
    ``admin_url``, ``http_relay_url`` (+ ``http_relay_link_url``). The homeserver's packet is
    published to every relay on start.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        relay_ports: Sequence[int] = (15411,),
        homeserver_port: int = 6286,
        http_relay_port: int | None = 15412,
        admin_port: int | None = 6288,
        signup_mode: str = "open",
        homeserver_secret: bytes = bytes(32),
        admin_password: str = DEFAULT_ADMIN_PASSWORD,
        user_storage_quota_mb: int = 0,
        relay_publish_delay: float = 0.0,
        relay_rate_limit: RateLimit | None = None,
        http_relay_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        keepalive_s: float = 15.0,
        auth_window_s: int = 45,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the testnet binds loopback addresses only, not {host!r}")
        if signup_mode not in ("open", "token_required"):
            raise ValueError("signup_mode must be 'open' or 'token_required'")
        if not relay_ports:
            raise ValueError("at least one relay port is required")
        self.host = host
        self._temp_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.signup_mode = signup_mode
        self.keypair = Keypair.from_secret(homeserver_secret)
        self.admin_password = admin_password
        self.user_storage_quota_mb = user_storage_quota_mb
        self.keepalive_s = keepalive_s
        self.auth_window_s = auth_window_s
        self.relay_publish_delay = relay_publish_delay
        self.relay_rate_limit = relay_rate_limit
        self.http_relay_timeout = http_relay_timeout
        self._relay_servers = [_Server(f"relay-{i}", p) for i, p in enumerate(relay_ports)]
        self._homeserver_server = _Server("homeserver", homeserver_port)
        self._admin_server = _Server("admin", admin_port) if admin_port is not None else None
        self._http_relay_server = (
            _Server("http-relay", http_relay_port) if http_relay_port is not None else None
        )
        self.relays: list[PkarrRelay] = []
        self.homeserver: Homeserver | None = None
        self.http_relay: HttpRelay | None = None
        self.last_publish: PublishReport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = False

    @classmethod
    def ephemeral(cls, data_dir: str | Path | None = None, **kwargs: Any) -> Testnet:
        """A testnet with every port chosen by the OS (safe to run many in parallel).

        ``relays=N`` starts N relays; other keyword arguments are passed to the constructor.
        """
        relays = kwargs.pop("relays", 1)
        kwargs.setdefault("relay_ports", (0,) * relays)
        kwargs.setdefault("homeserver_port", 0)
        kwargs.setdefault("http_relay_port", 0)
        kwargs.setdefault("admin_port", 0)
        return cls(data_dir, **kwargs)

    # --- lifecycle ---

    def start(self) -> Testnet:
        """Start every server and publish the homeserver packet; returns ``self``."""
        if self._started:
            return self
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="pubky-testnet-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="pubky-testnet", daemon=True
        )
        self._thread.start()
        try:
            self._call(self._astart())
        except BaseException:
            self.stop()
            raise
        self._started = True
        return self

    def stop(self) -> None:
        """Stop every server, close the stores and the loop thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(Exception):
                self._call(self._astop())
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        if loop is not None and not loop.is_running():
            loop.close()
        self._loop = self._thread = None
        self._started = False
        if self._temp_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def __enter__(self) -> Testnet:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._started

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = _START_TIMEOUT) -> T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("testnet is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _astart(self) -> None:
        assert self.data_dir is not None
        for i, server in enumerate(self._relay_servers):
            relay = PkarrRelay(
                RelayStore(self.data_dir / f"relay-{i}.sqlite3"),
                publish_delay=self.relay_publish_delay,
                rate_limit=self.relay_rate_limit,
                name=server.name,
            )
            self.relays.append(relay)
            await self._serve(server, relay.make_app())
        self.homeserver = Homeserver(
            HomeserverStore(self.data_dir / "homeserver.sqlite3"),
            self.keypair,
            signup_mode=self.signup_mode,
            admin_password=self.admin_password,
            user_storage_quota_mb=self.user_storage_quota_mb,
            auth_window_s=self.auth_window_s,
            keepalive_s=self.keepalive_s,
        )
        await self._serve(self._homeserver_server, self.homeserver.make_app())
        if self._admin_server is not None:
            await self._serve(self._admin_server, self.homeserver.make_admin_app())
        if self._http_relay_server is not None:
            self.http_relay = HttpRelay(request_timeout=self.http_relay_timeout)
            await self._serve(self._http_relay_server, self.http_relay.make_app())
        loop = asyncio.get_running_loop()
        self.last_publish = await loop.run_in_executor(None, self._publish_homeserver_packet)
        self.last_publish.raise_for_failure()

    async def _serve(self, server: _Server, app: web.Application) -> None:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, server.port, reuse_address=True)
        await site.start()
        server.port = int(runner.addresses[0][1])
        server.runner = runner
        if self.host == "127.0.0.1":
            with contextlib.suppress(OSError):
                await web.TCPSite(runner, "::1", server.port, reuse_address=True).start()

    async def _astop(self) -> None:
        if self.homeserver is not None:
            await self.homeserver.close_streams()
        if self.http_relay is not None:
            self.http_relay.close()
        servers = [*self._relay_servers, self._homeserver_server]
        servers += [s for s in (self._admin_server, self._http_relay_server) if s is not None]
        for server in servers:
            if server.runner is not None:
                with contextlib.suppress(Exception):
                    await server.runner.cleanup()
                server.runner = None
        for relay in self.relays:
            relay.store.close()
        if self.homeserver is not None:
            self.homeserver.store.close()
        self.relays = []
        self.homeserver = None
        self.http_relay = None
        # Requests still in flight (e.g. a client that never read its answer) must not keep
        # tasks alive past the loop's end.
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2)

    # --- relay outages ---

    def stop_relay(self, index: int) -> None:
        """Take relay ``index`` offline (its data is kept); see :meth:`start_relay`."""
        server = self._relay_servers[index]

        async def stop() -> None:
            if server.runner is not None:
                await server.runner.cleanup()
                server.runner = None

        self._call(stop())

    def start_relay(self, index: int) -> None:
        """Bring relay ``index`` back on the same port with the same data."""
        server = self._relay_servers[index]
        if server.runner is not None:
            return
        self._call(self._serve(server, self.relays[index].make_app()))

    def relay_running(self, index: int) -> bool:
        return self._relay_servers[index].runner is not None

    # --- addresses ---

    def _url(self, port: int) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}"

    @property
    def relay_urls(self) -> list[str]:
        return [self._url(s.port) for s in self._relay_servers]

    @property
    def relay_url(self) -> str:
        return self.relay_urls[0]

    @property
    def homeserver_port(self) -> int:
        return self._homeserver_server.port

    @property
    def homeserver_url(self) -> str:
        """Direct base URL of the homeserver (the packet advertises ``localhost:<port>``)."""
        return self._url(self._homeserver_server.port)

    @property
    def homeserver_public_key(self) -> PublicKey:
        return self.keypair.public_key

    @property
    def admin_url(self) -> str | None:
        return self._url(self._admin_server.port) if self._admin_server is not None else None

    @property
    def http_relay_url(self) -> str | None:
        """Base URL of the HTTP relay (rendezvous endpoints live under ``/link/<id>``)."""
        server = self._http_relay_server
        return self._url(server.port) if server is not None else None

    @property
    def http_relay_link_url(self) -> str | None:
        """``<http relay>/link`` — the ``relay=`` value of a pubkyauth deep link."""
        base = self.http_relay_url
        return base + "/link" if base is not None else None

    @property
    def pubky_tls_port(self) -> int:
        """Port advertised in ``HTTPS 1 .`` (upstream's Pubky-TLS socket; not served here)."""
        return self._homeserver_server.port + 1

    # --- helpers for tests and tools ---

    def homeserver_packet(self) -> SignedPacket:
        """A freshly signed copy of the homeserver's own packet (its endpoint records)."""
        ipv4 = self.host if _is_ipv4(self.host) else "127.0.0.1"
        records = homeserver_records(self._homeserver_server.port, self.pubky_tls_port, ipv4)
        return SignedPacket.sign(self.keypair, records)

    def _publish_homeserver_packet(self) -> PublishReport:
        return self.relay_client().publish(self.homeserver_packet())

    def publish_homeserver_packet(self) -> PublishReport:
        """Republish the homeserver packet to every (running) relay."""
        self.last_publish = self._publish_homeserver_packet()
        return self.last_publish

    def relay_client(self, *, timeout: float = 5.0) -> RelayClient:
        return RelayClient(self.relay_urls, timeout=timeout)

    def homeserver_client(self, **kwargs: Any) -> HomeserverClient:
        """A client configured for this testnet's relays."""
        kwargs.setdefault("timeout", 10.0)
        return HomeserverClient(self.relay_urls, **kwargs)

    def create_signup_token(self) -> str:
        """A one-use signup token (what the admin ``/generate_signup_token`` returns)."""
        if self.homeserver is None:
            raise RuntimeError("testnet is not running")
        return self.homeserver.create_signup_token()

    def describe(self) -> str:
        """Human-readable summary of the endpoints (printed by the CLI and manage.py)."""
        lines = [f"relay:           {url}" for url in self.relay_urls]
        lines.append(f"homeserver:      {self.homeserver_url}")
        lines.append(f"homeserver key:  {self.homeserver_public_key.z32()}")
        if self.admin_url is not None:
            lines.append(f"admin:           {self.admin_url}  (X-Admin-Password)")
        if self.http_relay_link_url is not None:
            lines.append(f"http relay:      {self.http_relay_link_url}")
        lines.append(f"signup mode:     {self.signup_mode}")
        lines.append(f"data dir:        {self.data_dir}")
        return "\n".join(lines)


class TextSink(Protocol):
    """Anything with ``write``/``flush`` (a text file, ``sys.stdout``, Django's OutputWrapper)."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


def serve_forever(
    testnet: Testnet,
    *,
    out: TextSink | None = None,
    stop_event: threading.Event | None = None,
) -> None:
    """Start ``testnet``, print its endpoints and block until SIGINT/SIGTERM (or
    ``stop_event``), then stop it cleanly. Signal handlers are installed only when called
    from the main thread and restored afterwards."""
    stream: TextSink = out if out is not None else sys.stdout
    event = stop_event or threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def handle(signum: int, frame: FrameType | None) -> None:
        event.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handle)
    try:
        testnet.start()
        # write() with explicit newlines: Django's OutputWrapper adds one to bare lines.
        stream.write("Pubky testnet running\n" + testnet.describe() + "\n")
        stream.flush()
        while not event.wait(0.5):
            pass
        stream.write("stopping\n")
        stream.flush()
    finally:
        testnet.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_ipv4(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 4
    except ValueError:
        return False
