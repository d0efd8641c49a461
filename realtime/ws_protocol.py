"""uvicorn's WebSocket protocol (``websockets-sansio``) with two savings for a fan-out server.

**Frames prepared once per event.** An event goes to every socket subscribed to its topic with
the same text. The stock ``send`` encodes that text and builds the WebSocket frame again for each
socket. This protocol offers the application an ASGI extension, ``pubky.prepared_frames``, whose
``write(frame: bytes) -> bool`` puts a frame built once per event (``realtime.frames``) on the
socket's transport at once. It answers ``False`` when it cannot: the transport is applying
back-pressure, the socket is closing, or an extension (permessage-deflate) was negotiated and
the frame must be compressed for this socket. The application then sends the text the
ordinary way, which waits for the transport as before.

**One write per socket per loop iteration.** On a fan-out server the cost of a delivered
message is mostly the system call that writes it and, on loopback, the kernel's TCP work done in
that call. When a burst of events arrives together, the hub hands each socket several frames in
the same iteration of the event loop; the prepared frames of one socket are held
(:class:`CorkedTransport`) and written as one ``write`` at the end of the iteration: the client
still gets one WebSocket frame per event, in order, but the server makes one system call per
socket per burst instead of one per event. Any other write on the socket (a reply, a ping, a
close frame) first writes what is held, so nothing is reordered, and more than
``CORK_LIMIT_BYTES`` held for one socket is written at once, so the transport's back-pressure
(``writable``) still applies.

**Less memory per idle socket.** The messages for the application wait in a small list with
one future instead of an ``asyncio.Queue`` (three deques per socket), and the opening
handshake's response is dropped once the handshake is done.

Serve with ``uvicorn --ws realtime.ws_protocol:PreparedFrameProtocol``. Nothing here imports
Django (``realtime.frames`` does not either): uvicorn loads this class before the application.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from realtime.frames import PREPARED_FRAMES_EXTENSION

logger = logging.getLogger("pubky.realtime")

#: Held bytes past which a socket's prepared frames are written at once (the transport's
#: default high-water mark): back-pressure sees them before the socket takes more.
CORK_LIMIT_BYTES = 64 * 1024


class _Flusher:
    """Writes the held frames of every corked socket once per loop iteration (one callback
    for all of them, not one per socket)."""

    __slots__ = ("corked", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.corked: list[CorkedTransport] = []

    def add(self, transport: CorkedTransport) -> None:
        if not self.corked:
            self.loop.call_soon(self.run)
        self.corked.append(transport)

    def run(self) -> None:
        corked, self.corked = self.corked, []
        for transport in corked:
            try:
                transport.flush()
            except Exception:  # one broken socket must not keep the others' frames
                logger.debug("could not write held frames", exc_info=True)


_flushers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Flusher] = (
    weakref.WeakKeyDictionary()
)


def _flusher_of(loop: asyncio.AbstractEventLoop) -> _Flusher:
    flusher = _flushers.get(loop)
    if flusher is None:
        flusher = _flushers[loop] = _Flusher(loop)
    return flusher


class CorkedTransport:
    """A socket's transport whose prepared frames (:meth:`cork`) wait for the end of the loop
    iteration and then leave in one ``write``; every other use goes to the transport itself,
    after what is held."""

    __slots__ = ("_flusher", "_held", "_held_bytes", "transport")

    def __init__(self, transport: asyncio.Transport, flusher: _Flusher) -> None:
        self.transport = transport
        self._flusher = flusher
        self._held: list[bytes] | None = None
        self._held_bytes = 0

    def cork(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = [data]
            self._held_bytes = len(data)
            self._flusher.add(self)
        else:
            held.append(data)
            self._held_bytes += len(data)
        if self._held_bytes >= CORK_LIMIT_BYTES:
            self.flush()

    def flush(self) -> None:
        held = self._held
        if held is None:
            return
        self._held = None
        self._held_bytes = 0
        if not self.transport.is_closing():
            self.transport.write(held[0] if len(held) == 1 else b"".join(held))

    def write(self, data: bytes) -> None:
        self.flush()
        self.transport.write(data)

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class ReceiveQueue:
    """What the protocol uses of ``asyncio.Queue`` (``put_nowait``, ``get``, ``empty``) for
    one reader, in a fraction of its memory.

    Few messages ever wait here: the protocol stops reading from the socket while one does.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class PreparedFrameProtocol(WebSocketsSansIOProtocol):
    """``websockets-sansio`` plus the ``pubky.prepared_frames`` extension (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = ReceiveQueue()  # type: ignore[assignment]
        # Whether write_prepared may cork a frame: the handshake is done without an extension
        # (permessage-deflate compresses per socket) and the transport is not applying
        # back-pressure. Kept up to date here, so the per-frame check reads one attribute.
        self.prepared_writable = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = CorkedTransport(  # type: ignore[assignment]
            self.transport, _flusher_of(self.loop)
        )

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][PREPARED_FRAMES_EXTENSION] = {"write": self.write_prepared}

    def write_prepared(self, frame: bytes) -> bool:
        """Write a frame built by ``realtime.frames.text_frame`` (at the end of this loop
        iteration, with the socket's other prepared frames), if this socket can take it as it
        is; ``False`` means: send the text the ordinary way."""
        # The connection's state leaves OPEN only with close_sent, disconnected, or the transport
        # closing; what is held for a transport that closes before the flush is dropped there.
        if self.prepared_writable and not self.close_sent and not self.disconnected:
            self.transport.cork(frame)  # type: ignore[attr-defined]
            return True
        return False

    def _can_write_prepared(self) -> bool:
        return (
            self.handshake_complete
            and not self.conn.extensions
            and self.conn.state is State.OPEN
            and self.writable.is_set()
        )

    def pause_writing(self) -> None:
        super().pause_writing()
        self.prepared_writable = False

    def resume_writing(self) -> None:
        super().resume_writing()
        self.prepared_writable = self._can_write_prepared()

    async def send(self, message: Any) -> None:
        accepting = not self.handshake_complete and message.get("type") == "websocket.accept"
        await super().send(message)
        if accepting and self.handshake_complete:
            self.prepared_writable = self._can_write_prepared()
            # The handshake's response is not needed any more. (The request stays referenced by
            # the websockets parser; the scope keeps the headers the application reads.)
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]
