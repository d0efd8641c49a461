"""End-to-end: two web processes (uvicorn, the default), PostgreSQL and Valkey, real clients."""

from __future__ import annotations

import asyncio
import copy
import re
from html.parser import HTMLParser

import psycopg
import pytest
import requests
from asgiref.sync import sync_to_async
from django.db import connection, transaction

from domains.models import RelayStatus
from families.models import FamilyMembership
from guardians.models import FederationGuardian
from tests.factories import DomainFactory, FamilyFactory, GuardianFactory, UserFactory
from tests.realtime.conftest import connect, subprocess_env, token_for
from tests.servers import process_group, restart_valkey, valkey_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _relay_change(url: str = "http://127.0.0.1:15411", latency: float = 1.0) -> RelayStatus:
    relay, _ = RelayStatus.objects.update_or_create(
        url=url, defaults={"is_up": True, "latency_ms": latency}
    )
    return relay


class _FormParser(HTMLParser):
    """Collects the submittable fields of the admin change form."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.fields[name] = a.get("value", "on")
            else:
                self.fields[name] = a.get("value", "") or ""
        elif tag == "select" and name:
            self._select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._textarea:
            self.fields[self._textarea] += data


def _admin_edit(port: int, username: str, path: str, changes: dict[str, str]) -> None:
    """Log in to the admin on one process and save a change form there."""
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    page = session.get(f"{base}/admin/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    session.post(
        f"{base}/admin/login/",
        data={"username": username, "password": "pw", "csrfmiddlewaretoken": csrf},
        timeout=10,
    )
    form = session.get(f"{base}{path}", timeout=10)
    assert form.status_code == 200, form.text[:500]
    parser = _FormParser()
    parser.feed(form.text)
    data = {**parser.fields, **changes}
    response = session.post(f"{base}{path}", data=data, timeout=10, allow_redirects=False)
    assert response.status_code == 302, response.text[-2000:]


async def test_a_change_saved_through_process_a_reaches_a_subscriber_on_process_b(
    two_webs,
) -> None:
    port_a, port_b = two_webs
    admin = await sync_to_async(UserFactory)(username="boss", is_staff=True, is_superuser=True)
    family = await sync_to_async(FamilyFactory)(owner=admin)
    guardian = await sync_to_async(GuardianFactory)(family=family, name="Gran")
    on_b = await connect(port_b, token_for(admin))
    on_a = await connect(port_a, token_for(admin))
    await on_b.subscribe(familyId=family.pk)
    await on_a.subscribe(familyId=family.pk)
    await sync_to_async(_admin_edit)(
        port_a,
        "boss",
        f"/admin/guardians/federationguardian/{guardian.pk}/change/",
        {"pubky_backup_status": "current"},
    )
    for client in (on_b, on_a):
        event = await client.expect("pubky_guardian_notification")
        assert event["data"]["guardian"]["backupStatus"] == "current"
        assert event["event_id"] > 0


async def test_a_rolled_back_change_reaches_no_one(two_webs) -> None:
    port_a, port_b = two_webs
    user = await sync_to_async(UserFactory)()
    clients = [await connect(p, token_for(user)) for p in (port_a, port_b)]
    for client in clients:
        await client.subscribe(relays=True)

    def rolled_back() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            _relay_change(latency=666.0)
            raise RuntimeError("abort")

    await sync_to_async(rolled_back)()
    await sync_to_async(_relay_change)(latency=7.0)
    for client in clients:
        event = await client.expect("pubky_relay_status")
        # The first event anyone sees is the committed one.
        assert event["data"]["relays"][0]["latencyMs"] == 7.0
        assert all(m["type"] != "pubky_relay_status" for m in await client.quiet(0.3))


def _raw_sql(sql: str, params: list) -> None:
    """A write from outside Django: its own connection, not the app's application_name."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
    ) as conn:
        conn.execute(sql, params)


