"""A WebSocket client worker for the benchmarks (run as its own process).

It opens ``--count`` sockets round-robin over ``--url``s, subscribes each, prints ``ready``,
then counts what arrives. For each socket it checks that event ids only grow (order per
topic). A line on stdin asks for a report: ``report`` prints one JSON line with totals,
latency samples (``now - data.t``) and order violations. ``quit`` exits.

Frames are not fully parsed on the hot path: the event id and timestamp are read with a
regular expression, so the client costs as little CPU as possible beside the servers.

Once its sockets are open, the worker moves everything it holds into the garbage collector's
permanent generation (``gc.freeze``): a worker with thousands of sockets otherwise pauses for
full collections of objects that live for the whole run, and those pauses would be counted as
the server's latency.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import sys
import time
from pathlib import Path

import websockets
from websockets.asyncio.client import ClientConnection

# Bytes received from the network by every socket of this worker (compressed frames as they
# travel, headers included): the ``compression`` scenario compares these with and without
# permessage-deflate.
WIRE_BYTES = [0]


class CountingConnection(ClientConnection):
    def data_received(self, data: bytes) -> None:
        WIRE_BYTES[0] += len(data)
        super().data_received(data)


EVENT = re.compile(rb'"event_id": ?(\d+)')
STAMP = re.compile(rb'"t": ?([0-9.]+)')


class Socket:
    __slots__ = ("count", "disordered", "last_id", "ws")

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.count = 0
        self.last_id = 0
        self.disordered = 0


async def run(args: argparse.Namespace) -> None:
    sockets: list[Socket] = []
    latencies: list[float] = []
    # BENCH_TRACE_DIR: also keep every sample (stamp, latency, socket) and write them there at
    # the end, one file per worker, to see when the slow events happen.
    trace_dir = os.environ.get("BENCH_TRACE_DIR")
    trace: list[tuple[float, float, int]] | None = [] if trace_dir else None
    sample_every = max(1, args.count // 50)
    subscribe = json.loads(args.subscribe)
    per_socket: list[dict] = args.subscribe_list
    if per_socket:
        sample_every = 1  # each socket sees few events: time them all

    async def open_one(i: int) -> Socket:
        url = args.url[i % len(args.url)]
        ws = await websockets.connect(
            f"{url}?token={args.token}{'&batch=1' if args.batch else ''}",
            max_size=2**24,
            compression="deflate" if args.deflate else None,
            open_timeout=60,
            ping_interval=None,
            create_connection=CountingConnection,
        )
        await ws.recv()  # authenticated
        wanted = per_socket[(args.offset + i) % len(per_socket)] if per_socket else subscribe
        if args.subscribe_kind == "ours":
            await ws.send(json.dumps({"type": "subscribe", "data": wanted}))
        else:
            await ws.send(json.dumps({"type": "subscribe", "group": wanted["group"]}))
        await ws.recv()  # subscribed
        return Socket(ws)

    started = time.perf_counter()
    for begin in range(0, args.count, args.parallel):
        batch = range(begin, min(begin + args.parallel, args.count))
        sockets.extend(await asyncio.gather(*(open_one(i) for i in batch)))
    connect_seconds = time.perf_counter() - started
    gc.collect()
    gc.freeze()  # the sockets live until the end: later collections need not walk them

    async def consume(index: int, sock: Socket) -> None:
        sample = index % sample_every == 0
        try:
            async for frame in sock.ws:
                data = frame if isinstance(frame, bytes) else frame.encode()
                if data.startswith(b'{"type":"batch"'):
                    ids = [int(m) for m in EVENT.findall(data)]
                else:
                    found = EVENT.search(data)
                    ids = [int(found.group(1))] if found else []
                for event_id in ids:
                    if event_id <= sock.last_id:
                        sock.disordered += 1
                    sock.last_id = event_id
                    sock.count += 1
                if sample and ids:
                    stamp = STAMP.search(data)
                    if stamp:
                        sent = float(stamp.group(1))
                        latencies.append(time.time() - sent)
                        if trace is not None:
                            trace.append((sent, latencies[-1], index))
        except websockets.ConnectionClosed:
            pass

    tasks = [asyncio.create_task(consume(i, s)) for i, s in enumerate(sockets)]
    print(json.dumps({"ready": len(sockets), "connect_seconds": connect_seconds}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if line in ("", "quit"):
            break
        if line == "report":
            counts = [s.count for s in sockets]
            print(
                json.dumps(
                    {
                        "received": sum(counts),
                        "min_per_socket": min(counts),
                        "max_per_socket": max(counts),
                        "disordered": sum(s.disordered for s in sockets),
                        "closed": sum(1 for s in sockets if s.ws.close_code is not None),
                        "latencies": latencies[:],
                        "wire_bytes": WIRE_BYTES[0],
                    }
                ),
                flush=True,
            )
            latencies.clear()
    if trace_dir and trace is not None:
        lines = "".join(f"{a:.6f} {b:.6f} {c}\n" for a, b, c in trace)
        (Path(trace_dir) / f"client-{os.getpid()}.txt").write_text(lines)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(s.ws.close() for s in sockets), return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", action="append", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--parallel", type=int, default=50)
    parser.add_argument("--subscribe", default='{"relays": true}')
    parser.add_argument("--subscribe-kind", choices=["ours", "stock"], default="ours")
    parser.add_argument("--subscribe-file", help="JSON list: socket i subscribes to item i")
    parser.add_argument("--offset", type=int, default=0, help="index of this worker's 1st socket")
    parser.add_argument("--batch", action="store_true")
    parser.add_argument("--deflate", action="store_true")
    args = parser.parse_args()
    args.subscribe_list = (
        json.loads(Path(args.subscribe_file).read_text()) if args.subscribe_file else []
    )
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
