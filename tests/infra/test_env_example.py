""".env.example documents every environment variable, with placeholders only."""

from __future__ import annotations

import re

from scripts.stack import profiles
from tests.infra._devstack import REPO

EXAMPLE = REPO / ".env.example"
# env_str("NAME", …), env_bool(\n "NAME", …) … in the settings readers of pubkyproject/env.py.
SETTING_READ = re.compile(r"\benv_[a-z_]+\(\s*\"([A-Z][A-Z0-9_]+)\"")
COMPOSE_VAR = re.compile(r"\$\{([A-Z][A-Z0-9_]+)[:}]")


def documented() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", EXAMPLE.read_text(), flags=re.MULTILINE))


def test_every_variable_read_by_the_settings_is_documented() -> None:
    read: set[str] = set()
    for path in (REPO / "pubkyproject").rglob("*.py"):
        read |= set(SETTING_READ.findall(path.read_text()))

    missing = sorted(read - documented())
    assert not missing, f"add these to .env.example: {missing}"


def test_every_compose_and_script_variable_is_documented() -> None:
    compose_vars = set(COMPOSE_VAR.findall((REPO / "docker-compose.yml").read_text()))
    script_vars = {"DEMO_PASSWORD", "DEVSTACK_DATA_DIR", "DEVSTACK_PG_USER", "PYTHON", "SKIP_LINT"}
    script_vars |= {"ASGI_SERVER", "FORWARDED_ALLOW_IPS", "GRACEFUL_SHUTDOWN_SECONDS"}
    script_vars |= {"PROMETHEUS_MULTIPROC_DIR", "SECRETS_DIR"}
    for profile in profiles.PROFILES.values():
        specs = [profile.pg, profile.valkey, profile.web, *(profile.testnet or ())]
        script_vars |= {spec.env for spec in specs if spec is not None}

    missing = sorted((compose_vars | script_vars) - documented())
    assert not missing, f"add these to .env.example: {missing}"


def test_example_values_are_placeholders_not_secrets() -> None:
    values = dict(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$", EXAMPLE.read_text(), flags=re.MULTILINE)
    )

    for name in ("SECRET_KEY", "PUBKY_KEY_ENCRYPTION_KEY", "METRICS_TOKEN"):
        assert values[name].startswith("replace-with-"), name
