"""The socket writer: every frame a socket sends goes through one bounded queue.

A frame goes out at once while nothing is waiting; when the ASGI server applies back-pressure
(uvicorn does when the client does not read), later frames queue behind it and one task writes
them in order. A queue that reaches its bounds means a reader this slow would grow the
process's memory without limit: the queue is dropped and the socket closed with 4408; the
client reconnects and resumes with ``since``. With ``?batch=1`` waiting frames leave as one
``batch`` frame of up to ``MAX_BATCH`` messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from pubkyproject import metrics
from realtime.frames import OutgoingFrame
from realtime.wire import dumps

logger = logging.getLogger("pubky.realtime")

CLOSE_SLOW_CONSUMER = 4408
MAX_BATCH = 200

Send = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]
#: The server's ``pubky.prepared_frames`` extension (``realtime.ws_protocol``).
WritePrepared = Callable[[bytes], bool]
Close = Callable[..., Coroutine[Any, Any, None]]


class _Resume:
    """Awaits the rest of a coroutine that was started by hand and is suspended on ``waiting``
    (what ``yield from`` does for a coroutine it started itself): the task waits on what the
    coroutine waits on, then drives it on; a cancellation is thrown into it."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self) -> Generator[Any, None, None]:
        waiting = self.waiting
        while True:
            try:
                yield waiting
            except BaseException as exc:
                try:
                    waiting = self.coro.throw(exc)
                except StopIteration:
                    return
                continue
            try:
                waiting = self.coro.send(None)
            except StopIteration:
                return


class _EmptyQueue(deque[str]):
    """The queue of every socket that has never queued a frame: shared, always empty."""

    def append(self, frame: str) -> None:
        raise RuntimeError("the shared empty queue takes no frames")


_NO_QUEUE: deque[str] = _EmptyQueue()

_queue_bounds: tuple[int, int] | None = None


def queue_bounds() -> tuple[int, int]:
    """``(SEND_QUEUE_FRAMES, SEND_QUEUE_BYTES)``, read once: every queued frame checks them,
    and each read of ``settings`` goes through its lazy wrapper."""
    global _queue_bounds
    if _queue_bounds is None:
        limits = settings.REALTIME
        _queue_bounds = (int(limits["SEND_QUEUE_FRAMES"]), int(limits["SEND_QUEUE_BYTES"]))
    return _queue_bounds


@receiver(setting_changed)
def _forget_queue_bounds(*, setting: str, **kwargs: Any) -> None:
    global _queue_bounds
    if setting == "REALTIME":
        _queue_bounds = None


class SocketWriter:
    """The send side of one socket.

    ``closing`` is the socket's "no more frames" flag: once set (by the consumer when it closes,
    or here when the reader is dropped), frames are discarded.
    """

    __slots__ = (
        "_base_send",
        "_close",
        "_prepared",
        "batch",
        "closing",
        "label",
        "queue",
        "queued_bytes",
        "task",
    )

    def __init__(
        self,
        send: Send,
        close: Close,
        *,
        batch: bool,
        label: str,
        prepared: WritePrepared | None = None,
    ) -> None:
        self._base_send = send
        self._prepared = prepared
        self._close = close
        self.batch = batch
        self.label = label
        # Created on first use: most sockets never queue a frame (they are written at once).
        self.queue: deque[str] = _NO_QUEUE
        self.queued_bytes = 0
        self.task: asyncio.Task[None] | None = None
        self.closing = False

    def send_obj(self, message: dict[str, Any]) -> None:
        self.enqueue(dumps(message))

    def enqueue(self, frame: str) -> None:
        if self.closing:
            return
        if self.task is None and not self.batch:
            # Nothing is waiting to be written (the queue drains before the writer ends): send
            # now instead of creating a task per frame, the cost that dominated fan-out. An
            # event's frame goes out as bytes built once for every socket where the server
            # takes them (it answers False under back-pressure: then the ordinary send waits).
            prepared = self._prepared
            if prepared is not None and type(frame) is OutgoingFrame and prepared(frame.wire()):
                return
            self._send_now(frame)
            return
        max_frames, max_bytes = queue_bounds()
        if len(self.queue) >= max_frames or self.queued_bytes + len(frame) > max_bytes:
            self.drop_slow_reader()
            return
        if self.queue is _NO_QUEUE:
            self.queue = deque()
        self.queue.append(frame)
        self.queued_bytes += len(frame)
        if self.task is None:
            # Batched sockets always go through the writer: what arrives before it runs (the
            # rest of this loop iteration's events) leaves as one frame.
            self.task = asyncio.get_running_loop().create_task(self._write())

    def drop_slow_reader(self) -> None:
        """A reader this slow would grow our memory without bound: drop it; it reconnects and
        resubscribes with `since` to get what it missed."""
        metrics.slow_reader_closed(dropped=len(self.queue) + 1)
        self.discard()
        asyncio.get_running_loop().create_task(self._close(code=CLOSE_SLOW_CONSUMER))

    def discard(self) -> None:
        """Forget every waiting frame and accept no more (the socket is going away)."""
        self.queue = _NO_QUEUE
        self.queued_bytes = 0
        self.closing = True

    async def room(self) -> None:
        """Wait until the queue is back under half its bounds (a replay goes at the reader's
        pace instead of filling the queue at once)."""
        max_frames, max_bytes = queue_bounds()
        while (
            self.task is not None
            and not self.closing
            and (len(self.queue) * 2 >= max_frames or self.queued_bytes * 2 >= max_bytes)
        ):
            await asyncio.wait({self.task})

    async def drain(self, seconds: float) -> None:
        """Give what is queued up to ``seconds`` to leave (before a close frame)."""
        if self.task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.task), timeout=seconds)
            except (TimeoutError, asyncio.CancelledError):
                pass

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _send_now(self, text: str) -> None:
        """Run the server's ``send`` by hand; it finishes at once unless the transport applies
        back-pressure, and then its rest (and every frame queued behind it) goes to the writer.
        """
        send = self._base_send({"type": "websocket.send", "text": text})
        try:
            waiting = send.send(None)
        except StopIteration:
            return
        except Exception:
            logger.debug("send failed on %s", self.label, exc_info=True)
            return
        self.task = asyncio.get_running_loop().create_task(self._write(_Resume(send, waiting)))

    async def _write(self, unfinished: _Resume | None = None) -> None:
        try:
            if unfinished is not None:
                await unfinished
            while self.queue:
                if self.batch and len(self.queue) > 1:
                    frames = [self.queue.popleft() for _ in range(min(len(self.queue), MAX_BATCH))]
                    text = '{"type":"batch","messages":[' + ",".join(frames) + "]}"
                    self.queued_bytes -= sum(len(f) for f in frames)
                else:
                    text = self.queue.popleft()
                    self.queued_bytes -= len(text)
                await self._base_send({"type": "websocket.send", "text": text})
        except Exception:
            logger.debug("send failed on %s", self.label, exc_info=True)
        finally:
            self.task = None
            if not self.queue:
                self.queue = _NO_QUEUE  # give the emptied queue's memory back
