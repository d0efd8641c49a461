"""Probes and metrics of a real server process (uvicorn, the default) with real sockets."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
import requests
from asgiref.sync import sync_to_async
from prometheus_client.parser import text_string_to_metric_families

from domains.models import RelayStatus
from tests.factories import UserFactory
from tests.realtime.conftest import connect, subprocess_env, token_for
from tests.servers import process_group, restart_valkey, valkey_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The relay the test settings configure (PUBKY_RELAYS' default).
RELAY = "http://127.0.0.1:15411"
TOKEN = "metrics-token-for-tests"

NAMED_SERIES = {
    "pubky_websocket_connections",
    "pubky_websocket_subscriptions",
    "pubky_events_published",
    "pubky_events_delivered",
    "pubky_events_dropped",
    "pubky_events_replayed",
    "pubky_hub_gaps_filled",
    "pubky_outbox_lag_seconds",
    "pubky_notify_backlog",
    "pubky_relay_up",
    "pubky_relay_latency_seconds",
    "pubky_key_proofs",
    "pubky_domain_migrations",
    "pubky_http_request_duration_seconds",
}

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def scrape(port: int) -> Samples:
    response = requests.get(
        f"http://127.0.0.1:{port}/metrics",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        samples.setdefault(family.name, {})
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def _relay_change(latency: float) -> int:
    relay, _ = RelayStatus.objects.update_or_create(
        url=RELAY, defaults={"is_up": True, "latency_ms": latency}
    )
    return relay.pk


async def test_metrics_expose_the_named_series_and_they_move_when_events_flow(e2e) -> None:
    # No address is allowed: only the token opens /metrics.
    web = e2e.uvicorn("web", env={"METRICS_TOKEN": TOKEN, "METRICS_ALLOWED_IPS": ""})
    assert web.port is not None
    denied = await asyncio.to_thread(
        requests.get, f"http://127.0.0.1:{web.port}/metrics", timeout=10
    )
    assert denied.status_code == 403
    before = await asyncio.to_thread(scrape, web.port)
    assert set(before) >= NAMED_SERIES, NAMED_SERIES - set(before)

    user = await sync_to_async(UserFactory)()
    token = token_for(user)
    api = await asyncio.to_thread(
        requests.get,
        f"http://127.0.0.1:{web.port}/api/relays/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert api.status_code == 200
    live = await connect(web.port, token)
    await live.subscribe(relays=True)
    await sync_to_async(_relay_change)(2.5)
    first = await live.expect("pubky_relay_status")
    for latency in (3.5, 4.5):
        await sync_to_async(_relay_change)(latency)
        await live.expect("pubky_relay_status")
    resuming = await connect(web.port, token)
    reply = await resuming.subscribe(relays=True, since=first["event_id"])
    assert reply["data"]["replayed"] == 2
    for _ in range(2):
        await resuming.expect("pubky_relay_status")

    during = await asyncio.to_thread(scrape, web.port)
    assert value(during, "pubky_websocket_connections") == 2
    assert value(during, "pubky_websocket_subscriptions", kind="relays") == 2
    published = value(during, "pubky_events_published_total")
    assert published - value(before, "pubky_events_published_total") >= 3
    delivered = value(during, "pubky_events_delivered_total")
    assert delivered - value(before, "pubky_events_delivered_total") >= 3
    replayed = value(during, "pubky_events_replayed_total")
    assert replayed - value(before, "pubky_events_replayed_total") == 2
    assert value(during, "pubky_relay_up", relay=RELAY) == 1
    assert value(during, "pubky_relay_latency_seconds", relay=RELAY) == pytest.approx(0.0045)
    assert value(during, "pubky_notify_backlog") == 0
    assert value(during, "pubky_outbox_lag_seconds") == 0
    requests_counted = value(
        during,
        "pubky_http_request_duration_seconds_count",
        method="GET",
        route="/api/relays/",
        status="200",
    )
    assert requests_counted == 1

    await live.ws.close()
    await resuming.ws.close()
    # The server notices the closes on its own time: wait (bounded) until it has.
    for _ in range(100):
        after = await asyncio.to_thread(scrape, web.port)
        if value(after, "pubky_websocket_connections") == 0:
            break
        await asyncio.sleep(0.1)
    assert value(after, "pubky_websocket_connections") == 0
    assert value(after, "pubky_websocket_subscriptions", kind="relays") == 0


def test_readyz_fails_while_valkey_is_stopped_and_recovers(
    transactional_db: Any, settings: Any
) -> None:
    with valkey_server() as (valkey, port):
        redis_url = f"redis://127.0.0.1:{port}/0"
        layers = copy.deepcopy(settings.CHANNEL_LAYERS)
        layers["default"]["CONFIG"]["hosts"] = [redis_url]
        settings.CHANNEL_LAYERS = layers
        settings.REDIS_URL = redis_url
        env = subprocess_env(REDIS_URL=redis_url, READYZ_TIMEOUT_SECONDS="1")
        with process_group(env) as group:
            web = group.uvicorn("web")
            base = f"http://127.0.0.1:{web.port}"
            ready = requests.get(f"{base}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text

            valkey.stop()
            down = requests.get(f"{base}/readyz", timeout=15)

            assert down.status_code == 503
            checks = down.json()["checks"]
            assert checks["redis"]["status"] == "fail"
            assert checks["channel_layer"]["status"] == "fail"
            assert checks["database"]["status"] == "ok"
            # Liveness is about the process: it still answers.
            assert requests.get(f"{base}/healthz", timeout=10).status_code == 200

            valkey = restart_valkey(valkey, port)
            try:
                again = requests.get(f"{base}/readyz", timeout=15)
                assert again.status_code == 200, again.text
            finally:
                valkey.stop()
