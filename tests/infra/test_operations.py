"""What an operator relies on, in process: static files, offline API docs, probes, logs.

The same behaviours against real server processes are in tests/realtime/test_observability.py
and tests/infra/test_run_serves.py.
"""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from pubkyproject.observability import ContextFilter, JsonFormatter, RequestContextMiddleware
from realtime.models import DbChange

# src=, href= and url(...) references in a page.
REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)""")


def references(html: str) -> list[str]:
    return [a or b for a, b in REFERENCE.findall(html)]


def test_the_admin_stylesheet_is_served_by_the_app(client: Client) -> None:
    response = client.get("/static/admin/css/base.css")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b"body" in b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_the_dashboard_assets_are_served_by_the_app(client: Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    local = [u for u in references(page.content.decode()) if u.startswith("/static/")]

    assert local, "the dashboard page references no static files"
    for url in local:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_reference_no_external_host_and_their_assets_are_served(
    client: Client, path: str
) -> None:
    page = client.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    urls = references(html)

    external = [u for u in urls if urlsplit(u).netloc or u.startswith("//")]
    assert external == [], f"{path} loads from another host: {external}"
    assert "cdn" not in html.lower()
    assets = [u for u in urls if u.startswith("/static/")]
    assert any(u.endswith(".js") for u in assets), urls
    for url in assets:
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_healthz_answers_on_any_host_without_touching_the_database(
    client: Client, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST="web-3:8000")  # not in ALLOWED_HOSTS

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_every_dependency(client: Client) -> None:
    response = client.get("/readyz", HTTP_HOST="web-3:8000")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "channel_layer", "outbox_lag"}
    assert {check["status"] for check in body["checks"].values()} == {"ok"}


@pytest.mark.django_db
def test_readyz_fails_while_changes_wait_too_long_for_the_outbox(
    client: Client, settings: Any
) -> None:
    settings.READYZ_MAX_OUTBOX_LAG_SECONDS = 60
    DbChange.objects.create(
        table_name="relay_statuses", op="UPDATE", row_id=1, created_at=timezone.now()
    )
    assert client.get("/readyz").status_code == 200  # fresh: pubky_listen is on it

    DbChange.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    response = client.get("/readyz")

    assert response.status_code == 503
    check = response.json()["checks"]["outbox_lag"]
    assert check["status"] == "fail"
    assert "pubky_listen" in check["error"]
    assert response.json()["checks"]["database"]["status"] == "ok"

    public = client.get("/readyz", REMOTE_ADDR="192.0.2.7")  # e.g. through the proxy
    assert public.status_code == 503
    # Which check failed, not why: no host names or error text for the public.
    assert "error" not in public.json()["checks"]["outbox_lag"]
    assert public.json()["checks"]["outbox_lag"]["status"] == "fail"

    settings.READYZ_MAX_OUTBOX_LAG_SECONDS = 0  # the check switched off
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_metrics_are_refused_without_the_token_or_an_allowed_address(
    client: Client, settings: Any
) -> None:
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = "scrape-token-123"

    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403
    wrong = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    ok = client.get(
        "/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION="Bearer scrape-token-123"
    )
    assert ok.status_code == 200
    assert ok["Content-Type"].startswith("text/plain")
    assert b"pubky_events_published_total" in ok.content


def test_a_log_line_written_during_a_request_carries_its_request_id_as_json() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("pubky.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def view(request: Any) -> Any:
        from django.http import HttpResponse

        logger.info("did %s", "something", extra={"domain": "example.org"})
        return HttpResponse("ok")

    try:
        request = RequestFactory().get("/x", HTTP_X_REQUEST_ID="proxy-id-42")
        response = RequestContextMiddleware(view)(request)
        other = RequestContextMiddleware(view)(RequestFactory().get("/x"))
    finally:
        logger.removeHandler(handler)

    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert response["X-Request-ID"] == "proxy-id-42"
    assert first["request_id"] == "proxy-id-42"
    assert first["message"] == "did something"
    assert first["level"] == "INFO"
    assert first["logger"] == "pubky.test.json"
    assert first["domain"] == "example.org"
    assert re.fullmatch(r"[0-9a-f]{32}", second["request_id"])
    assert other["X-Request-ID"] == second["request_id"]


def test_an_unsafe_request_id_from_a_client_is_replaced() -> None:
    from django.http import HttpResponse

    request = RequestFactory().get("/x", HTTP_X_REQUEST_ID='bad"\nid')
    response = RequestContextMiddleware(lambda r: HttpResponse())(request)

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_metrics_add_up_the_processes_that_share_a_multiprocess_directory(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    from tests.infra._devstack import REPO

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pubkyproject.settings.test",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    setup = "import django; django.setup(); from pubkyproject import metrics; "

    def python(code: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", setup + code],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    python("metrics.SOCKETS_OPENED.inc(3); metrics.EVENTS_DELIVERED.inc(5)")
    python("metrics.SOCKETS_OPENED.inc(4)")
    text = python("print(metrics.exposition().decode())")

    assert "pubky_websocket_connections_opened_total 7.0" in text
    assert "pubky_events_delivered_total 5.0" in text