async def test_raw_sql_changes_reach_subscribers_exactly_once(e2e) -> None:
    web = e2e.web("web")
    e2e.manage("listen", "pubky_listen", "--poll", "0.5")
    user = await sync_to_async(UserFactory)()
    client = await connect(web.port, token_for(user))
    await client.subscribe(relays=True)
    await sync_to_async(_raw_sql)(
        "INSERT INTO relay_statuses (url, is_up, latency_ms, last_error, consecutive_failures) "
        "VALUES (%s, false, 42.0, 'down', 3)",
        ["http://127.0.0.1:15499"],
    )
    event = await client.expect("pubky_relay_status", timeout=10)
    assert event["data"]["relays"][0] == {
        **event["data"]["relays"][0],
        "url": "http://127.0.0.1:15499",
        "isUp": False,
        "latencyMs": 42.0,
    }
    # A change made through Django while the bridge runs is published once, by Django.
    await sync_to_async(_relay_change)(latency=9.0)
    second = await client.expect("pubky_relay_status")
    assert second["data"]["relays"][0]["latencyMs"] == 9.0
    assert [m for m in await client.quiet(1.5) if m["type"] == "pubky_relay_status"] == []


async def test_a_client_that_missed_events_recovers_them_in_order_with_since(two_webs) -> None:
    _, port_b = two_webs
    user = await sync_to_async(UserFactory)()
    client = await connect(port_b, token_for(user))
    await client.subscribe(relays=True)
    await sync_to_async(_relay_change)(latency=1.0)
    last_seen = (await client.expect("pubky_relay_status"))["event_id"]
    await client.ws.close()
    for latency in (2.0, 3.0, 4.0, 5.0):
        await sync_to_async(_relay_change)(latency=latency)
    client = await connect(port_b, token_for(user))
    reply = await client.subscribe(relays=True, since=last_seen)
    assert reply["data"]["recovered"] is True
    assert reply["data"]["replayed"] == 4
    got = [await client.expect("pubky_relay_status") for _ in range(4)]
    assert [m["data"]["relays"][0]["latencyMs"] for m in got] == [2.0, 3.0, 4.0, 5.0]
    ids = [m["event_id"] for m in got]
    assert ids == sorted(ids) and ids[0] > last_seen
    # …and it is live again afterwards.
    await sync_to_async(_relay_change)(latency=6.0)
    assert (await client.expect("pubky_relay_status"))["data"]["relays"][0]["latencyMs"] == 6.0


async def test_since_recovers_events_lost_while_valkey_restarted(
    transactional_db, settings
) -> None:
    with valkey_server() as (valkey, port):
        redis_url = f"redis://127.0.0.1:{port}/0"
        layers = copy.deepcopy(settings.CHANNEL_LAYERS)
        layers["default"]["CONFIG"]["hosts"] = [redis_url]
        settings.CHANNEL_LAYERS = layers  # restored after the test by the settings fixture
        settings.REDIS_URL = redis_url
        with process_group(subprocess_env(REDIS_URL=redis_url)) as group:
            web = group.web("web")
            user = await sync_to_async(UserFactory)()
            client = await connect(web.port, token_for(user))
            await client.subscribe(relays=True)
            await sync_to_async(_relay_change)(latency=1.0)
            last_seen = (await client.expect("pubky_relay_status"))["event_id"]
            valkey.stop()
            # Published while Redis is down: in the outbox, lost on the wire.
            for latency in (2.0, 3.0):
                await sync_to_async(_relay_change)(latency=latency)
            valkey = restart_valkey(valkey, port)
            await client.ws.close()
            client = await connect(web.port, token_for(user))
            reply = await client.subscribe(relays=True, since=last_seen)
            assert reply["data"]["recovered"] is True
            got = [await client.expect("pubky_relay_status") for _ in range(2)]
            assert [m["data"]["relays"][0]["latencyMs"] for m in got] == [2.0, 3.0]
            await sync_to_async(_relay_change)(latency=4.0)
            live = await client.expect("pubky_relay_status", timeout=10)
            assert live["data"]["relays"][0]["latencyMs"] == 4.0
            valkey.stop()


