"""Every Redis/Valkey connection of the service is built here, from one set of settings.

Two ways to reach Redis:

- **Direct**: ``REDIS_URL`` (``redis://``, ``rediss://`` or ``unix://``, with the user and
  password in the URL or in ``REDIS_USERNAME`` / ``REDIS_PASSWORD``).
- **Sentinel**: ``REDIS_SENTINELS`` (``host:port,host:port,…``) and ``REDIS_SENTINEL_MASTER``
  (the name the sentinels monitor). Every connection asks the sentinels for the current
  primary, so after a failover new connections go to the promoted replica; sentinels demote
  the old primary by closing its clients, which then reconnect the same way. ``REDIS_DB``,
  ``REDIS_USERNAME`` and ``REDIS_PASSWORD`` apply to the primary, ``REDIS_SENTINEL_USERNAME``
  / ``REDIS_SENTINEL_PASSWORD`` to the sentinels themselves (when they require auth).
  ``REDIS_URL`` is then not used.

**Sharding the channel layer** (optional): ``CHANNEL_LAYER_SHARDS`` lists several Redis
servers (``redis://…`` URLs; with Sentinel, the master names the same sentinels monitor) that
carry the realtime events between web processes. channels-redis spreads the topics over them
by a consistent hash of the topic's channel name, and the publisher (``realtime.transport``)
uses the same hash, so each topic lives on exactly one shard. Only the channel layer is
sharded: the cache and the connection registry stay on ``REDIS_URL`` (or the sentinels'
``REDIS_SENTINEL_MASTER``). Every process must list the same shards in the same order.

Users of this module: the channel layer (:func:`channel_layer_hosts`, in settings), the Django
cache (:class:`RedisCache`, in settings), the synchronous publisher
(``realtime.transport``: :func:`client_for_layer_host`), the per-user connection registry
(``realtime.limits``: :func:`async_pool`), and anything else that needs a client
(:func:`sync_client`, e.g. a readiness check).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as aiosentinel
import redis.sentinel
from django.conf import settings
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from pubkyproject.env import parse_redis_url

# How long to wait for one sentinel before asking the next: a dead sentinel must not hold up
# finding the primary.
SENTINEL_TIMEOUT = 1.0


@dataclass(frozen=True)
class RedisConfig:
    """Where Redis is and how to authenticate, as the settings describe it."""

    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None

    @property
    def uses_sentinel(self) -> bool:
        return bool(self.sentinels)

    def describe(self) -> str:
        """Where Redis is, without secrets (for logs and health reports)."""
        if self.uses_sentinel:
            nodes = ",".join(f"{host}:{port}" for host, port in self.sentinels)
            return f"sentinel {self.master} via {nodes} (db {self.db})"
        parts = urlsplit(self.url)
        if parts.scheme == "unix":
            return f"unix:{parts.path}"
        return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"

    def auth_kwargs(self) -> dict[str, Any]:
        """Credentials for the data connections (a URL's own credentials win over these)."""
        kwargs: dict[str, Any] = {}
        if self.username:
            kwargs["username"] = self.username
        if self.password:
            kwargs["password"] = self.password
        return kwargs

    def sentinel_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "socket_timeout": SENTINEL_TIMEOUT,
            "socket_connect_timeout": SENTINEL_TIMEOUT,
        }
        if self.sentinel_username:
            kwargs["username"] = self.sentinel_username
        if self.sentinel_password:
            kwargs["password"] = self.sentinel_password
        return kwargs


def parse_sentinels(items: list[str], *, var: str = "REDIS_SENTINELS") -> list[tuple[str, int]]:
    """``["host:port", "[::1]:26379", …]`` as ``(host, port)`` pairs; a bad one is a clear error."""
    nodes: list[tuple[str, int]] = []
    for item in items:
        try:
            parts = urlsplit(f"//{item}")
            host, port = parts.hostname, parts.port
        except ValueError:
            host, port = None, None
        if not host or port is None or parts.path or parts.username:
            raise ImproperlyConfigured(
                f"{var} must list sentinels as host:port separated by commas, got {item!r}"
            )
        nodes.append((host, port))
    return nodes


def check_sentinel_settings(
    sentinels: list[tuple[str, int]], master: str | None, *, var: str = "REDIS_SENTINEL_MASTER"
) -> None:
    if sentinels and not master:
        raise ImproperlyConfigured(
            f"{var} is required with REDIS_SENTINELS (the name the sentinels monitor)"
        )
    if master and not sentinels:
        raise ImproperlyConfigured(f"{var} is set but REDIS_SENTINELS lists no sentinel")


def redis_config() -> RedisConfig:
    """The configuration in the current settings (read at each call: tests override it)."""
    return RedisConfig(
        url=settings.REDIS_URL,
        sentinels=tuple((str(host), int(port)) for host, port in settings.REDIS_SENTINELS),
        master=settings.REDIS_SENTINEL_MASTER or "",
        db=settings.REDIS_DB,
        username=settings.REDIS_USERNAME,
        password=settings.REDIS_PASSWORD,
        sentinel_username=settings.REDIS_SENTINEL_USERNAME,
        sentinel_password=settings.REDIS_SENTINEL_PASSWORD,
    )


# --- connection pools and clients -------------------------------------------------------------


