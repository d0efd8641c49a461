"""uvicorn's WebSocket protocol (``websockets-sansio``) with two savings for a fan-out server.

**Frames prepared once per event.** An event goes to every socket subscribed to its topic with
the same text. The stock ``send`` encodes that text and builds the WebSocket frame again for each
socket. This protocol offers the application an ASGI extension, ``pubky.prepared_frames``, whose
``write(frame: bytes) -> bool`` puts a frame built once per event (``realtime.frames``) on the
socket's transport at once. It answers ``False`` when it cannot: the transport is applying
back-pressure, the socket is closing, or an extension (permessage-deflate) was negotiated and
the frame must be compressed for this socket. The application then sends the text the
ordinary way, which waits for the transport as before.

**Less memory per idle socket.** The messages for the application wait in a small list with
one future instead of an ``asyncio.Queue`` (three deques per socket), and the opening
handshake's response is dropped once the handshake is done.

Serve with ``uvicorn --ws realtime.ws_protocol:PreparedFrameProtocol``. Nothing here imports
Django (``realtime.frames`` does not either): uvicorn loads this class before the application.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from realtime.frames import PREPARED_FRAMES_EXTENSION


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

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][PREPARED_FRAMES_EXTENSION] = {"write": self.write_prepared}

    def write_prepared(self, frame: bytes) -> bool:
        """Write a frame built by ``realtime.frames.text_frame`` now, if this socket can take it
        as it is; ``False`` means: send the text the ordinary way."""
        if (
            self.handshake_complete
            and not self.close_sent
            and not self.disconnected
            and self.writable.is_set()
            and not self.conn.extensions
            and self.conn.state is State.OPEN
            and not self.transport.is_closing()
        ):
            self.transport.write(frame)
            return True
        return False

    async def send(self, message: Any) -> None:
        accepting = not self.handshake_complete and message.get("type") == "websocket.accept"
        await super().send(message)
        if accepting and self.handshake_complete:
            # The handshake's response is not needed any more. (The request stays referenced by
            # the websockets parser; the scope keeps the headers the application reads.)
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]