async def test_a_foreign_domain_answers_like_a_missing_one_and_revoked_access_ends_a_subscription(
    two_webs,
) -> None:
    port_a, _ = two_webs
    stranger = await sync_to_async(UserFactory)()
    member = await sync_to_async(UserFactory)()
    family = await sync_to_async(FamilyFactory)()
    domain = await sync_to_async(DomainFactory)(family=family)
    await sync_to_async(FamilyMembership.objects.create)(family=family, user=member, role="viewer")

    client = await connect(port_a, token_for(stranger))
    await client.send("subscribe", {"sovereigntyScoreDomainId": domain.pk}, id=1)
    error = await client.expect("pubky_subscription_error")
    assert error["data"]["code"] == "not_found"
    assert error["id"] == 1
    await client.send("subscribe", {"sovereigntyScoreDomainId": 999_999}, id=2)
    missing = await client.expect("pubky_subscription_error")
    assert missing["data"] == {**error["data"], "id": 999_999}  # nothing tells them apart

    watcher = await connect(port_a, token_for(member))
    await watcher.subscribe(sovereigntyScoreDomainId=domain.pk)
    await watcher.subscribe(familyId=family.pk)
    await sync_to_async(lambda: FamilyMembership.objects.get(family=family, user=member).delete())()
    errors = [await watcher.expect("pubky_subscription_error") for _ in range(2)]
    assert {e["data"]["code"] for e in errors} == {"not_found"}
    assert {e["data"]["entity"] for e in errors} == {"sovereigntyScore", "family"}


async def test_limits_bad_input_and_floods(e2e) -> None:
    web = e2e.web(
        "web",
        env={
            "WS_MAX_SUBSCRIPTIONS": "2",
            "WS_RATE_LIMIT_PER_SECOND": "5",
            "WS_RATE_LIMIT_BURST": "20",
            "WS_RATE_LIMIT_STRIKES": "5",
            "WS_MAX_MESSAGE_BYTES": "1024",
        },
    )
    user = await sync_to_async(UserFactory)()
    family = await sync_to_async(FamilyFactory)(owner=user)
    client = await connect(web.port, token_for(user))
    await client.subscribe(relays=True)
    await client.subscribe(familyId=family.pk)
    await client.send(
        "subscribe",
        {"pubkyUrl": "pubky://8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo/pub/"},
        id="3",
    )
    cap = await client.expect("pubky_subscription_error")
    assert cap["data"]["code"] == "limit_exceeded"

    bad = [
        ("{not json", "invalid_json"),
        ('{"type": "teleport"}', "unknown_type"),
        ('{"type": "subscribe", "data": {"familyId": "one"}}', "invalid"),
        ('{"type": "subscribe", "data": {"familyId": 1, "relays": true}}', "invalid"),
        ('{"type": "pubky_resolve", "data": {"url": 5}}', "invalid"),
        ("[1, 2]", "invalid"),
    ]  # (past WS_MAX_MESSAGE_BYTES: too_large and a 1009 close, test_hardening.py)
    for frame, code in bad:
        await client.ws.send(frame)
        reply = await client.expect("error")
        assert reply["data"]["code"] == code, (frame[:40], reply)
    await client.send("ping", id="still-alive")
    assert (await client.expect("pong"))["id"] == "still-alive"

    await asyncio.sleep(4.1)  # refill the bucket
    for _ in range(40):
        await client.send("ping")
    messages = await client.quiet(1.0)
    codes = [m["data"].get("code") for m in messages if m["type"] == "error"]
    assert "rate_limited" in codes
    await client.quiet(1.0)  # until the server closes the socket
    assert client.ws.close_code == 4429


async def test_authentication_rules(e2e) -> None:
    web = e2e.web("web")
    user = await sync_to_async(UserFactory)()
    # No token at all, then a bad auth message: unauthorized, 4401.
    client = await connect(web.port)
    await client.send("auth", {"token": "garbage"})
    assert (await client.expect("error"))["data"]["code"] == "unauthorized"
    with pytest.raises(Exception):  # noqa: B017
        await client.ws.recv()
    assert client.ws.close_code == 4401
    # A token in the first auth message works.
    client = await connect(web.port)
    await client.send("auth", {"token": token_for(user)}, id="a")
    assert (await client.expect("authenticated"))["id"] == "a"
    # An invalid token in the query string: unauthorized, 4401.
    client = await connect(web.port, query="token=nope")
    assert (await client.expect("error"))["data"]["code"] == "unauthorized"
    with pytest.raises(Exception):  # noqa: B017
        await client.ws.recv()
    assert client.ws.close_code == 4401


