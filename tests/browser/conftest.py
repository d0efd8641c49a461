"""Browser tests: Debian's headless Chromium, driven by Playwright, against a real daphne.

Chromium comes from the distribution (``/usr/bin/chromium``; ``./scripts/test`` installs it
when run as root): Playwright's own browser downloads are never used. Without it these tests
skip locally with the reason, and fail in CI (``CI`` set), where a missing browser is a broken
machine rather than a choice.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.servers import REPO_ROOT, Process, process_group

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO_ROOT / "artifacts" / "browser"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
#: This run's channel-layer prefix (``pubkyproject/settings/test.py``), for server processes.
PREFIX: str = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"{reason} (CI must run the browser tests)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for this module's tests.

    Playwright's sync API keeps an asyncio loop running in this thread while it is started,
    so Django's guard against ORM calls from async code would refuse every query in these
    (synchronous) tests and fixtures: the documented switch turns that guard off here, and
    only here (``subprocess_env`` keeps it away from the servers).
    """
    if not CHROMIUM.exists():
        _unavailable(
            f"{CHROMIUM} is missing: apt-get install chromium (./scripts/test does it as root)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -r requirements-dev.txt)")
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a new context: a fresh profile with no storage, desktop-sized."""
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    context = browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page PNG under artifacts/browser/ (gitignored; CI keeps it)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def subprocess_env(**overrides: str) -> dict[str, str]:
    """The environment of a server process: this test's committed database, our prefix."""
    from django.db import connection

    db = connection.settings_dict
    auth = f"{db['USER']}:{db['PASSWORD']}" if db["PASSWORD"] else db["USER"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pubkyproject.settings.test",
        "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CHANNEL_LAYER_PREFIX": PREFIX,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(overrides)
    return env


@pytest.fixture
def web(transactional_db: None) -> Iterator[Process]:
    """A running daphne bound to this test's database, with short-lived access tokens.

    Tokens live 15 s so that a test sees the page refresh its token and re-authenticate its
    WebSocket in-band well before the server would close it. ``stop()`` and ``restart()``
    bring it down and back on the same port.
    """
    # The two relays the dashboard tests show are the configured ones (others are retired).
    relays = "http://127.0.0.1:15411,http://127.0.0.1:15413"
    with process_group(subprocess_env(JWT_ACCESS_SECONDS="15", PUBKY_RELAYS=relays)) as group:
        yield group.daphne("web")


def base_url(web: Process) -> str:
    return f"http://127.0.0.1:{web.port}/"
