"""The consumer's parts on their own: message routing and the socket writer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from realtime import protocol
from realtime.consumers.routing import ROUTES
from realtime.consumers.writer import CLOSE_SLOW_CONSUMER, SocketWriter


def test_every_client_message_but_auth_has_a_handler() -> None:
    # auth is the socket's own (it may come before authentication).
    assert set(ROUTES) == set(protocol.CLIENT_TYPES) - {"auth"}


class _Transport:
    """An ASGI ``send`` that applies back-pressure until ``open`` is set."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.open = asyncio.Event()
        self.closed: list[int] = []

    async def send(self, message: dict[str, Any]) -> None:
        await self.open.wait()
        self.sent.append(message["text"])

    async def close(self, code: int | None = None) -> None:
        self.closed.append(code or 1000)


async def _written(writer: SocketWriter) -> None:
    """Wait for the writer task to have sent everything."""
    if writer.task is not None:
        await asyncio.wait({writer.task})
    assert writer.task is None and not writer.queue


async def test_frames_wait_behind_a_blocked_send_and_leave_in_order(settings) -> None:
    transport = _Transport()
    writer = SocketWriter(transport.send, transport.close, batch=False, label="t")
    for n in range(5):
        writer.send_obj({"n": n})
    assert len(writer.queue) == 4  # the first is inside the server's send
    transport.open.set()
    await _written(writer)
    assert [json.loads(text)["n"] for text in transport.sent] == [0, 1, 2, 3, 4]
    assert writer.queued_bytes == 0


async def test_a_batched_socket_sends_what_waits_as_one_batch_frame(settings) -> None:
    transport = _Transport()
    transport.open.set()
    writer = SocketWriter(transport.send, transport.close, batch=True, label="t")
    writer.send_obj({"n": 1})
    writer.send_obj({"n": 2})
    await _written(writer)
    (frame,) = transport.sent
    assert json.loads(frame) == {"type": "batch", "messages": [{"n": 1}, {"n": 2}]}


async def test_a_reader_that_lets_the_queue_fill_is_dropped_with_4408(settings) -> None:
    settings.REALTIME = {**settings.REALTIME, "SEND_QUEUE_FRAMES": 3}
    transport = _Transport()
    writer = SocketWriter(transport.send, transport.close, batch=False, label="t")
    for n in range(5):  # one in the server's send, three queued, the fifth is one too many
        writer.send_obj({"n": n})
    await asyncio.sleep(0)
    assert transport.closed == [CLOSE_SLOW_CONSUMER]
    assert writer.closing and not writer.queue and writer.queued_bytes == 0
    writer.send_obj({"n": 99})  # nothing more is accepted
    assert not writer.queue
    writer.cancel()
