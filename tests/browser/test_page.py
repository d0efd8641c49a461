"""The dashboard page and its files as HTTP serves them (no browser needed)."""

from __future__ import annotations

import re

import pytest

from realtime.views import ASSET_DIR


def test_the_dashboard_is_served_at_the_root_with_a_strict_content_security_policy(client):
    response = client.get("/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "connect-src 'self' ws://testserver wss://testserver" in policy
    assert "frame-ancestors 'none'" in policy
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    assert 'data-token-url="/api/auth/token/"' in html
    assert 'data-refresh-url="/api/auth/token/refresh/"' in html
    assert '<label for="username">Username</label>' in html
    assert 'aria-live="polite"' in html
    # Nothing from another host: every script, stylesheet and icon is our own.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script>" not in html  # no inline code for the policy to have to allow


def test_every_module_the_page_loads_is_served_as_javascript(client):
    page = client.get("/").content.decode()
    entry = re.search(r'<script type="module" src="([^"]+)"', page).group(1)
    seen: set[str] = set()
    todo = [entry]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"] == 'text/javascript; charset="utf-8"'
        assert response["X-Content-Type-Options"] == "nosniff"
        source = b"".join(response.streaming_content).decode()
        for name in re.findall(r'from "\./([\w-]+\.js)"', source):
            todo.append(url.rsplit("/", 1)[0] + "/" + name)
    assert len(seen) == len(list(ASSET_DIR.glob("*.js")))


def test_a_page_file_answers_304_when_unchanged(client):
    first = client.get("/static/dashboard/dashboard.css")
    assert first.status_code == 200
    assert first["Content-Type"] == 'text/css; charset="utf-8"'
    assert first["Cache-Control"].startswith("max-age=0")  # always revalidated
    again = client.get("/static/dashboard/dashboard.css", headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/static/dashboard/missing.js",
        "/static/dashboard/views.py",
        "/static/dashboard/..%2Fviews.py",
        "/static/dashboard/../views.py",
        "/static/../realtime/views.py",
    ],
)
def test_only_static_files_are_served_never_source(client, path):
    assert client.get(path).status_code == 404


def test_the_page_answers_no_writes(client):
    assert client.post("/").status_code == 405
