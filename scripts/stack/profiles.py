"""The two profiles, ``run`` and ``test``: settings, requirements and the ports they use."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class PortSpec:
    env: str
    default: int
    what: str
    option: str = ""  # the command-line option that passes it on (testnet)


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    settings: str
    requirements: str
    pg: PortSpec
    valkey: PortSpec
    web: PortSpec | None = None
    testnet: tuple[PortSpec, ...] = ()  # relay, homeserver, HTTP relay first
    fast_pg: bool = False  # fsync off: the test database is disposable
    load_dotenv: bool = False  # read the repo's .env (never for tests: CI must not depend on it)


PROFILES: dict[str, Profile] = {
    "run": Profile(
        name="run",
        settings="pubkyproject.settings.local",
        requirements="requirements-embedded.txt",
        pg=PortSpec("PG_PORT", 15432, "PostgreSQL"),
        valkey=PortSpec("VALKEY_PORT", 16379, "Valkey"),
        web=PortSpec("PORT", 8000, "the web server"),
        testnet=(
            PortSpec("TESTNET_RELAY_PORT", 15411, "testnet relay", "--relay-port"),
            PortSpec("TESTNET_HOMESERVER_PORT", 6286, "testnet homeserver", "--homeserver-port"),
            PortSpec("TESTNET_HTTP_RELAY_PORT", 15412, "testnet HTTP relay", "--http-relay-port"),
            PortSpec("TESTNET_ADMIN_PORT", 6288, "testnet homeserver admin", "--admin-port"),
        ),
        load_dotenv=True,
    ),
    "test": Profile(
        name="test",
        settings="pubkyproject.settings.test",
        requirements="requirements-dev.txt",
        pg=PortSpec("TEST_PG_PORT", 25432, "the test PostgreSQL"),
        valkey=PortSpec("TEST_VALKEY_PORT", 26379, "the test Valkey"),
        fast_pg=True,
    ),
}
