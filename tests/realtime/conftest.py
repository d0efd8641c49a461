"""Fixtures for the realtime tests: real servers (uvicorn by default) and WebSocket clients."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from tests.servers import ProcessGroup, process_group

#: This run's channel-layer prefix (``pubkyproject/settings/test.py``), for server processes.
PREFIX: str = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]


def subprocess_env(**overrides: str) -> dict[str, str]:
    from django.db import connection

    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    if db["PASSWORD"]:
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pubkyproject.settings.test",
        "DATABASE_URL": url,
        "CHANNEL_LAYER_PREFIX": PREFIX,
        "PYTHONUNBUFFERED": "1",
    }
    env.update(overrides)
    return env


@pytest.fixture
def e2e(transactional_db) -> Iterator[ProcessGroup]:
    """A process group bound to this test's (committed) database."""
    with process_group(subprocess_env()) as group:
        yield group


@pytest.fixture
def two_webs(e2e: ProcessGroup) -> tuple[int, int]:
    a = e2e.web("web-a")
    b = e2e.web("web-b")
    assert a.port is not None and b.port is not None
    return a.port, b.port


def token_for(user: Any, **claims: Any) -> str:
    token = AccessToken.for_user(user)
    for key, value in claims.items():
        token[key] = value
    return str(token)


class Client:
    """A WebSocket client with helpers to wait for a message type."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def send(self, kind: str, data: dict[str, Any] | None = None, id: Any = None) -> None:
        message: dict[str, Any] = {"type": kind, "data": data or {}}
        if id is not None:
            message["id"] = id
        await self.ws.send(json.dumps(message))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.seen.append(message)
        return message

    async def expect(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next message of type ``kind`` (other messages in between are kept in seen)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                message = await self.recv(remaining)
            except TimeoutError:
                raise AssertionError(f"no {kind} within {timeout}s; saw {self.seen[-5:]}") from None
            if message["type"] == kind:
                return message

    async def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """Everything that arrives within ``seconds``."""
        got = []
        try:
            while True:
                got.append(await self.recv(seconds))
        except (TimeoutError, websockets.ConnectionClosed):
            return got

    async def subscribe(self, since: int | None = None, **key: Any) -> dict[str, Any]:
        data = dict(key)
        if since is not None:
            data["since"] = since
        await self.send("subscribe", data, id="sub")
        reply = await self.recv()
        assert reply["type"] == "subscribed", reply
        return reply


async def connect(port: int, token: str | None = None, *, query: str = "") -> Client:
    url = f"ws://127.0.0.1:{port}/ws"
    params = [p for p in (f"token={token}" if token else "", query) if p]
    if params:
        url += "?" + "&".join(params)
    ws = await websockets.connect(url, open_timeout=5, max_size=2**22)
    client = Client(ws)
    if token:
        hello = await client.recv()
        assert hello["type"] == "authenticated", hello
    return client


class RawWebSocket:
    """Just enough RFC 6455 to misbehave on purpose: stop reading (client libraries keep reading
    into their own buffers, which would hide the server's back-pressure), send frames no library
    would (invalid UTF-8, oversized), connect from another loopback address."""

    def __init__(
        self,
        port: int,
        path: str,
        *,
        source: str = "127.0.0.1",
        receive_buffer: int | None = None,
        expect: int = 101,
    ) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:  # before connecting, so the kernel does not grow it
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(30)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                break
            head += chunk
        self.status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
        self.head = head
        assert self.status == expect, head

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed without a close frame")
            data += chunk
        return data

    def send_frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = bytes([0x80 | opcode, 0x80 | length])
        elif length < 65536:
            header = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", length)
        else:
            header = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack("!Q", length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_text(self, text: str) -> None:
        self.send_frame(0x1, text.encode())

    def read_frame(self) -> tuple[int, bytes]:
        first, second = self._exactly(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._exactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._exactly(8))[0]
        return first & 0x0F, self._exactly(length)

    def close_code(self) -> tuple[int, int]:
        """Read until the close frame: (data frames read before it, its close code); 1006 if
        the connection ends without one."""
        frames = 0
        while True:
            try:
                opcode, payload = self.read_frame()
            except (ConnectionError, OSError):
                return frames, 1006
            if opcode == 0x8:
                return frames, struct.unpack("!H", payload[:2])[0] if payload else 1005
            frames += 1

    def close(self) -> None:
        self.sock.close()
