"""Bad configuration stops with one line naming the problem; production insists on secrets."""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from pubkyproject.env import parse_database_url, parse_encryption_key, parse_redis_url
from tests.helpers import run_manage_env

GOOD_KEY = "44" * 32


def _base_env(**overrides: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:1/pubky"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:1/0"),
        "DJANGO_SETTINGS_MODULE": "pubkyproject.settings.local",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v != ""}


def _production_env(**overrides: str) -> dict[str, str]:
    values = {
        "DJANGO_SETTINGS_MODULE": "pubkyproject.settings.production",
        "SECRET_KEY": "x" * 50,
        "PUBKY_KEY_ENCRYPTION_KEY": GOOD_KEY,
        "ALLOWED_HOSTS": "pubky.example",
    }
    values.update(overrides)
    return _base_env(**values)


def _assert_one_line_error(result, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u@h/db",
        "postgres://u@127.0.0.1:notaport/db",
        "postgres://u@127.0.0.1:5432/",
        "not a url",
    ],
)
def test_a_malformed_database_url_stops_with_one_line(url: str) -> None:
    result = run_manage_env("check", env=_base_env(DATABASE_URL=url))
    _assert_one_line_error(result, "DATABASE_URL")


@pytest.mark.parametrize(
    ("value", "needle"),
    [("0", "must be at least 0.01"), ("2", "must be at most 1.0"), ("a tenth", "must be a number")],
)
def test_a_share_of_time_out_of_range_stops_with_one_line(value: str, needle: str) -> None:
    result = run_manage_env("check", env=_base_env(WS_GC_RECLAIM_BUDGET=value))
    _assert_one_line_error(result, "WS_GC_RECLAIM_BUDGET", needle)


def test_a_malformed_redis_url_stops_with_one_line() -> None:
    result = run_manage_env("check", env=_base_env(REDIS_URL="http://127.0.0.1:6379"))
    _assert_one_line_error(result, "REDIS_URL")


@pytest.mark.parametrize("key", ["abcd", "00" * 31, "zz" * 40])
def test_a_wrong_length_encryption_key_stops_with_one_line(key: str) -> None:
    result = run_manage_env("check", env=_base_env(PUBKY_KEY_ENCRYPTION_KEY=key))
    _assert_one_line_error(result, "PUBKY_KEY_ENCRYPTION_KEY", "32 bytes")


@pytest.mark.parametrize(
    ("missing", "needle"),
    [
        ("SECRET_KEY", "SECRET_KEY is required"),
        ("PUBKY_KEY_ENCRYPTION_KEY", "PUBKY_KEY_ENCRYPTION_KEY is required"),
        ("DATABASE_URL", "DATABASE_URL is required"),
        ("REDIS_URL", "REDIS_URL is required"),
        ("ALLOWED_HOSTS", "ALLOWED_HOSTS is required"),
    ],
)
def test_production_refuses_to_start_without_its_secrets(missing: str, needle: str) -> None:
    env = _production_env()
    del env[missing]
    result = run_manage_env("check", env=env)
    _assert_one_line_error(result, needle)


def test_production_refuses_a_short_secret_key() -> None:
    result = run_manage_env("check", env=_production_env(SECRET_KEY="short"))
    _assert_one_line_error(result, "SECRET_KEY must be at least 32")


def test_production_starts_with_every_secret() -> None:
    result = run_manage_env("check", env=_production_env())
    assert result.returncode == 0, result.stderr


def test_secrets_can_come_from_files(tmp_path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s" * 64 + "\n")
    env = _production_env(SECRET_KEY_FILE=str(secret))
    del env["SECRET_KEY"]
    assert run_manage_env("check", env=env).returncode == 0


def test_an_unknown_settings_module_stops_with_one_line() -> None:
    result = run_manage_env("check", env=_base_env(DJANGO_SETTINGS_MODULE="nope.settings"))
    _assert_one_line_error(result, "nope.settings")


def test_database_url_parsing() -> None:
    cfg = parse_database_url("postgresql://me:p%40ss@db.internal:6543/pubky?sslmode=require")
    assert (cfg.user, cfg.password, cfg.host, cfg.port, cfg.name) == (
        "me",
        "p@ss",
        "db.internal",
        "6543",
        "pubky",
    )
    assert cfg.options == {"sslmode": "require"}
    assert parse_database_url("postgres:///pubky?host=/run/pg").host == "/run/pg"


def test_redis_url_parsing() -> None:
    assert parse_redis_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        parse_redis_url("redis://:bad:port/0")


def test_encryption_key_accepts_hex_and_base64() -> None:
    raw = bytes(range(32))
    import base64

    assert parse_encryption_key(raw.hex()) == raw
    assert parse_encryption_key(base64.urlsafe_b64encode(raw).decode()) == raw
    assert parse_encryption_key(base64.b64encode(raw).decode().rstrip("=")) == raw


def test_an_application_name_the_triggers_would_not_skip_is_refused() -> None:
    result = run_manage_env("check", env=_base_env(DATABASE_APPLICATION_NAME="my-app"))
    _assert_one_line_error(result, "DATABASE_APPLICATION_NAME", "pubky-django")
