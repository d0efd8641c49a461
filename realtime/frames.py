"""An event's frame as text and, built once on first use, as the bytes of a WebSocket frame.

The hub hands the same :class:`OutgoingFrame` to every socket subscribed to the event's topic.
Sockets on a server that accepts prepared frames (``realtime.ws_protocol``) write
:meth:`OutgoingFrame.wire` as is; the others send :attr:`OutgoingFrame.text`.
"""

from __future__ import annotations

import struct

_TEXT_FIN = 0x81  # FIN bit and the text opcode


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


class OutgoingFrame:
    """One event's client frame, shared by every socket it goes to."""

    __slots__ = ("_wire", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._wire: bytes | None = None

    def wire(self) -> bytes:
        """The frame's bytes on the wire (built on the first call, then reused)."""
        if self._wire is None:
            self._wire = text_frame(self.text.encode())
        return self._wire
