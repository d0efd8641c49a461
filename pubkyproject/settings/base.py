"""Settings shared by every environment; all values come from the environment.

Environment modules (local, test, production) only override. Secrets have no default here:
``local`` and ``test`` supply development values, ``production`` insists on real ones.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from pubkyproject.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_optional,
    env_str,
    env_url_list,
    parse_database_url,
    parse_encryption_key,
    parse_redis_url,
)
from pubkyproject.redis_clients import (
    RedisConfig,
    check_sentinel_settings,
    parse_sentinels,
    sharded_channel_layer_hosts,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "auditlog",
    "channels",
    "families",
    "domains",
    "guardians",
    "realtime",
    # The composition root (demo data, service-wide metrics): above every app.
    "pubkyproject.apps.ProjectConfig",
]

MIDDLEWARE = [
    # Probes and /metrics answer before host checks and the SSL redirect (pubkyproject/probes.py)
    "pubkyproject.probes.ProbeMiddleware",
    "pubkyproject.observability.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from the app in every mode (admin, API docs, dashboard)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
]

ROOT_URLCONF = "pubkyproject.urls"
ASGI_APPLICATION = "pubkyproject.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data stores ---------------------------------------------------------------------------

_db = parse_database_url(env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:54329/pubky"))
_app_name = env_str("DATABASE_APPLICATION_NAME", "pubky-django")
if not _app_name.startswith("pubky-django"):
    # The NOTIFY triggers recognise Django's own writes by this prefix (realtime migration 0003).
    raise ImproperlyConfigured(
        "DATABASE_APPLICATION_NAME must start with 'pubky-django' (the change triggers skip "
        "those sessions so Django's own writes are not published twice)"
    )
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _db.name,
        "USER": _db.user,
        # DATABASE_PASSWORD (or DATABASE_PASSWORD_FILE, a compose secret) wins over the URL's.
        "PASSWORD": env_optional("DATABASE_PASSWORD") or _db.password,
        "HOST": _db.host,
        "PORT": _db.port,
        # Keep connections open between requests and consumer calls: opening one costs more
        # than most queries (production uses the psycopg pool instead).
        "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            **_db.options,
            # The NOTIFY triggers skip writes made by this application name, so a change made
            # through Django is published by the ORM path only, never twice (see
            # realtime/migrations/0003_notify_triggers.py).
            "application_name": _app_name,
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis / Valkey: direct or through Sentinel ------------------------------------------------
# Every client (channel layer, cache, publisher, connection registry) is built from these by
# pubkyproject/redis_clients.py. With REDIS_SENTINELS + REDIS_SENTINEL_MASTER, connections go
# to whichever node the sentinels name primary, and REDIS_URL is not used.

REDIS_URL = parse_redis_url(env_str("REDIS_URL", "redis://127.0.0.1:63799/0"))
REDIS_SENTINELS = parse_sentinels(env_list("REDIS_SENTINELS"))
REDIS_SENTINEL_MASTER = env_optional("REDIS_SENTINEL_MASTER")
check_sentinel_settings(REDIS_SENTINELS, REDIS_SENTINEL_MASTER)
REDIS_DB = env_int("REDIS_DB", 0, minimum=0)
REDIS_USERNAME = env_optional("REDIS_USERNAME")
REDIS_PASSWORD = env_optional("REDIS_PASSWORD")
REDIS_SENTINEL_USERNAME = env_optional("REDIS_SENTINEL_USERNAME")
REDIS_SENTINEL_PASSWORD = env_optional("REDIS_SENTINEL_PASSWORD")
_redis = RedisConfig(
    url=REDIS_URL,
    sentinels=tuple(REDIS_SENTINELS),
    master=REDIS_SENTINEL_MASTER or "",
    db=REDIS_DB,
    username=REDIS_USERNAME,
    password=REDIS_PASSWORD,
    sentinel_username=REDIS_SENTINEL_USERNAME,
    sentinel_password=REDIS_SENTINEL_PASSWORD,
)

CACHES = {
    "default": {
        "BACKEND": "pubkyproject.redis_clients.RedisCache",
        "LOCATION": _redis.describe(),
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "pubky"),
        "TIMEOUT": env_int("CACHE_DEFAULT_TIMEOUT", 300, minimum=1),
    }
}

# The pub/sub layer has no per-channel capacity to overflow (the list-based RedisChannelLayer
# silently drops group messages past `capacity`); what it loses while Redis is down, the outbox
# and `since` recover. CHANNEL_LAYER=redis selects the stock layer (used by the benchmarks).
_LAYERS = {
    "pubsub": ("channels_redis.pubsub.RedisPubSubChannelLayer", {}),
    "redis": (
        "channels_redis.core.RedisChannelLayer",
        {"capacity": env_int("CHANNEL_LAYER_CAPACITY", 100, minimum=1), "expiry": 60},
    ),
}
_layer_name = env_str("CHANNEL_LAYER", "pubsub")
if _layer_name not in _LAYERS:
    raise ImproperlyConfigured(f"CHANNEL_LAYER must be one of {', '.join(_LAYERS)}")
# CHANNEL_LAYER_SHARDS: several Redis servers (URLs, or master names with Sentinel) to spread
# the topics over (pubkyproject/redis_clients.py); empty = the one Redis above.
CHANNEL_LAYER_SHARDS = env_list("CHANNEL_LAYER_SHARDS")
# redis-py 8 defaults socket_timeout to 5 s, the same as the list layer's blocking BZPOPMIN:
# idle consumers would crash with "Timeout reading". Give reads a margin over the block time.
_LAYER_HOSTS = {
    "pubsub": sharded_channel_layer_hosts(_redis, CHANNEL_LAYER_SHARDS),
    "redis": sharded_channel_layer_hosts(_redis, CHANNEL_LAYER_SHARDS, socket_timeout=15),
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": _LAYERS[_layer_name][0],
        "CONFIG": {
            "hosts": _LAYER_HOSTS[_layer_name],
            "prefix": env_str("CHANNEL_LAYER_PREFIX", "pubky"),
            **_LAYERS[_layer_name][1],
        },
    }
}

# --- Replicated workers (pubkyproject/leader.py) ------------------------------------------------
# Copies of a looping worker elect a leader with a PostgreSQL advisory lock; standbys try to
# take over this often, and a leader whose host vanished loses the lock within about the
# keepalive time.
WORKER_LEADER_POLL_SECONDS = env_float("WORKER_LEADER_POLL_SECONDS", 5.0, minimum=0.05)
WORKER_LEADER_KEEPALIVE_SECONDS = env_int("WORKER_LEADER_KEEPALIVE_SECONDS", 30, minimum=3)

# --- Auth ------------------------------------------------------------------------------------

AUTH_USER_MODEL = "families.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

# --- Secrets (no defaults here; see local/test/production) -----------------------------------

_secret = env_optional("SECRET_KEY")
SECRET_KEY: str = _secret or ""
_enc = env_optional("PUBKY_KEY_ENCRYPTION_KEY")
PUBKY_KEY_ENCRYPTION_KEY: bytes | None = parse_encryption_key(_enc) if _enc else None
# Extra keys accepted for decryption only, so a key rotation rolls out without downtime:
# give every process the new key here, rotate, then swap it into PUBKY_KEY_ENCRYPTION_KEY.
PUBKY_KEY_DECRYPTION_KEYS: list[bytes] = [
    parse_encryption_key(value, var="PUBKY_KEY_DECRYPTION_KEYS")
    for value in env_list("PUBKY_KEY_DECRYPTION_KEYS")
]

# --- Pubky -------------------------------------------------------------------------------------

PUBKY_TESTNET = env_bool("PUBKY_TESTNET", False)
PUBKY_RELAYS = env_url_list("PUBKY_RELAYS", ["http://127.0.0.1:15411"])
PUBKY_HOMESERVER = env_str(
    "PUBKY_HOMESERVER", "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"
)
PUBKY_HOMESERVER_URL = env_str("PUBKY_HOMESERVER_URL", "http://127.0.0.1:6286").rstrip("/")
PUBKY_SIGNUP_TOKEN = env_optional("PUBKY_SIGNUP_TOKEN")
PUBKY_HTTP_TIMEOUT = env_float("PUBKY_HTTP_TIMEOUT", 5.0, minimum=0.1)
PUBKY_REPUBLISH_BEFORE_EXPIRY = env_int("PUBKY_REPUBLISH_BEFORE_EXPIRY", 3600, minimum=0)
PUBKY_DNS_RESOLVERS = env_list("PUBKY_DNS_RESOLVERS", [])
PUBKY_RELAY_CHECK_INTERVAL = env_int("PUBKY_RELAY_CHECK_INTERVAL", 60, minimum=1)
# check_relays keeps every probe this many days (uptime and latency history), then prunes it.
PUBKY_RELAY_HISTORY_DAYS = env_int("PUBKY_RELAY_HISTORY_DAYS", 7, minimum=1)
# A domain is rescored this long after the first change of a burst to its facts, once for the
# whole burst (domains/services/rescoring.py; pubky_listen does it).
RESCORE_DEBOUNCE_SECONDS = env_float("RESCORE_DEBOUNCE_SECONDS", 1.0, minimum=0.0)

# Proof of key possession (pubkyauth): the HTTP relay the deep links name (its /link base),
# how long a request waits for approval, how long a proven proof may attach a key, and how
# long reading a pending proof may wait on the relay (0: leave it to receive_key_proofs).
_http_relay = env_url_list("PUBKY_HTTP_RELAY_URL", ["http://127.0.0.1:15412/link"])
if len(_http_relay) != 1:
    raise ImproperlyConfigured("PUBKY_HTTP_RELAY_URL must be one http(s) URL (e.g. …/link)")
PUBKY_HTTP_RELAY_URL = _http_relay[0]
PUBKY_KEY_PROOF_TTL = env_int("PUBKY_KEY_PROOF_TTL", 600, minimum=30)
PUBKY_KEY_PROOF_USABLE_FOR = env_int("PUBKY_KEY_PROOF_USABLE_FOR", 86400, minimum=60)
PUBKY_KEY_PROOF_CHECK_WAIT = env_float("PUBKY_KEY_PROOF_CHECK_WAIT", 2.0, minimum=0.0)
# How often verify_facts --loop re-checks what the score believes (relays, homeservers, backups).
PUBKY_FACT_CHECK_INTERVAL = env_int("PUBKY_FACT_CHECK_INTERVAL", 300, minimum=5)

# `manage.py seed_demo` (run by ./scripts/run) also creates demo domains and guardians for the
# demo family; DEMO_DATA=0 creates only the demo user and family.
DEMO_DATA = env_bool("DEMO_DATA", True)

# --- Realtime limits -------------------------------------------------------------------------

REALTIME = {
    "MAX_SUBSCRIPTIONS_PER_CONNECTION": env_int("WS_MAX_SUBSCRIPTIONS", 100, minimum=1),
    "MAX_CONNECTIONS_PER_USER": env_int("WS_MAX_CONNECTIONS_PER_USER", 20, minimum=1),
    "RATE_LIMIT_PER_SECOND": env_float("WS_RATE_LIMIT_PER_SECOND", 20.0, minimum=0.1),
    "RATE_LIMIT_BURST": env_int("WS_RATE_LIMIT_BURST", 40, minimum=1),
    "RATE_LIMIT_STRIKES_BEFORE_CLOSE": env_int("WS_RATE_LIMIT_STRIKES", 20, minimum=1),
    "MAX_MESSAGE_BYTES": env_int("WS_MAX_MESSAGE_BYTES", 64 * 1024, minimum=256),
    "HEARTBEAT_SECONDS": env_int("WS_HEARTBEAT_SECONDS", 30, minimum=1),
    "OUTBOX_RETENTION_SECONDS": env_int("OUTBOX_RETENTION_SECONDS", 24 * 3600, minimum=60),
    "CONTENT_CACHE_TTL": env_int("PUBKY_CONTENT_CACHE_TTL", 300, minimum=1),
    # Connections per web process for the reads the WebSocket path runs on the event loop
    # itself (pubkyproject/async_db.py: each new socket's principal).
    "DB_POOL_SIZE": env_int("WS_DB_POOL_SIZE", 4, minimum=1),
    # How often each process's hub checks its topics against the outbox for events the Redis
    # transport lost at the end of a burst (realtime/hub.py).
    "CATCH_UP_SECONDS": env_float("WS_CATCH_UP_SECONDS", 2.0, minimum=0.1),
    # A socket's own send queue (frames the server has not taken yet: uvicorn pushes back once
    # its transport buffer is full); a reader that lets it fill past either bound is closed with
    # 4408 and resumes with `since`.
    "SEND_QUEUE_FRAMES": env_int("WS_SEND_QUEUE_FRAMES", 1000, minimum=10),
    "SEND_QUEUE_BYTES": env_int("WS_SEND_QUEUE_BYTES", 1024 * 1024, minimum=64 * 1024),
    # New sockets, per web process: connection attempts per client address, and sockets that
    # have not signed in yet (per address and in all) and how long they may take to.
    "CONNECT_RATE_PER_ADDRESS": env_float("WS_CONNECT_RATE_PER_ADDRESS", 20.0, minimum=0.1),
    "CONNECT_BURST_PER_ADDRESS": env_int("WS_CONNECT_BURST_PER_ADDRESS", 40, minimum=1),
    "MAX_UNAUTHENTICATED_PER_ADDRESS": env_int("WS_MAX_UNAUTHENTICATED_PER_ADDRESS", 20, minimum=1),
    "MAX_UNAUTHENTICATED": env_int("WS_MAX_UNAUTHENTICATED", 1000, minimum=1),
    "AUTH_TIMEOUT_SECONDS": env_float("WS_AUTH_TIMEOUT_SECONDS", 10.0, minimum=0.5),
    # The server process's garbage collector (pubkyproject/heap.py): long-lived objects are
    # frozen every GC_FREEZE_SECONDS so collections stop walking every open socket; frozen
    # cycles are reclaimed once the sockets opened and closed since the last reclaim reach
    # GC_RECLAIM_GROWTH of those open (or the frozen heap grew that much and
    # GC_RECLAIM_SECONDS passed).
    "GC_FREEZE": env_bool("WS_GC_FREEZE", True),
    "GC_FREEZE_SECONDS": env_float("WS_GC_FREEZE_SECONDS", 1.0, minimum=0.1),
    "GC_RECLAIM_GROWTH": env_float("WS_GC_RECLAIM_GROWTH", 0.25, minimum=0.05),
    "GC_RECLAIM_SECONDS": env_float("WS_GC_RECLAIM_SECONDS", 900.0, minimum=10.0),
    # …but full collections take at most this share of the process's time (a storm of
    # connections waits for the next one instead of collecting at every quarter).
    "GC_RECLAIM_BUDGET": env_float("WS_GC_RECLAIM_BUDGET", 0.1, minimum=0.01, maximum=1.0),
}

# --- API -------------------------------------------------------------------------------------

# Request limits (pubkyproject/api/limits.py): a larger body answers 413, deeper JSON 400.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 32, minimum=2)
# Django's own form parsing (admin, session login) keeps to the same bound.
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": [
        "pubkyproject.api.parsers.BoundedJSONParser",
        "pubkyproject.api.parsers.BoundedFormParser",
        "pubkyproject.api.parsers.BoundedMultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "pubkyproject.api.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 50, minimum=1),
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "60/min"),
        "user": env_str("API_THROTTLE_USER", "1200/min"),
        "login": env_str("API_THROTTLE_LOGIN", "10/min"),
    },
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env_int("JWT_ACCESS_SECONDS", 300, minimum=10)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env_int("JWT_REFRESH_SECONDS", 86400, minimum=60)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    # The API's input limits on the token endpoints too (pubkyproject/api/tokens.py).
    "TOKEN_OBTAIN_SERIALIZER": "pubkyproject.api.tokens.BoundedTokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "pubkyproject.api.tokens.BoundedTokenRefreshSerializer",
    "TOKEN_VERIFY_SERIALIZER": "pubkyproject.api.tokens.BoundedTokenVerifySerializer",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Pubky domain service API",
    "DESCRIPTION": "Families manage their domains on Pubky, the public-key domain system.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status" (and two role sets a "role"): name each choice set once.
    # Swagger UI and Redoc from pinned copies served with the static files: no CDN, works offline
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI would send the schema to validator.swagger.io for a badge
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {
        "DomainStatusEnum": "domains.models.DomainStatus",
        "PubkyDomainStatusEnum": "domains.models.PubkyDomainStatus",
        "PkarrPublishStatusEnum": "domains.models.PkarrPublishStatus",
        "MigrationStateEnum": "domains.models.MigrationState",
        "GuardianStatusEnum": "guardians.models.GuardianStatus",
        "BackupStatusEnum": "guardians.models.BackupStatus",
        "FamilyRoleEnum": "families.models.FamilyRole",
        "MemberRoleEnum": "families.apis.common.MEMBER_ROLES",
        "KeyVerificationEnum": "families.models.KeyVerification",
        "KeyProofStatusEnum": "families.models.KeyProofStatus",
    },
}

# --- Audit -----------------------------------------------------------------------------------

AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_DISABLE_REMOTE_ADDR = False

# --- i18n / static -----------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# WhiteNoise serves static files from the app itself. Locally and in tests it reads them where
# the apps keep them (no collectstatic step); production serves the copies collected into
# STATIC_ROOT, hashed and compressed (settings/production.py).
STATIC_ROOT: Path | None = (
    Path(_static_root) if (_static_root := env_optional("STATIC_ROOT")) else None
)
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)
# Unhashed names outside production: browsers revalidate (ETag → 304), so an edit shows at once.
WHITENOISE_MAX_AGE = 0
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Health, metrics, logs ---------------------------------------------------------------------

# /readyz fails while the oldest change waiting for the outbox (queued by the NOTIFY triggers
# for pubky_listen) is older than this many seconds; 0 switches the check off.
READYZ_MAX_OUTBOX_LAG_SECONDS = env_int("READYZ_MAX_OUTBOX_LAG_SECONDS", 300, minimum=0)
# Each dependency check of /readyz gives up after this long.
READYZ_TIMEOUT_SECONDS = env_float("READYZ_TIMEOUT_SECONDS", 2.0, minimum=0.1)
# /metrics answers a request that carries `Authorization: Bearer <METRICS_TOKEN>` or comes from
# an address in METRICS_ALLOWED_IPS (addresses or networks); everything else gets 403/404.
METRICS_TOKEN = env_optional("METRICS_TOKEN")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])
for _network in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS must list IP addresses or networks, got {_network!r}"
        ) from None
# LOG_FORMAT=json writes one JSON object per line (production's default), with the request id,
# user id and socket id of the request or socket that logged it.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "pubkyproject.observability.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s%(context)s"},
        "json": {"()": "pubkyproject.observability.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # uvicorn set up its own plain handlers before loading the app; these replace them, so
        # its lines are formatted (JSON in production) like every other.
        "uvicorn": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
