"""``python -m pubky`` as a user runs it: a subprocess against the shared testnet."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pubky.keys import Keypair

ROOT = Path(__file__).resolve().parents[2]


def run(
    *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    full_env.pop("PUBKY_RELAYS", None)
    full_env.pop("PUBKY_SECRET_KEY", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pubky", *args],
        cwd=ROOT,
        env=full_env,
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def relay_args(testnet) -> list[str]:
    return [arg for url in testnet.relay_urls for arg in ("--relay", url)]


@pytest.fixture
def secret_file(tmp_path: Path) -> tuple[Path, Keypair]:
    keypair = Keypair.random()
    path = tmp_path / "secret.hex"
    path.write_text(keypair.secret.hex() + "\n")
    return path, keypair


def test_keygen(tmp_path: Path) -> None:
    result = run("keygen")
    assert result.returncode == 0
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("public key: ")
    secret = lines[1].removeprefix("secret key: ")
    assert Keypair.from_secret(bytes.fromhex(secret)).public_key.z32() == lines[0].split()[-1]

    out = tmp_path / "key"
    result = run("keygen", "--out", str(out), "--json")
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert "secret_key" not in doc
    assert out.stat().st_mode & 0o777 == 0o600
    keypair = Keypair.from_secret(bytes.fromhex(out.read_text().strip()))
    assert keypair.public_key.z32() == doc["public_key"]
    again = run("keygen", "--out", str(out))
    assert again.returncode == 1
    assert b"exists" in again.stderr


def test_publish_and_resolve(testnet, secret_file) -> None:
    path, keypair = secret_file
    relays = relay_args(testnet)
    result = run(
        "publish",
        *relays,
        "--secret-file",
        str(path),
        "--record",
        "@",
        "A",
        "127.0.0.2",
        "--record",
        "_note",
        "TXT",
        "hello world",
        "--ttl",
        "600",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().count("ok   204") == 2
    resolved = run("resolve", keypair.public_key.z32(), *relays)
    assert resolved.returncode == 0
    text = resolved.stdout.decode()
    assert "@\t600\tIN\tA\t127.0.0.2" in text
    assert '_note\t600\tIN\tTXT\t"hello world"' in text
    as_json = json.loads(run("resolve", f"pk:{keypair.public_key.z32()}", "--json", *relays).stdout)
    assert as_json["found"]
    assert {r["type"] for r in as_json["records"]} == {"A", "TXT"}

    # --keep adds to the existing records; --homeserver adds _pubky
    hs = testnet.homeserver_public_key.z32()
    result = run("publish", *relays, "--secret-file", str(path), "--keep", "--homeserver", hs)
    assert result.returncode == 0, result.stderr
    records = json.loads(run("resolve", keypair.public_key.z32(), "--json", *relays).stdout)
    assert {r["name"] for r in records["records"]} == {"@", "_note", "_pubky"}


def test_full_storage_flow(testnet, secret_file) -> None:
    path, keypair = secret_file
    relays = relay_args(testnet)
    hs = testnet.homeserver_public_key.z32()
    env = {"PUBKY_RELAYS": ",".join(testnet.relay_urls)}
    signup = run("signup", hs, "--secret-file", str(path), env=env)
    assert signup.returncode == 0, signup.stderr
    user = keypair.public_key.z32()
    url = f"pubky://{user}/pub/cli/hello.txt"
    put = run("put", url, "--data", "hi there", "--secret-file", str(path), *relays)
    assert put.returncode == 0, put.stderr
    stdin_put = run(
        "put",
        f"pubky{user}/pub/cli/raw.bin",
        "--file",
        "-",
        *relays,
        env={"PUBKY_SECRET_KEY": keypair.secret.hex()},
        stdin=b"\x00\xff",
    )
    assert stdin_put.returncode == 0, stdin_put.stderr
    got = run("get", url, *relays)
    assert got.returncode == 0
    assert got.stdout == b"hi there"
    assert run("get", f"pubky://{user}/pub/cli/raw.bin", *relays).stdout == b"\x00\xff"
    listing = run("ls", f"pubky://{user}/pub/cli", *relays)
    assert listing.stdout.decode().splitlines() == [
        f"pubky://{user}/pub/cli/hello.txt",
        f"pubky://{user}/pub/cli/raw.bin",
    ]
    shallow = run("ls", f"pubky://{user}/pub/", "--shallow", "--limit", "5", *relays)
    assert shallow.stdout.decode().splitlines() == [f"pubky://{user}/pub/cli/"]
    events = run("events", hs, "--limit", "1000", *relays).stdout.decode().splitlines()
    assert f"PUT {url}" in events
    assert events[-1].startswith("cursor: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["resolve", "not-a-key"], b"invalid public key"),
        (["get", "pubky://nope/pub/x"], b"invalid Pubky URL"),
        (["get", "https://example.com/x"], b"invalid Pubky URL"),
        (["publish", "--record", "@", "A", "1.2.3.4"], b"secret key is required"),
        (
            [
                "events",
                "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo",
                "--relay",
                "ftp://x",
            ],
            b"relay URL must be http",
        ),
    ],
)
def test_bad_input_gives_clean_errors(args: list[str], message: bytes) -> None:
    result = run(*args)
    assert result.returncode == 1
    assert message in result.stderr
    assert b"Traceback" not in result.stderr


def test_usage_errors_exit_2() -> None:
    assert run().returncode == 2
    assert run("frobnicate").returncode == 2
    result = run("ls", "pubky://x/", "--limit", "-3")
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr


def test_request_failures_are_reported(testnet, secret_file, tmp_path: Path) -> None:
    path, keypair = secret_file
    relays = relay_args(testnet)
    unknown = Keypair.random().public_key.z32()
    missing = run("resolve", unknown, *relays)
    assert missing.returncode == 1
    assert b"no packet found" in missing.stderr
    not_signed_up = run(
        "put",
        f"pubky://{keypair.public_key.z32()}/pub/x",
        "--data",
        "x",
        "--secret-file",
        str(path),
        *relays,
    )
    assert not_signed_up.returncode == 1
    assert b"signup" in not_signed_up.stderr
    wrong_user = run(
        "put", f"pubky://{unknown}/pub/x", "--data", "x", "--secret-file", str(path), *relays
    )
    assert wrong_user.returncode == 1
    assert b"does not belong" in wrong_user.stderr
    bad_secret = tmp_path / "bad"
    bad_secret.write_text("zz")
    result = run("publish", "--secret-file", str(bad_secret), "--record", "@", "A", "1.1.1.1")
    assert result.returncode == 1
    assert b"64 hex characters" in result.stderr
    bad_record = run("publish", *relays, "--secret-file", str(path), "--record", "@", "A", "x")
    assert bad_record.returncode == 1
    assert b"invalid record" in bad_record.stderr
    down = run("resolve", unknown, "--relay", "http://127.0.0.1:9", "--timeout", "1")
    assert down.returncode == 1
    assert b"connection failed" in down.stderr
    hs = testnet.homeserver_public_key.z32()
    again = run("signup", hs, "--secret-file", str(path), *relays)
    assert again.returncode == 0
    twice = run("signup", hs, "--secret-file", str(path), *relays)
    assert twice.returncode == 1
    assert b"HomeserverConflict (HTTP 409): User already exists" in twice.stderr
    absent = run("get", f"pubky://{keypair.public_key.z32()}/pub/absent", *relays)
    assert absent.returncode == 1
    assert b"HTTP 404" in absent.stderr


def test_cli_testnet_command(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pubky",
            "testnet",
            "--ephemeral-data",
            "--relay-port",
            "0",
            "--relay-port",
            "0",
            "--homeserver-port",
            "0",
            "--http-relay-port",
            "0",
            "--admin-port",
            "0",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        seen = ""
        deadline = time.monotonic() + 30
        while "data dir" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        assert sum(line.startswith("relay:") for line in seen.splitlines()) == 2
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
