"""The uvicorn protocol that writes frames prepared once per event (``realtime.ws_protocol``).

A real uvicorn process serves a tiny ASGI app; a real WebSocket client checks that prepared
frames arrive intact at every length boundary of the frame header, and that the server falls
back to ordinary sends where a frame must be built per socket (permessage-deflate).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from realtime.frames import OutgoingFrame, text_frame
from realtime.ws_protocol import CORK_LIMIT_BYTES, CorkedTransport, _Flusher
from tests.realtime.apps.prepared_frames_app import payload_of
from tests.servers import ProcessGroup, free_port, process_group

pytestmark = pytest.mark.e2e

SIZES = [0, 1, 125, 126, 127, 65_535, 65_536, 200_000]


def _serve(group: ProcessGroup, *, deflate: bool) -> int:
    port = free_port()
    group.start(
        "uvicorn",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "prepared_frames_app:app",
            "--app-dir",
            "tests/realtime/apps",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ws",
            "realtime.ws_protocol:PreparedFrameProtocol",
            "--ws-per-message-deflate",
            "true" if deflate else "false",
            "--lifespan",
            "off",
            "--no-access-log",
        ],
        port=port,
    )
    return port


@pytest.fixture
def server() -> Iterator[int]:
    with process_group(dict(os.environ)) as group:
        yield _serve(group, deflate=False)


@pytest.fixture
def deflate_server() -> Iterator[int]:
    with process_group(dict(os.environ)) as group:
        yield _serve(group, deflate=True)


def test_a_text_frame_has_the_header_rfc_6455_prescribes_for_each_length() -> None:
    assert text_frame(b"") == b"\x81\x00"
    assert text_frame(b"x" * 125)[:2] == b"\x81\x7d"
    assert text_frame(b"x" * 126)[:4] == b"\x81\x7e\x00\x7e"
    assert text_frame(b"x" * 65_536)[:10] == b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"


def test_an_outgoing_frame_builds_its_bytes_once() -> None:
    frame = OutgoingFrame("héllo")
    assert frame == "héllo"  # still the text, for every path that sends text
    assert frame.wire() is frame.wire()
    assert frame.wire() == text_frame("héllo".encode())


def test_prepared_frames_arrive_intact_at_every_header_length(server: int) -> None:
    with connect(f"ws://127.0.0.1:{server}/", compression=None, max_size=None) as ws:
        for size in SIZES:
            ws.send(str(size))
            assert ws.recv(timeout=10) == payload_of(size)
            assert ws.recv(timeout=10) == "prepared"


def test_with_permessage_deflate_the_server_sends_each_frame_the_ordinary_way(
    deflate_server: int,
) -> None:
    with connect(f"ws://127.0.0.1:{deflate_server}/", max_size=None) as ws:
        for size in (10, 70_000):
            ws.send(str(size))
            assert ws.recv(timeout=10) == payload_of(size)
            assert ws.recv(timeout=10) == "fallback"


def test_a_client_without_compression_gets_prepared_frames_from_a_deflate_server(
    deflate_server: int,
) -> None:
    with connect(f"ws://127.0.0.1:{deflate_server}/", compression=None) as ws:
        ws.send("300")
        assert ws.recv(timeout=10) == payload_of(300)
        assert ws.recv(timeout=10) == "prepared"


def test_a_burst_of_prepared_frames_arrives_whole_and_in_order_before_a_later_send(
    server: int,
) -> None:
    with connect(f"ws://127.0.0.1:{server}/", compression=None, max_size=None) as ws:
        # Small frames (held and written together) and large ones (past the cork limit).
        for count, size in ((500, 40), (40, 30_000)):
            ws.send(f"burst {count} {size}")
            for n in range(count):
                got = ws.recv(timeout=10)
                assert got.split(" ", 1)[0] == str(n) and len(got) == size
            assert ws.recv(timeout=10) == "done"


def test_a_close_after_a_burst_comes_after_every_frame_of_it(server: int) -> None:
    with connect(f"ws://127.0.0.1:{server}/", compression=None) as ws:
        ws.send("burst 300 20 close")
        received = [ws.recv(timeout=10) for _ in range(301)]
        assert [r.split(" ", 1)[0] for r in received[:300]] == [str(n) for n in range(300)]
        assert received[300] == "done"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000


class RecordingTransport:
    """The transport's side of the socket (the OS boundary): records each write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        assert not self.closing
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str) -> str:
        return f"extra {name}"


def _corked() -> tuple[CorkedTransport, RecordingTransport, asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    inner = RecordingTransport()
    return CorkedTransport(inner, _Flusher(loop)), inner, loop  # type: ignore[arg-type]


def _next_iteration(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


def test_frames_corked_in_one_loop_iteration_leave_in_one_write_at_its_end() -> None:
    corked, inner, loop = _corked()
    try:
        for n in range(3):
            corked.cork(b"frame%d" % n)
        assert inner.writes == []  # held until the end of the iteration
        _next_iteration(loop)
        assert inner.writes == [b"frame0frame1frame2"]
        corked.cork(b"again")
        _next_iteration(loop)
        assert inner.writes[1:] == [b"again"]  # one frame goes as it is
    finally:
        loop.close()


def test_any_other_write_or_a_close_first_writes_what_is_held() -> None:
    corked, inner, loop = _corked()
    try:
        corked.cork(b"a")
        corked.cork(b"b")
        corked.write(b"reply")
        assert inner.writes == [b"ab", b"reply"]
        corked.cork(b"c")
        corked.close()
        assert inner.writes[2:] == [b"c"] and inner.closing
        _next_iteration(loop)  # the scheduled flush finds nothing left
        assert len(inner.writes) == 3
        assert corked.get_extra_info("peername") == "extra peername"
    finally:
        loop.close()


def test_held_frames_past_the_limit_are_written_at_once_and_dropped_if_the_socket_closes() -> None:
    corked, inner, loop = _corked()
    try:
        corked.cork(b"x" * (CORK_LIMIT_BYTES - 1))
        assert inner.writes == []
        corked.cork(b"y")  # reaches the limit: back-pressure must see these bytes now
        assert [len(w) for w in inner.writes] == [CORK_LIMIT_BYTES]
        corked.cork(b"late")
        inner.closing = True
        _next_iteration(loop)
        assert len(inner.writes) == 1  # nothing is written to a closing transport
    finally:
        loop.close()
