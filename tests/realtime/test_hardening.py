"""What an attacker tries over WebSocket, on the default server with real sockets: sessions that
end, ids that cannot be probed, RFC 6455 close codes, caps on new sockets, a per-user cap that
holds while Redis is down."""

from __future__ import annotations

import asyncio
import json

import pytest
import requests
import websockets
from asgiref.sync import sync_to_async

from families.models import SecurityEvent
from pubky.keys import Keypair
from tests.factories import DomainFactory, FamilyFactory, UserFactory
from tests.realtime.conftest import RawWebSocket, connect, subprocess_env, token_for
from tests.servers import process_group, valkey_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _login(port: int, username: str) -> dict[str, str]:
    response = requests.post(
        f"http://127.0.0.1:{port}/api/auth/token/",
        json={"username": username, "password": "pw"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def _api_status(port: int, access: str) -> int:
    response = requests.get(
        f"http://127.0.0.1:{port}/api/families/",
        headers={"Authorization": f"Bearer {access}"},
        timeout=10,
    )
    return response.status_code


async def _closed_with(client, code: int) -> None:
    """The socket is told why (an ``unauthorized`` error) and closed with ``code``."""
    error = await client.expect("error", timeout=10)
    assert error["data"]["code"] == "unauthorized", error
    with pytest.raises(websockets.ConnectionClosed):
        await client.recv(timeout=10)
    assert client.ws.close_code == code


async def _still_open(client) -> None:
    await client.send("ping", id="alive")
    assert (await client.expect("pong"))["id"] == "alive"


async def test_logout_refuses_the_sessions_tokens_and_closes_its_sockets_on_every_process(
    two_webs,
) -> None:
    port_a, port_b = two_webs
    await sync_to_async(UserFactory)(username="ann")
    ended = await sync_to_async(_login)(port_a, "ann")
    other = await sync_to_async(_login)(port_a, "ann")  # a second sign-in: another session
    on_a = await connect(port_a, ended["access"])
    on_b = await connect(port_b, ended["access"])
    elsewhere = await connect(port_b, other["access"])
    assert await sync_to_async(_api_status)(port_a, ended["access"]) == 200

    out = await sync_to_async(requests.post)(
        f"http://127.0.0.1:{port_a}/api/auth/logout/",
        json={"refresh": ended["refresh"]},
        timeout=10,
    )
    assert out.status_code == 204

    await _closed_with(on_a, 4401)
    await _closed_with(on_b, 4401)  # the other process heard it through the channel layer
    assert await sync_to_async(_api_status)(port_b, ended["access"]) == 401
    late = await connect(port_a)
    await late.send("auth", {"token": ended["access"]})
    await _closed_with(late, 4401)
    # The other session goes on.
    await _still_open(elsewhere)
    assert await sync_to_async(_api_status)(port_a, other["access"]) == 200


def _change_password(username: str) -> None:
    from families.models import User

    user = User.objects.get(username=username)
    user.set_password("a new password")
    user.save()


def _deactivate(username: str) -> None:
    from families.models import User

    user = User.objects.get(username=username)
    user.is_active = False
    user.save()


@pytest.mark.parametrize("change", [_change_password, _deactivate])
async def test_a_password_change_or_deactivation_ends_every_session_of_the_user(
    e2e, change
) -> None:
    web = e2e.web("web")
    await sync_to_async(UserFactory)(username="ben")
    bystander = await sync_to_async(UserFactory)(username="cy")
    first = await sync_to_async(_login)(web.port, "ben")
    second = await sync_to_async(_login)(web.port, "ben")
    sockets = [await connect(web.port, t["access"]) for t in (first, second)]
    unrelated = await connect(web.port, token_for(bystander))

    await sync_to_async(change)("ben")

    for client in sockets:
        await _closed_with(client, 4401)
    for tokens in (first, second):
        assert await sync_to_async(_api_status)(web.port, tokens["access"]) == 401
        refreshed = await sync_to_async(requests.post)(
            f"http://127.0.0.1:{web.port}/api/auth/token/refresh/",
            json={"refresh": tokens["refresh"]},
            timeout=10,
        )
        assert refreshed.status_code == 401
    await _still_open(unrelated)


def _foreign_targets(key: str) -> dict[str, int]:
    from domains.models import DomainMigration, MigrationDirection, PubkyDomain

    family = FamilyFactory()
    domain = DomainFactory(family=family)
    pubky = PubkyDomain.objects.create(
        name=domain.name, family=family, domain=domain, public_key=key, key_custody="family"
    )
    migration = DomainMigration.objects.create(
        domain=domain, direction=MigrationDirection.DNS_TO_PUBKY
    )
    return {
        "familyId": family.pk,
        "sovereigntyScoreDomainId": domain.pk,
        "pubkyDomainId": pubky.pk,
        "domainMigrationId": migration.pk,
    }


async def test_a_foreign_target_answers_exactly_like_a_missing_one_and_is_recorded(e2e) -> None:
    web = e2e.web("web")
    prober = await sync_to_async(UserFactory)()
    theirs, nobodys = Keypair.random().public_key.z32(), Keypair.random().public_key.z32()
    foreign = await sync_to_async(_foreign_targets)(theirs)
    client = await connect(web.port, token_for(prober))
    missing_id = 2_000_000_000

    async def answer(kind: str, data: dict) -> dict:
        await client.send(kind, data, id="q")
        reply = await client.recv()
        assert reply["id"] == "q", reply
        return reply

    requests_to_try: list[tuple[str, dict, dict]] = [
        ("subscribe", {key: value}, {key: missing_id}) for key, value in foreign.items()
    ]
    requests_to_try += [
        (
            "pubky_sovereignty_score",
            {"domainId": foreign["sovereigntyScoreDomainId"]},
            {"domainId": missing_id},
        ),
        ("pubky_guardian_status", {"familyId": foreign["familyId"]}, {"familyId": missing_id}),
        ("pubky_sovereignty_score", {"url": f"pubky://{theirs}"}, {"url": f"pubky://{nobodys}"}),
    ]
    for kind, foreign_data, missing_data in requests_to_try:
        denied = await answer(kind, foreign_data)
        absent = await answer(kind, missing_data)
        assert denied["data"]["code"] == "not_found", (kind, denied)
        strip = {"id", "url"}
        assert {k: v for k, v in denied["data"].items() if k not in strip} == {
            k: v for k, v in absent["data"].items() if k not in strip
        }, (kind, denied, absent)
        assert denied["type"] == absent["type"]

    denials = await sync_to_async(
        lambda: list(
            SecurityEvent.objects.filter(kind="access_denied", user=prober).values_list(
                "target", flat=True
            )
        )
    )()
    assert len(denials) == len(requests_to_try)  # each foreign probe, none of the missing ones


async def test_protocol_faults_get_their_answers_and_close_codes(e2e) -> None:
    web = e2e.web("web", env={"WS_MAX_MESSAGE_BYTES": "4096"})
    user = await sync_to_async(UserFactory)()
    client = await connect(web.port, token_for(user))
    # A refused pubky_resolve carries the request id, like every other reply.
    private = f"pubky://{Keypair.random().public_key.z32()}/priv/notes"
    await client.send("pubky_resolve", {"url": private}, id="r1")
    refused = await client.expect("error")
    assert refused["id"] == "r1" and refused["data"]["code"] == "not_found"
    await client.send("pubky_resolve", {"url": "pubky://not-a-key/pub/x"}, id="r2")
    invalid = await client.expect("error")
    assert invalid["id"] == "r2" and invalid["data"]["code"] == "invalid"

    token = token_for(user)
    # Invalid UTF-8 in a text frame: 1007.
    raw = RawWebSocket(web.port, f"/ws?token={token}")
    raw.send_frame(0x1, b'{"type":"ping","data":{"x":"\xff\xfe"}}')
    assert raw.close_code()[1] == 1007
    # Past WS_MAX_MESSAGE_BYTES: a too_large error, then 1009.
    raw = RawWebSocket(web.port, f"/ws?token={token}")
    assert b"authenticated" in raw.read_frame()[1]
    raw.send_text(json.dumps({"type": "ping", "data": {"pad": "x" * 5000}}))
    frames, code = raw.close_code()
    assert (frames, code) == (1, 1009)  # the too_large error, then the close
    # Past what the server itself accepts (1 MiB, --ws-max-size): 1009 before the app sees it.
    raw = RawWebSocket(web.port, f"/ws?token={token}")
    raw.send_frame(0x1, b"x" * (2 * 1024 * 1024))
    assert raw.close_code()[1] == 1009
    await _still_open(client)


async def test_unauthenticated_sockets_are_capped_per_address_and_in_all(e2e) -> None:
    web = e2e.web(
        "web",
        env={"WS_MAX_UNAUTHENTICATED_PER_ADDRESS": "3", "WS_MAX_UNAUTHENTICATED": "5"},
    )
    user = await sync_to_async(UserFactory)()
    waiting = [RawWebSocket(web.port, "/ws") for _ in range(3)]
    refused = RawWebSocket(web.port, "/ws", expect=429)
    assert b"rate_limited" in refused.sock.recv(4096)
    # Another address still gets in, up to the total.
    waiting += [RawWebSocket(web.port, "/ws", source="127.0.0.2") for _ in range(2)]
    RawWebSocket(web.port, "/ws", source="127.0.0.3", expect=429)
    # Signing in frees the slot; a socket with a valid token is not counted at all.
    waiting[0].send_text(json.dumps({"type": "auth", "data": {"token": token_for(user)}}))
    assert b"authenticated" in waiting[0].read_frame()[1]
    RawWebSocket(web.port, "/ws").close()
    await connect(web.port, token_for(user))


async def test_connection_attempts_per_address_are_rate_limited(e2e) -> None:
    web = e2e.web(
        "web", env={"WS_CONNECT_RATE_PER_ADDRESS": "0.1", "WS_CONNECT_BURST_PER_ADDRESS": "5"}
    )
    user = await sync_to_async(UserFactory)()
    token = token_for(user)
    for _ in range(5):
        RawWebSocket(web.port, f"/ws?token={token}").close()
    refused = RawWebSocket(web.port, f"/ws?token={token}", expect=429)
    assert b"retry-after" in refused.head.lower()
    RawWebSocket(web.port, f"/ws?token={token}", source="127.0.0.2").close()  # others go on


async def test_the_per_user_cap_holds_while_redis_is_down(transactional_db) -> None:
    with valkey_server() as (valkey, port):
        url = f"redis://127.0.0.1:{port}/0"
        env = subprocess_env(REDIS_URL=url, WS_MAX_CONNECTIONS_PER_USER="2")
        with process_group(env) as group:
            web = group.web("web")
            user = await sync_to_async(UserFactory)()
            first = await connect(web.port, token_for(user))  # while Redis is up
            valkey.stop()
            second = await connect(web.port, token_for(user))
            third = await connect(web.port)
            await third.send("auth", {"token": token_for(user)})
            assert (await third.expect("error"))["data"]["code"] == "limit_exceeded"
            await third.quiet(1.0)
            assert third.ws.close_code == 4429
            await _still_open(first)
            await _still_open(second)
            # Closing one frees a slot, counted locally too.
            await second.ws.close()
            await asyncio.sleep(0.3)
            await connect(web.port, token_for(user))
