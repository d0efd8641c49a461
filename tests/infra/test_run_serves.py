"""Command 1 end to end: ./scripts/run serves the admin, the API schema and the WebSocket."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.infra._devstack import REPO, clean_env, run_ports
from tests.infra.test_operations import references


def _wait_ready(base: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"./scripts/run exited with {proc.returncode}:\n{log.read_text()}")
        try:
            # Ready = serving, and the banner (printed once daphne answers) is out.
            healthy = requests.get(f"{base}/healthz", timeout=1).status_code == 200
            if healthy and "Press Ctrl-C" in log.read_text():
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"./scripts/run never served {base}:\n{log.read_text()[-3000:]}")


@pytest.mark.e2e
def test_run_serves_the_admin_the_schema_and_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    ports = run_ports()
    env = clean_env(DEVSTACK_DATA_DIR=str(tmp_path), DEMO_PASSWORD="demo-pw", **ports)
    log = tmp_path / "run.log"
    proc = subprocess.Popen(
        [str(REPO / "scripts" / "run")],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{ports['PORT']}"
    try:
        _wait_ready(base, proc, log)
        output = log.read_text()
        assert "login:    demo / demo-pw" in output
        # The workers run beside the web server.
        workers = next(line for line in output.splitlines() if "workers:" in line)
        for worker in ("pubky_listen", "watch_homeservers", "check_relays", "republish_pkarr"):
            assert worker in workers, output
        # The printed demo user logs in to the admin…
        session = requests.Session()
        page = session.get(f"{base}/admin/login/", timeout=10)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert csrf is not None
        session.post(
            f"{base}/admin/login/",
            data={"username": "demo", "password": "demo-pw", "csrfmiddlewaretoken": csrf[1]},
            timeout=10,
        )
        admin = session.get(f"{base}/admin/", timeout=10)
        assert admin.status_code == 200
        assert "Families" in admin.text
        # …the API schema is served, and the demo user gets a token for the API and /ws.
        schema = requests.get(f"{base}/api/schema/", timeout=10)
        assert schema.status_code == 200
        assert "openapi" in schema.text
        token = requests.post(
            f"{base}/api/auth/token/",
            json={"username": "demo", "password": "demo-pw"},
            timeout=10,
        )
        assert token.status_code == 200
        assert "access" in token.json()

        # The default server is uvicorn; the admin is styled and the API docs work offline.
        assert "server:   uvicorn" in output
        css = requests.get(f"{base}/static/admin/css/base.css", timeout=10)
        assert css.status_code == 200
        assert css.headers["Content-Type"].startswith("text/css")
        docs = requests.get(f"{base}/api/docs/", timeout=10)
        assert docs.status_code == 200
        urls = references(docs.text)
        assert not [u for u in urls if urlsplit(u).netloc or u.startswith("//")], urls
        for url in (u for u in urls if u.startswith("/static/")):
            assert requests.get(f"{base}{url}", timeout=10).status_code == 200, url
        assert requests.get(f"{base}/readyz", timeout=10).status_code == 200

        # A first start has something to look at: a Pubky domain on the testnet, a registrar
        # domain halfway through its migration, two guardians.
        auth = {"Authorization": f"Bearer {token.json()['access']}"}
        pubky = requests.get(f"{base}/api/pubky-domains/", headers=auth, timeout=10).json()
        assert [(d["name"], d["status"]) for d in pubky["results"]] == [
            ("pubky-demo.example", "active")
        ]
        migrations = requests.get(f"{base}/api/migrations/", headers=auth, timeout=10).json()
        assert [m["state"] for m in migrations["results"]] == ["pending"]
        families = requests.get(f"{base}/api/families/", headers=auth, timeout=10).json()
        family_id = families["results"][0]["id"]
        guardians = requests.get(
            f"{base}/api/families/{family_id}/guardians/", headers=auth, timeout=10
        ).json()
        assert len(guardians["results"]) == 2

        # ./scripts/manage, with no port given, talks to this stack (its ports are not the
        # defaults): it checks the testnet's relay, and only that one.
        relay = f"http://127.0.0.1:{ports['TESTNET_RELAY_PORT']}"
        manage = subprocess.run(
            [str(REPO / "scripts" / "manage"), "check_relays"],
            env=clean_env(DEVSTACK_DATA_DIR=str(tmp_path)),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert manage.returncode == 0, manage.stderr
        assert f"[1/1] {relay}: up" in manage.stdout, manage.stdout
        assert "1/1 relay(s) up" in manage.stdout
        relays = requests.get(f"{base}/api/relays/", headers=auth, timeout=10).json()
        listed = relays["results"] if isinstance(relays, dict) else relays
        assert [(r["url"], r["is_up"]) for r in listed] == [(relay, True)]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, log.read_text()[-2000:]
    # Ctrl-C stopped everything it started: nothing listens on its ports any more.
    for port in ports.values():
        with socket.socket() as sock:
            # SO_REUSEADDR ignores closed connections in TIME_WAIT, never a listener.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", int(port)))
