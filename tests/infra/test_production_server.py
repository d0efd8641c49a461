"""The production web server as the image runs it: scripts/serve with the production settings.

Static files are collected (hashed, compressed) and served by the app; the probes answer any
Host over plain HTTP; the container health check passes; logs are JSON lines.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings

from tests.infra._devstack import REPO
from tests.servers import free_port, process_group, wait_http

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def production_env(static_root: Path, **extra: str) -> dict[str, str]:
    from django.db import connection

    db = connection.settings_dict
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "pubkyproject.settings.production",
        "SECRET_KEY": "production-test-only-not-a-secret-0123456789",
        "PUBKY_KEY_ENCRYPTION_KEY": "33" * 32,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "ALLOWED_HOSTS": "pubky.example.org",
        "STATIC_ROOT": str(static_root),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(extra)
    return env


@pytest.fixture
def served(tmp_path: Path, transactional_db: Any) -> Iterator[tuple[str, Any]]:
    static_root = tmp_path / "static"
    env = production_env(static_root)
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stderr
    port = free_port()
    with process_group({**env, "PORT": str(port)}) as group:
        web = group.start("web", [str(REPO / "scripts" / "serve")], port=port)
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}", web


def test_the_production_server_serves_hashed_compressed_static_files(
    served: tuple[str, Any],
) -> None:
    base, _ = served
    host = {"Host": "pubky.example.org", "X-Forwarded-Proto": "https"}

    login = requests.get(f"{base}/admin/login/", headers=host, timeout=10)
    assert login.status_code == 200
    css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.text)
    assert css is not None, "the admin does not link the hashed stylesheet"
    response = requests.get(
        f"{base}{css[1]}", headers={**host, "Accept-Encoding": "gzip"}, timeout=10
    )
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "immutable" in response.headers["Cache-Control"]
    assert "max-age=315360000" in response.headers["Cache-Control"]
    docs = requests.get(f"{base}/api/docs/", headers=host, timeout=10)
    assert re.search(r'src="/static/drf_spectacular_sidecar/[^"]+\.[0-9a-f]{12}\.js"', docs.text)


def test_the_probes_answer_any_host_over_http_and_the_health_check_passes(
    served: tuple[str, Any],
) -> None:
    base, web = served

    # An unknown Host and plain HTTP elsewhere get 400 / a redirect to HTTPS …
    assert requests.get(f"{base}/api/schema/", timeout=10).status_code == 400
    # … but not the probes, which a load balancer calls by the replica's address.
    assert requests.get(f"{base}/healthz", headers={"Host": "web:8000"}, timeout=10).ok
    ready = requests.get(f"{base}/readyz", headers={"Host": "10.0.0.5:8000"}, timeout=10)
    assert ready.status_code == 200, ready.text
    check = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "healthcheck.py")],
        env={**web.env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stderr


def test_the_production_server_logs_json_lines(served: tuple[str, Any]) -> None:
    base, web = served
    requests.get(
        f"{base}/api/families/",
        headers={"Host": "pubky.example.org", "X-Forwarded-Proto": "https"},
        timeout=10,
    )
    web.stop()

    lines = [line for line in web.log().splitlines() if line.strip()]
    assert lines
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert any(e["logger"].startswith("uvicorn") for e in entries)
