"""Testnet lifecycle, the homeserver's own packet, persistence, the HTTP relay and the runner."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from pubky.keys import Keypair
from pubky.testnet import Testnet, serve_forever
from pubky.testnet.runner import homeserver_records

ROOT = Path(__file__).resolve().parents[2]
ZERO_KEY = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"


def test_defaults_and_validation(tmp_path: Path) -> None:
    net = Testnet(tmp_path)
    assert net.relay_urls == ["http://127.0.0.1:15411"]
    assert net.homeserver_url == "http://127.0.0.1:6286"
    assert net.http_relay_link_url == "http://127.0.0.1:15412/link"
    assert net.admin_url == "http://127.0.0.1:6288"
    assert net.homeserver_public_key.z32() == ZERO_KEY
    assert not net.running
    with pytest.raises(ValueError, match="loopback"):
        Testnet(tmp_path, host="0.0.0.0")
    with pytest.raises(ValueError, match="loopback"):
        Testnet(tmp_path, host="192.168.1.10")
    with pytest.raises(ValueError):
        Testnet(tmp_path, signup_mode="closed")
    with pytest.raises(ValueError):
        Testnet(tmp_path, relay_ports=())


def test_homeserver_packet_is_published(testnet) -> None:
    packet = testnet.relay_client().resolve(testnet.homeserver_public_key)
    assert packet is not None
    import dns.rdata

    def canonical(rtype: str, value: str) -> str:
        # dnspython prints printable bytes of key65280 as characters and others escaped:
        # compare the parsed records, not one spelling of them.
        return dns.rdata.from_text("IN", rtype, value).to_text()

    records = {(r.name, r.rtype, canonical(r.rtype, r.value), r.ttl) for r in packet.records()}
    port = testnet.homeserver_port
    escaped = "".join(f"\\{b:03d}" for b in port.to_bytes(2, "big"))
    tls = f'1 . port="{testnet.pubky_tls_port}" ipv4hint="127.0.0.1"'
    assert records == {
        ("@", "HTTPS", canonical("HTTPS", tls), 3600),
        ("@", "HTTPS", canonical("HTTPS", f'10 localhost. key65280="{escaped}"'), 3600),
        ("@", "A", "127.0.0.1", 3600),
    }
    assert testnet.last_publish is not None
    assert testnet.last_publish.ok
    assert all(r.ok for r in testnet.last_publish.results)


def test_homeserver_records_match_the_protocol_example() -> None:
    from pubky.packet import SignedPacket

    packet = SignedPacket.sign(Keypair.from_secret(bytes(32)), homeserver_records(6286, 6287))
    assert [(r.name, r.rtype, r.value, r.ttl) for r in packet.records()] == [
        ("@", "HTTPS", '1 . port="6287" ipv4hint="127.0.0.1"', 3600),
        ("@", "HTTPS", '10 localhost. key65280="\\024\\142"', 3600),
        ("@", "A", "127.0.0.1", 3600),
    ]


def test_context_manager_with_temporary_data() -> None:
    with Testnet.ephemeral(relays=3) as net:
        assert len(net.relay_urls) == 3
        assert net.running
        data_dir = net.data_dir
        assert data_dir is not None
        assert data_dir.exists()
        assert requests.get(net.homeserver_url, timeout=5).text == "Pubky Homeserver"
        assert requests.get(net.admin_url or "", timeout=5).status_code == 200
    assert not net.running
    assert not data_dir.exists()
    net.stop()  # idempotent


def test_custom_homeserver_key(make_testnet) -> None:
    secret = bytes(range(32))
    net = make_testnet(homeserver_secret=secret, http_relay_port=None, admin_port=None)
    assert net.homeserver_public_key == Keypair.from_secret(secret).public_key
    client = net.homeserver_client()
    keypair = Keypair.random()
    client.signup(keypair, net.homeserver_public_key)
    assert client.homeserver_of(keypair) == net.homeserver_public_key


def test_data_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "persistent"
    keypair = Keypair.random()
    url = f"pubky://{keypair.public_key.z32()}/pub/app/keep.txt"
    with Testnet.ephemeral(data, relays=2) as net:
        client = net.homeserver_client()
        client.signup(keypair, net.homeserver_public_key)
        client.put(url, "persisted")
        cookie = client.session_cookie(keypair)
        user_packet = net.relay_client().resolve(keypair.public_key)
        first_cursor = client.events(net.homeserver_public_key).cursor
    assert (data / "homeserver.sqlite3").exists()
    assert (data / "relay-0.sqlite3").exists()

    with Testnet.ephemeral(data, relays=2) as net:  # new ports, same data
        client = net.homeserver_client()
        assert net.relay_client().resolve(keypair.public_key) == user_packet
        assert client.get(url).content == b"persisted"
        client.set_session_cookie(keypair, cookie)
        assert client.session(keypair) is not None
        client.put(url, "still here")
        page = client.events(net.homeserver_public_key, cursor=first_cursor)
        assert [e.kind for e in page.events] == ["PUT"]
        assert int(page.cursor or 0) == int(first_cursor or 0) + 1
        assert client.signin(keypair).public_key == keypair.public_key


# --- HTTP relay --------------------------------------------------------------------------------


def _get_later(url: str, results: list[requests.Response], timeout: float = 10) -> threading.Thread:
    thread = threading.Thread(
        target=lambda: results.append(requests.get(url, timeout=timeout)), daemon=True
    )
    thread.start()
    return thread


def test_http_relay_consumer_first(testnet) -> None:
    channel = f"{testnet.http_relay_link_url}/consumer-first-{time.monotonic_ns()}"
    got: list[requests.Response] = []
    thread = _get_later(channel, got)
    time.sleep(0.2)
    posted = requests.post(channel, data=b"\x00secret token", timeout=10)
    thread.join(5)
    assert posted.status_code == 200
    assert got[0].status_code == 200
    assert got[0].content == b"\x00secret token"


def test_http_relay_producer_first(testnet) -> None:
    channel = f"{testnet.http_relay_link_url}/producer-first-{time.monotonic_ns()}"
    posted: list[requests.Response] = []
    thread = threading.Thread(
        target=lambda: posted.append(requests.post(channel, data=b"payload", timeout=10)),
        daemon=True,
    )
    thread.start()
    time.sleep(0.2)
    got = requests.get(channel, timeout=10)
    thread.join(5)
    assert got.status_code == 200
    assert got.content == b"payload"
    assert posted[0].status_code == 200


def test_http_relay_timeouts_and_displacement(make_testnet) -> None:
    net = make_testnet(http_relay_timeout=0.5, admin_port=None)
    channel = f"{net.http_relay_link_url}/lonely"
    timed_out = requests.get(channel, timeout=5)
    assert timed_out.status_code == 408
    assert timed_out.text == "Request timed out"
    assert requests.post(channel, data=b"x", timeout=5).status_code == 408

    first: list[requests.Response] = []
    thread = _get_later(f"{net.http_relay_link_url}/shared", first)
    time.sleep(0.1)
    second: list[requests.Response] = []
    thread2 = _get_later(f"{net.http_relay_link_url}/shared", second)
    time.sleep(0.1)
    requests.post(f"{net.http_relay_link_url}/shared", data=b"v", timeout=5)
    thread.join(5)
    thread2.join(5)
    assert first[0].status_code == 404  # displaced by the second consumer
    assert second[0].content == b"v"


async def test_http_relay_skips_consumers_that_went_away(testnet) -> None:
    import asyncio

    import aiohttp

    channel = f"{testnet.http_relay_link_url}/gone-{time.monotonic_ns()}"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(asyncio.TimeoutError):
            async with session.get(channel, timeout=aiohttp.ClientTimeout(total=0.2)):
                pass
    await asyncio.sleep(0.1)

    def produce() -> requests.Response:
        return requests.post(channel, data=b"later", timeout=10)

    loop = asyncio.get_running_loop()
    post = loop.run_in_executor(None, produce)
    await asyncio.sleep(0.2)
    async with aiohttp.ClientSession() as session, session.get(channel) as response:
        assert response.status == 200
        assert await response.read() == b"later"
    assert (await post).status_code == 200


# --- foreground runners -------------------------------------------------------------------------


def test_serve_forever_prints_endpoints_and_stops(tmp_path: Path) -> None:
    net = Testnet.ephemeral(tmp_path / "fg")
    stop = threading.Event()
    out = io.StringIO()
    thread = threading.Thread(
        target=serve_forever, args=(net,), kwargs={"out": out, "stop_event": stop}
    )
    thread.start()
    deadline = time.monotonic() + 10
    while "homeserver key" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ZERO_KEY in out.getvalue()
    assert net.running
    stop.set()
    thread.join(10)
    assert not net.running
    assert "stopping" in out.getvalue()


def _wait_for(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> str:
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} not printed; got:\n{seen}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_manage_py_pubky_testnet(tmp_path: Path, sig: signal.Signals) -> None:
    if not (ROOT / "manage.py").exists():
        pytest.skip("manage.py not present")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "pubky_testnet",
            "--data-dir",
            str(tmp_path / "mt"),
            "--relay-port",
            "0",
            "--homeserver-port",
            "0",
            "--http-relay-port",
            "0",
            "--admin-port",
            "0",
            "--signup-mode",
            "token_required",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        output = _wait_for(proc, "data dir")
        assert ZERO_KEY in output
        assert "signup mode:     token_required" in output
        relay = next(line.split()[-1] for line in output.splitlines() if line.startswith("relay:"))
        assert requests.get(relay + "/", timeout=5).status_code == 200
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "stopping" in stdout
    assert "Traceback" not in stderr


def test_manage_py_rejects_non_loopback(tmp_path: Path) -> None:
    if not (ROOT / "manage.py").exists():
        pytest.skip("manage.py not present")
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "pubky_testnet",
            "--host",
            "10.0.0.1",
            "--data-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "loopback" in result.stderr
