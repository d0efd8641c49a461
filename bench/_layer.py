"""The channel layer alone: publishers and subscribers straight on Valkey, no web process.

``realtime_bench.py layer`` uses this to measure what the layer itself carries, so that the
number of Valkey shards is what limits it, not PostgreSQL commits or the web processes'
Python. A subscriber here stands for one web process: one connection per shard, as the hub's
``RedisPubSubChannelLayer`` keeps, subscribed to every topic's group channel on that shard.
It counts the messages without decoding them (a web process would, on its own cores).

For the stock ``RedisChannelLayer`` a subscriber is one process's channel key (``specific.…!``),
where ``group_send`` adds a message for each of the process's channels in the group. It is
emptied with ``BZMPOP … COUNT 1000`` (up to 1,000 messages per round trip): cheaper for Valkey
than stock's own receive (one ``BZPOPMIN`` per message), so stock's figures here are its best.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import selectors
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import hiredis

#: How every pub/sub message begins on the wire (RESP2: ``*3`` ``$7 message`` channel payload).
MESSAGE_MARK = b"$7\r\nmessage\r\n"


def command(*parts: str | bytes) -> bytes:
    """One command in RESP."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


@dataclass
class _Subscriber:
    sock: socket.socket
    reader: Any = field(default_factory=hiredis.Reader)
    carry: bytes = b""
    key: bytes = b""


def _pop_command(key: bytes) -> bytes:
    return command(b"BZMPOP", b"1", b"1", key, b"MIN", b"COUNT", b"1000")


def _open(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _subscribe(sock: socket.socket, channels: Sequence[str]) -> None:
    reader = hiredis.Reader()
    for start in range(0, len(channels), 500):
        sock.sendall(command(b"SUBSCRIBE", *channels[start : start + 500]))
    confirmed = 0
    while confirmed < len(channels):
        data = sock.recv(1 << 16)
        if not data:
            raise ConnectionError("Valkey closed the connection while subscribing")
        reader.feed(data)
        while reader.gets() is not False:
            confirmed += 1


def _drain(mode: str, targets: list[tuple[int, Any]], pipe: Connection) -> None:
    """A child process: open the subscribers, say "ready", count until told "quit".

    ``targets``: (port, channels to subscribe) for ``pubsub``, (port, key) for ``zset``.
    Answers "count" with (messages so far, subscribers whose connection closed, CPU seconds
    this process used so far).
    """
    selector = selectors.DefaultSelector()
    subscribers = []
    for port, target in targets:
        sock = _open(port)
        sub = _Subscriber(sock)
        if mode == "pubsub":
            _subscribe(sock, target)
        else:
            sub.key = target.encode()
            sock.sendall(_pop_command(sub.key))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, sub)
        subscribers.append(sub)
    pipe.send("ready")
    count = closed = 0
    keep = len(MESSAGE_MARK) - 1
    while True:
        if pipe.poll():
            order = pipe.recv()
            if order == "quit":
                break
            pipe.send((count, closed, time.process_time()))
        for key, _ in selector.select(timeout=0.05):
            sub = key.data
            try:
                data = sub.sock.recv(1 << 20)
            except BlockingIOError:
                continue
            if not data:  # Valkey cut it off (its output-buffer limit): what follows is lost
                selector.unregister(sub.sock)
                closed += 1
                continue
            if mode == "pubsub":
                # The mark is 13 bytes: keep the last 12 so one split over two reads counts once.
                buffer = sub.carry + data
                count += buffer.count(MESSAGE_MARK)
                sub.carry = buffer[-keep:]
                continue
            sub.reader.feed(data)
            while (reply := sub.reader.gets()) is not False:
                if reply is not None:
                    count += len(reply[1])
                sub.sock.sendall(_pop_command(sub.key))
    for sub in subscribers:
        sub.sock.close()


class Drainers:
    """Subscriber connections spread over ``processes`` child processes."""

    def __init__(self, mode: str, targets: list[tuple[int, Any]], processes: int) -> None:
        context = multiprocessing.get_context("fork")
        self.pipes: list[Connection] = []
        self.workers: list[Any] = []
        for index in range(max(1, processes)):
            share = targets[index::processes]
            if not share:
                continue
            parent, child = context.Pipe()
            worker = context.Process(target=_drain, args=(mode, share, child), daemon=True)
            worker.start()
            self.pipes.append(parent)
            self.workers.append(worker)
        for pipe in self.pipes:
            if not pipe.poll(120) or pipe.recv() != "ready":
                self.stop()
                raise RuntimeError("a subscriber process did not get ready")

    def count(self) -> tuple[int, int, float]:
        """(messages received, subscribers cut off, CPU seconds used) over all processes."""
        for pipe in self.pipes:
            pipe.send("count")
        answers = [pipe.recv() for pipe in self.pipes]
        return (
            sum(a[0] for a in answers),
            sum(a[1] for a in answers),
            sum(a[2] for a in answers),
        )

    def stop(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send("quit")
            except OSError:
                pass
        for worker in self.workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()


def run_publishers(
    target: Callable[[int, float], tuple[int, float]], processes: int, seconds: float
) -> list[tuple[int, float]]:
    """``target(index, deadline)`` in ``processes`` forked processes; each returns (events it
    published, CPU seconds it used)."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    deadline = time.time() + seconds

    def work(index: int) -> None:
        results.put(target(index, deadline))

    workers = [context.Process(target=work, args=(i,)) for i in range(processes)]
    for worker in workers:
        worker.start()
    got = [results.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join(30)
    failed = [w.exitcode for w in workers if w.exitcode != 0]
    if failed:
        raise RuntimeError(f"publisher processes failed: exit codes {failed}")
    return got


def publish_ours(events: Sequence[Any], batch: int, deadline: float) -> tuple[int, float]:
    """``transport.broadcast_sync`` (the service's publish path) in batches of ``batch``
    events, cycling through ``events``, until ``deadline``."""
    from realtime import transport

    transport._local.__dict__.clear()  # Redis clients a parent's thread may have opened
    sent = 0
    cpu = time.process_time()
    while time.time() < deadline:
        start = sent % len(events)
        chunk = events[start : start + batch]
        transport.broadcast_sync(chunk)
        sent += len(chunk)
    return sent, time.process_time() - cpu


def publish_stock(
    layer_factory: Callable[[], Any],
    groups: Sequence[str],
    message: dict[str, Any],
    inflight: int,
    deadline: float,
) -> tuple[int, float]:
    """The stock layer's ``group_send``, ``inflight`` at a time, round robin over ``groups``."""
    layer = layer_factory()
    sent = 0
    cpu = time.process_time()

    async def worker(offset: int) -> None:
        nonlocal sent
        n = offset
        while time.time() < deadline:
            await layer.group_send(groups[n % len(groups)], message)
            sent += 1
            n += inflight

    async def main() -> None:
        await asyncio.gather(*(worker(i) for i in range(inflight)))
        await layer.close_pools()

    asyncio.run(main())
    return sent, time.process_time() - cpu
