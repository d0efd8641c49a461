"""An event's frame as text and, built once on first use, as the bytes of a WebSocket frame.

The hub hands the same :class:`OutgoingFrame` to every socket subscribed to the event's topic.
Sockets on a server that accepts prepared frames (``realtime.ws_protocol``) write
:meth:`OutgoingFrame.wire` as it is; the others send the text.
"""

from __future__ import annotations

import struct

_TEXT_FIN = 0x81  # FIN bit and the text opcode

#: The ASGI extension (in ``scope["extensions"]``) of a server that writes prepared frames:
#: ``{"write": Callable[[bytes], bool]}`` (``realtime.ws_protocol``).
PREPARED_FRAMES_EXTENSION = "pubky.prepared_frames"


def text_frame(payload: bytes) -> bytes:
    """A complete, unmasked, uncompressed text frame for ``payload`` (RFC 6455, 5.2).

    Servers never mask what they send, so the bytes are the same for every socket.
    """
    length = len(payload)
    if length < 126:
        header = bytes((_TEXT_FIN, length))
    elif length < 1 << 16:
        header = struct.pack("!BBH", _TEXT_FIN, 126, length)
    else:
        header = struct.pack("!BBQ", _TEXT_FIN, 127, length)
    return header + payload


class OutgoingFrame(str):
    """One event's client frame (its text), shared by every socket it goes to.

    A ``str``, so every path that queues, batches or sends text takes it as it is; sockets that
    can write prepared bytes ask for :meth:`wire`, built on the first call and then reused.
    """

    def wire(self) -> bytes:
        """The frame's bytes on the wire (built on the first call, then reused)."""
        cached: bytes | None = self.__dict__.get("_wire")
        if cached is None:
            cached = self.__dict__["_wire"] = text_frame(self.encode())
        return cached
