"""The Redis settings (direct or Sentinel) and the clients built from them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from pubkyproject.redis_clients import (
    RedisConfig,
    channel_layer_hosts,
    parse_sentinels,
    sync_client,
)
from tests.foundation.test_configuration import (
    _assert_one_line_error,
    _base_env,
    _production_env,
)
from tests.helpers import run_manage_env


def test_sentinels_are_host_port_pairs() -> None:
    assert parse_sentinels(["10.0.0.1:26379", "sentinel-2:26380", "[::1]:26381"]) == [
        ("10.0.0.1", 26379),
        ("sentinel-2", 26380),
        ("::1", 26381),
    ]


@pytest.mark.parametrize("bad", ["sentinel-1", "sentinel-1:port", "redis://h:1", ":26379"])
def test_a_malformed_sentinel_is_refused(bad: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="REDIS_SENTINELS"):
        parse_sentinels([bad])


def test_a_malformed_sentinel_setting_stops_with_one_line() -> None:
    env = _base_env(REDIS_SENTINELS="127.0.0.1", REDIS_SENTINEL_MASTER="pubky")
    _assert_one_line_error(run_manage_env("check", env=env), "REDIS_SENTINELS")


def test_sentinels_without_the_master_name_stop_with_one_line() -> None:
    env = _base_env(REDIS_SENTINELS="127.0.0.1:26379")
    _assert_one_line_error(run_manage_env("check", env=env), "REDIS_SENTINEL_MASTER")
    env = _base_env(REDIS_SENTINEL_MASTER="pubky")
    _assert_one_line_error(run_manage_env("check", env=env), "REDIS_SENTINELS")


def test_production_accepts_sentinels_instead_of_a_redis_url() -> None:
    env = _production_env(
        REDIS_URL="", REDIS_SENTINELS="127.0.0.1:26379", REDIS_SENTINEL_MASTER="pubky"
    )
    result = run_manage_env("check", env=env)
    assert result.returncode == 0, result.stderr
    result = run_manage_env("check", env=_production_env(REDIS_URL=""))
    _assert_one_line_error(result, "REDIS_URL")


def test_channel_layer_hosts_take_the_forms_channels_redis_understands() -> None:
    direct = RedisConfig(url="redis://cache:6379/2", password="pw")
    assert channel_layer_hosts(direct) == [{"address": "redis://cache:6379/2", "password": "pw"}]
    sentinel = RedisConfig(
        url="redis://unused:1/0",
        sentinels=(("s1", 26379), ("s2", 26379)),
        master="pubky",
        db=3,
        password="pw",
        sentinel_password="spw",
    )
    (host,) = channel_layer_hosts(sentinel, socket_timeout=15)
    assert host["sentinels"] == [["s1", 26379], ["s2", 26379]]
    assert host["master_name"] == "pubky"
    assert host["db"] == 3 and host["password"] == "pw" and host["socket_timeout"] == 15
    assert host["sentinel_kwargs"]["password"] == "spw"


def test_the_description_names_the_server_and_never_the_password() -> None:
    direct = RedisConfig(url="redis://user:secret@cache:6379/2")
    assert direct.describe() == "redis://cache:6379/2"
    sentinel = RedisConfig(
        url="redis://x:1/0", sentinels=(("s1", 26379),), master="pubky", password="secret"
    )
    assert "secret" not in sentinel.describe()
    assert sentinel.describe() == "sentinel pubky via s1:26379 (db 0)"


def test_a_direct_client_uses_the_configured_server(settings) -> None:
    client = sync_client()
    assert client.ping()
    assert client.connection_pool.connection_kwargs["port"] == int(
        settings.REDIS_URL.rsplit(":", 1)[1].split("/")[0]
    )
