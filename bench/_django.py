"""Shared set-up for benchmark scripts that need Django against a throw-away database."""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def _admin_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres"))


@contextlib.contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """Create database ``name`` (with this process's id, so that benchmarks running side by
    side never drop each other's) next to ``DATABASE_URL``'s, point Django at it, drop it
    after."""
    import psycopg

    name = f"{name}_{os.getpid()}"

    base = os.environ.get("DATABASE_URL")
    if not base:
        sys.exit("error: set DATABASE_URL (./scripts/test and ./scripts/run export one)")
    admin = _admin_url(base)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pubkyproject.settings.test")
    import django

    django.setup()
    try:
        yield url
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def median(values: list[float]) -> float:
    return statistics.median(values)