async def test_an_expiring_token_can_be_refreshed_in_band_or_the_socket_closes(e2e) -> None:
    import time as _time

    web = e2e.web("web")
    user = await sync_to_async(UserFactory)()
    soon = int(_time.time()) + 2
    refreshed = await connect(web.port, token_for(user, exp=soon))
    expiring = await connect(web.port, token_for(user, exp=soon))
    await refreshed.send("auth", {"token": token_for(user)}, id="r")
    assert (await refreshed.expect("authenticated"))["id"] == "r"
    error = await expiring.expect("error", timeout=6)
    assert error["data"]["code"] == "unauthorized"
    with pytest.raises(Exception):  # noqa: B017
        await expiring.ws.recv()
    assert expiring.ws.close_code == 4401
    await refreshed.send("ping", id="p")
    assert (await refreshed.expect("pong"))["id"] == "p"


async def test_relay_status_and_sovereignty_score_requests(e2e) -> None:
    web = e2e.web("web")
    user = await sync_to_async(UserFactory)()
    family = await sync_to_async(FamilyFactory)(owner=user)
    domain = await sync_to_async(DomainFactory)(family=family, registrar="Registrar Inc.")
    await sync_to_async(_relay_change)(latency=12.5)
    client = await connect(web.port, token_for(user))
    await client.send("pubky_relay_status", id="r")
    status = await client.expect("pubky_relay_status")
    assert status["id"] == "r"
    relay = next(r for r in status["data"]["relays"] if r["url"] == "http://127.0.0.1:15411")
    assert relay["isUp"] is True and relay["latencyMs"] == 12.5
    await client.send("pubky_sovereignty_score", {"domainId": domain.pk}, id="s")
    score = await client.expect("pubky_sovereignty_score")
    assert score["id"] == "s"
    assert score["data"]["domainId"] == domain.pk
    assert set(score["data"]["components"]) == {
        "provider_independence",
        "key_ownership",
        "censorship_resistance",
        "privacy",
        "portability",
    }
    assert score["data"]["sovereignty_score"] == sum(score["data"]["components"].values())
    await client.send("pubky_guardian_status", {"familyId": family.pk}, id="g")
    status = await client.expect("pubky_guardian_status")
    assert status["data"]["familyId"] == family.pk and status["data"]["guardians"] == []
    other = await sync_to_async(FamilyFactory)()
    await client.send("pubky_guardian_status", {"familyId": other.pk}, id="x")
    assert (await client.expect("error"))["data"]["code"] == "not_found"
    assert await sync_to_async(FederationGuardian.objects.count)() == 0


async def test_the_python_client_reconnects_by_itself_and_misses_nothing(e2e) -> None:
    from realtime.client import WebSocketClient

    web = e2e.web("web")
    user = await sync_to_async(UserFactory)()

    async def token() -> str:
        return token_for(user)

    async with WebSocketClient(f"ws://127.0.0.1:{web.port}/ws", token_provider=token) as client:
        await client.subscribe(relays=True)
        await sync_to_async(_relay_change)(latency=1.0)
        assert (await client.next_event())["data"]["relays"][0]["latencyMs"] == 1.0
        await sync_to_async(web.stop)()
        for latency in (2.0, 3.0):  # while the server is down
            await sync_to_async(_relay_change)(latency=latency)
        await sync_to_async(web.restart)()
        got = [await client.next_event(within=20) for _ in range(2)]
        assert [e["data"]["relays"][0]["latencyMs"] for e in got] == [2.0, 3.0]
        assert client.reconnects == 1
        await sync_to_async(_relay_change)(latency=4.0)
        assert (await client.next_event())["data"]["relays"][0]["latencyMs"] == 4.0
