"""A tiny ASGI app for tests/realtime/test_ws_protocol.py (no Django).

Each text message ``"<size>"`` is answered with a payload of that many bytes, written as a
prepared frame when the server offers ``pubky.prepared_frames``; then a second message says
``prepared`` or ``fallback``, whichever path carried the payload. ``"burst <n> <size>"`` writes
``n`` prepared frames (``"0 …"``, ``"1 …"``, … padded to ``size`` bytes) in one go, then sends
``done`` the ordinary way, then closes if ``close`` follows.
"""

from __future__ import annotations

from typing import Any

from realtime.frames import OutgoingFrame

PAYLOAD_UNIT = "é-pubky-"  # non-ASCII on purpose: the length header counts bytes, not characters


def payload_of(size: int) -> str:
    text = (PAYLOAD_UNIT * (size // len(PAYLOAD_UNIT) + 1))[:size]
    return text


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    prepared = scope.get("extensions", {}).get("pubky.prepared_frames")
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message["text"]
        if text.startswith("burst") and prepared is not None:
            _, count, size, *rest = text.split()
            for n in range(int(count)):
                prepared["write"](OutgoingFrame(f"{n} ".ljust(int(size), "x")).wire())
            await send({"type": "websocket.send", "text": "done"})
            if rest == ["close"]:
                await send({"type": "websocket.close", "code": 4000})
                return
            continue
        frame = OutgoingFrame(payload_of(int(text)))
        if prepared is not None and prepared["write"](frame.wire()):
            await send({"type": "websocket.send", "text": "prepared"})
        else:
            await send({"type": "websocket.send", "text": str(frame)})
            await send({"type": "websocket.send", "text": "fallback"})