def sync_pool(config: RedisConfig | None = None, **options: Any) -> redis.ConnectionPool:
    """A connection pool to the (current) primary; ``options`` go to every connection."""
    config = config or redis_config()
    if config.uses_sentinel:
        manager = redis.sentinel.Sentinel(
            list(config.sentinels), sentinel_kwargs=config.sentinel_kwargs()
        )
        return redis.sentinel.SentinelConnectionPool(
            config.master, manager, db=config.db, **config.auth_kwargs(), **options
        )
    return redis.ConnectionPool.from_url(config.url, **config.auth_kwargs(), **options)


def sync_client(config: RedisConfig | None = None, **options: Any) -> redis.Redis:
    """A client of the primary with its own pool (keep it: it is meant to be reused)."""
    return redis.Redis.from_pool(sync_pool(config, **options))


def async_pool(config: RedisConfig | None = None, **options: Any) -> aioredis.ConnectionPool:
    """An asyncio connection pool to the (current) primary, for the running event loop."""
    config = config or redis_config()
    if config.uses_sentinel:
        manager = aiosentinel.Sentinel(
            list(config.sentinels), sentinel_kwargs=config.sentinel_kwargs()
        )
        return aiosentinel.SentinelConnectionPool(
            config.master, manager, db=config.db, **config.auth_kwargs(), **options
        )
    return aioredis.ConnectionPool.from_url(config.url, **config.auth_kwargs(), **options)


# --- the channel layer ------------------------------------------------------------------------


def channel_layer_hosts(config: RedisConfig, **options: Any) -> list[dict[str, Any]]:
    """``CONFIG["hosts"]`` for channels-redis (either layer), in the forms it understands:
    ``{"address": url, …}`` or ``{"sentinels": […], "master_name": …, "sentinel_kwargs": …}``.
    """
    if config.uses_sentinel:
        host: dict[str, Any] = {
            "sentinels": [list(node) for node in config.sentinels],
            "master_name": config.master,
            "sentinel_kwargs": config.sentinel_kwargs(),
            "db": config.db,
        }
    else:
        host = {"address": config.url}
    return [{**host, **config.auth_kwargs(), **options}]


def channel_layer_shards(
    config: RedisConfig, shards: list[str], *, var: str = "CHANNEL_LAYER_SHARDS"
) -> list[RedisConfig]:
    """One configuration per channel-layer shard: ``config`` itself when ``shards`` is empty,
    else ``config`` pointed at each listed server (a ``redis://`` URL each, or with Sentinel a
    master name each). Credentials, database and sentinels are shared by all shards."""
    if not shards:
        return [config]
    if len(set(shards)) != len(shards):
        raise ImproperlyConfigured(f"{var} lists the same shard twice: {', '.join(shards)}")
    if config.uses_sentinel:
        for name in shards:
            if not name or "/" in name or ":" in name:
                raise ImproperlyConfigured(
                    f"{var} must list master names (as the sentinels in REDIS_SENTINELS know "
                    f"them) when REDIS_SENTINELS is set, got {name!r}"
                )
        return [replace(config, master=name) for name in shards]
    return [replace(config, url=parse_redis_url(url, var=var)) for url in shards]


def sharded_channel_layer_hosts(
    config: RedisConfig, shards: list[str], **options: Any
) -> list[dict[str, Any]]:
    """``CONFIG["hosts"]`` with one entry per shard (see :func:`channel_layer_shards`)."""
    return [
        host
        for shard in channel_layer_shards(config, shards)
        for host in channel_layer_hosts(shard, **options)
    ]


def client_for_layer_host(host: str | dict[str, Any], **options: Any) -> redis.Redis:
    """A synchronous client for one channel-layer host entry (the same server the layer uses)."""
    if isinstance(host, str):
        return redis.Redis.from_url(host, **options)
    entry = dict(host)
    if "address" in entry:
        return redis.Redis.from_url(entry.pop("address"), **{**entry, **options})
    if "master_name" in entry:
        master = entry.pop("master_name")
        sentinels = [tuple(node) for node in entry.pop("sentinels")]
        manager = redis.sentinel.Sentinel(
            sentinels, sentinel_kwargs=entry.pop("sentinel_kwargs", None)
        )
        pool = redis.sentinel.SentinelConnectionPool(master, manager, **{**entry, **options})
        return redis.Redis.from_pool(pool)
    return redis.Redis(**{**entry, **options})


# --- the Django cache ----------------------------------------------------------------------------


class _CacheClient(RedisCacheClient):
    """Django's Redis cache client, with its one pool built by :func:`sync_pool`."""

    def __init__(
        self,
        servers: list[str],
        serializer: Any = None,
        pool_class: Any = None,
        parser_class: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(servers, serializer, pool_class, parser_class, **options)
        # OPTIONS of the cache (other than the serializer and pool class) go to every connection.
        if isinstance(parser_class, str):
            parser_class = import_string(parser_class)
        self._connection_options = {"parser_class": parser_class, **options}
        self._pool: redis.ConnectionPool | None = None

    def _get_connection_pool(self, write: bool) -> redis.ConnectionPool:
        if self._pool is None:
            options = {k: v for k, v in self._connection_options.items() if v is not None}
            self._pool = sync_pool(**options)
        return self._pool


class RedisCache(DjangoRedisCache):
    """``django.core.cache.backends.redis.RedisCache`` that reaches Redis like everything else
    here (direct or through Sentinel). ``LOCATION`` is informative only."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _CacheClient
