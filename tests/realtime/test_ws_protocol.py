"""The uvicorn protocol that writes frames prepared once per event (``realtime.ws_protocol``).

A real uvicorn process serves a tiny ASGI app; a real WebSocket client checks that prepared
frames arrive intact at every length boundary of the frame header, and that the server falls
back to ordinary sends where a frame must be built per socket (permessage-deflate).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from realtime.frames import OutgoingFrame, text_frame
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
