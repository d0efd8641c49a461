"""Relay client against the testnet relay (pkarr 3.x semantics) and scripted stub relays."""

from __future__ import annotations

import threading
import time
from email.utils import formatdate

import aiohttp
import pytest
import requests

from pubky.errors import (
    CasConflict,
    NotMostRecent,
    PayloadTooLarge,
    RateLimited,
    RelayBadRequest,
    RelayError,
    RelayUnavailable,
)
from pubky.keys import Keypair, PublicKey
from pubky.packet import Record, SignedPacket, now_us
from pubky.relay_client import PublishReport, RelayClient, RelayResult, error_for_status
from pubky.testnet import RateLimit

CONTENT_TYPE = "application/pkarr.org/relays#payload"


def packet(keypair: Keypair, *, value: str = "1.2.3.4", ttl: int = 300, ts: int | None = None):
    return SignedPacket.sign(keypair, [Record("@", "A", value, ttl)], timestamp=ts)


def put(relay: str, key: str, body: bytes, **headers: str) -> requests.Response:
    return requests.put(f"{relay}/{key}", data=body, headers=headers, timeout=5)


# --- publish / resolve happy path ---------------------------------------------------------------


def test_publish_reaches_every_relay_and_resolve_returns_it(relay_client: RelayClient) -> None:
    kp = Keypair.random()
    pkt = packet(kp)
    report = relay_client.publish(pkt)
    assert report.ok
    assert [r.status for r in report.results] == [204, 204]
    assert all(r.latency_ms >= 0 and r.error is None for r in report.results)
    report.raise_for_failure()  # no-op
    assert relay_client.resolve(kp.public_key) == pkt
    assert relay_client.resolve(kp.public_key.z32()) == pkt


def test_get_headers_and_ttl_clamping(testnet) -> None:
    kp = Keypair.random()
    low = SignedPacket.sign(kp, [Record("@", "A", "1.1.1.1", 30)])
    assert put(testnet.relay_url, kp.public_key.z32(), low.to_relay_payload()).status_code == 204
    response = requests.get(f"{testnet.relay_url}/{kp.public_key.z32()}", timeout=5)
    assert response.status_code == 200
    assert response.content == low.to_relay_payload()
    assert response.headers["Content-Type"] == CONTENT_TYPE
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Last-Modified"] == low.last_modified_http_date()

    high = SignedPacket.sign(kp, [Record("@", "A", "1.1.1.1", 999_999)])
    assert put(testnet.relay_url, kp.public_key.z32(), high.to_relay_payload()).status_code == 204
    response = requests.get(f"{testnet.relay_url}/{kp.public_key.z32()}", timeout=5)
    assert response.headers["Cache-Control"] == "public, max-age=86400"


def test_unknown_key_is_404_and_resolves_to_none(testnet, relay_client: RelayClient) -> None:
    kp = Keypair.random()
    response = requests.get(f"{testnet.relay_url}/{kp.public_key.z32()}", timeout=5)
    assert response.status_code == 404
    report = relay_client.resolve_report(kp.public_key)
    assert report.packet is None
    assert report.ok
    assert [r.status for r in report.results] == [404, 404]


def test_index_page(testnet) -> None:
    response = requests.get(testnet.relay_url + "/", timeout=5)
    assert response.status_code == 200
    assert "Pkarr Relay" in response.text


# --- status codes -------------------------------------------------------------------------------


def test_bad_requests_are_400(testnet) -> None:
    kp = Keypair.random()
    z32 = kp.public_key.z32()
    good = packet(kp).to_relay_payload()
    assert put(testnet.relay_url, "not-a-key", good).status_code == 400
    assert (
        put(
            testnet.relay_url, "c1bkg8tfsyy8wcedtmw4fwhdmm7bbzhgg3z58tf43m5ow8w9mbus", good
        ).status_code
        == 400
    )
    assert requests.get(f"{testnet.relay_url}/nope", timeout=5).status_code == 400
    assert put(testnet.relay_url, z32, good[:71]).status_code == 400
    tampered = bytearray(good)
    tampered[-1] ^= 1
    assert put(testnet.relay_url, z32, bytes(tampered)).status_code == 400
    other = packet(Keypair.random()).to_relay_payload()
    assert put(testnet.relay_url, z32, other).status_code == 400  # signed by another key
    # a syntactically broken DNS packet, correctly signed
    ts = now_us()
    dns = b"\x00\x00\x80\x00\x00\x00\x00\x05"
    from pubky.packet import signable

    sig = kp.sign(signable(ts, dns))
    assert put(testnet.relay_url, z32, sig + ts.to_bytes(8, "big") + dns).status_code == 400


@pytest.mark.parametrize(("size", "status"), [(1072, 204), (1073, 400), (1104, 400), (1105, 413)])
def test_body_size_limits(testnet, size: int, status: int) -> None:
    kp = Keypair.random()
    ts = now_us()
    from pubky.packet import signable

    dns = b"\x00" * (size - 72)
    body = kp.sign(signable(ts, dns)) + ts.to_bytes(8, "big") + dns
    assert len(body) == size
    assert put(testnet.relay_url, kp.public_key.z32(), body).status_code == status


def test_too_large_maps_to_payload_too_large(stub_server) -> None:
    url, _ = stub_server.route(status=413)
    report = RelayClient([url]).publish(packet(Keypair.random()))
    with pytest.raises(PayloadTooLarge) as info:
        report.raise_for_failure()
    assert info.value.status == 413
    assert info.value.relay_url == url


def test_older_packet_is_409_not_most_recent(relay_client: RelayClient) -> None:
    kp = Keypair.random()
    newer = packet(kp)
    older = packet(kp, ts=newer.timestamp - 1_000)
    relay_client.publish(newer).raise_for_failure()
    report = relay_client.publish(older)
    assert not report.ok
    assert {r.status for r in report.results} == {409}
    assert all(r.error_type is NotMostRecent for r in report.results)
    with pytest.raises(NotMostRecent) as info:
        report.raise_for_failure()
    assert info.value.status == 409
    # republishing the identical packet is idempotent
    assert relay_client.publish(newer).ok


def test_compare_and_swap(relay_client: RelayClient) -> None:
    kp = Keypair.random()
    first = packet(kp, value="1.1.1.1")
    relay_client.publish(first, cas=12345).raise_for_failure()  # nothing stored: CAS ignored
    second = packet(kp, value="2.2.2.2")
    report = relay_client.publish(second, cas=first.timestamp - 1)
    assert [r.status for r in report.results] == [412, 412]
    with pytest.raises(CasConflict):
        report.raise_for_failure()
    relay_client.publish(second, cas=first.timestamp).raise_for_failure()
    assert relay_client.resolve(kp.public_key) == second


def test_concurrent_publish_without_if_match_is_428(make_testnet) -> None:
    net = make_testnet(relay_publish_delay=1.0, http_relay_port=None, admin_port=None)
    client = net.relay_client()
    kp = Keypair.random()
    first = packet(kp, value="1.1.1.1")
    second = packet(kp, value="2.2.2.2")
    third = packet(kp, value="3.3.3.3")
    results: dict[str, PublishReport] = {}
    worker = threading.Thread(target=lambda: results.setdefault("first", client.publish(first)))
    worker.start()
    time.sleep(0.3)  # the first publish is now "in flight"
    conflict = client.publish(second)
    assert [r.status for r in conflict.results] == [428]
    with pytest.raises(NotMostRecent):
        conflict.raise_for_failure()
    # the same packet again joins the in-flight publish
    assert client.publish(first).ok
    # with If-Match = the in-flight packet's timestamp the newer packet goes through
    assert client.publish(third, cas=first.timestamp).ok
    worker.join()
    assert results["first"].ok
    assert client.resolve(kp.public_key) == third


def test_rate_limit_is_429(make_testnet) -> None:
    net = make_testnet(
        relay_rate_limit=RateLimit(per_second=0.01, burst=2), http_relay_port=None, admin_port=None
    )
    kp = Keypair.random()
    statuses = [
        requests.get(f"{net.relay_url}/{kp.public_key.z32()}", timeout=5).status_code
        for _ in range(4)
    ]
    assert statuses[-1] == 429
    report = net.relay_client().publish(packet(kp))
    with pytest.raises(RateLimited):
        report.raise_for_failure()


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, RelayUnavailable), (503, RelayUnavailable), (400, RelayBadRequest), (418, RelayError)],
)
def test_stub_statuses_map_to_typed_errors(stub_server, status: int, error: type) -> None:
    url, _ = stub_server.route(status=status, body=b"nope")
    report = RelayClient([url]).publish(packet(Keypair.random()))
    assert report.results[0].status == status
    assert report.results[0].error_type is error
    with pytest.raises(error):
        report.raise_for_failure()


def test_error_for_status_table() -> None:
    assert error_for_status(409) is NotMostRecent
    assert error_for_status(428) is NotMostRecent
    assert error_for_status(412) is CasConflict
    assert error_for_status(413) is PayloadTooLarge
    assert error_for_status(429) is RateLimited
    assert error_for_status(400) is RelayBadRequest
    assert error_for_status(502) is RelayUnavailable
    assert error_for_status(404) is RelayError


def test_timeouts_and_refused_connections_are_unavailable(stub_server) -> None:
    slow, _ = stub_server.route(status=204, delay=0.6)
    report = RelayClient([slow], timeout=0.3).publish(packet(Keypair.random()))
    # publishes get 3x the timeout, like pkarr; resolve gets the plain timeout
    assert report.ok
    resolved = RelayClient([slow], timeout=0.3).resolve_report(Keypair.random().public_key)
    assert resolved.results[0].status is None
    assert resolved.results[0].error_type is RelayUnavailable
    assert "timeout" in (resolved.results[0].error or "")
    refused = RelayClient(["http://127.0.0.1:9"], timeout=1).publish(packet(Keypair.random()))
    with pytest.raises(RelayUnavailable) as info:
        refused.raise_for_failure()
    assert info.value.status is None


def test_most_meaningful_error_wins(stub_server, relay_client: RelayClient) -> None:
    kp = Keypair.random()
    first = packet(kp)
    relay_client.publish(first).raise_for_failure()
    down, _ = stub_server.route(status=503)
    mixed = RelayClient([*relay_client.relays, down])
    report = mixed.publish(packet(kp, value="9.9.9.9"), cas=first.timestamp + 5)
    assert not report.ok
    with pytest.raises(CasConflict):
        report.raise_for_failure()
    assert len(report.failed) == 3
    assert not report.succeeded


def test_no_relays_configured() -> None:
    report = RelayClient([]).publish(packet(Keypair.random()))
    with pytest.raises(RelayUnavailable):
        report.raise_for_failure()
    with pytest.raises(ValueError):
        RelayClient(["ftp://example"])


# --- conditional GET ----------------------------------------------------------------------------


def test_if_modified_since_gives_304(testnet, relay_client: RelayClient) -> None:
    kp = Keypair.random()
    pkt = packet(kp)
    relay_client.publish(pkt).raise_for_failure()
    url = f"{testnet.relay_url}/{kp.public_key.z32()}"
    same = requests.get(
        url, headers={"If-Modified-Since": pkt.last_modified_http_date()}, timeout=5
    )
    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["Last-Modified"] == pkt.last_modified_http_date()
    earlier = formatdate(pkt.timestamp // 1_000_000 - 10, usegmt=True)
    changed = requests.get(url, headers={"If-Modified-Since": earlier}, timeout=5)
    assert changed.status_code == 200
    assert changed.content == pkt.to_relay_payload()  # no empty-200 quirk
    garbage = requests.get(url, headers={"If-Modified-Since": "yesterday"}, timeout=5)
    assert garbage.status_code == 200

    report = relay_client.resolve_report(kp.public_key, known=pkt)
    assert report.packet == pkt
    assert all(r.not_modified and r.status == 304 for r in report.results)


def test_resolve_with_known_packet_returns_newer(relay_client: RelayClient) -> None:
    kp = Keypair.random()
    old = packet(kp, ts=now_us() - 5_000_000)
    new = packet(kp, value="5.5.5.5")
    relay_client.publish(new).raise_for_failure()
    assert relay_client.resolve(kp.public_key, known=old) == new
    with pytest.raises(ValueError):
        relay_client.resolve(Keypair.random().public_key, known=old)


def test_pkarr3_empty_200_quirk_is_retried(stub_server) -> None:
    kp = Keypair.random()
    pkt = packet(kp)
    url, route = stub_server.route(status=200, body=pkt.to_relay_payload(), conditional=(200, b""))
    old = packet(kp, ts=pkt.timestamp - 5_000_000)
    assert RelayClient([url]).resolve(kp.public_key, known=old) == pkt
    assert len(route.requests) == 2
    assert route.requests[1][1].get("Cache-Control") == "no-cache, no-store, must-revalidate"


# --- multi-relay behaviour ----------------------------------------------------------------------


def test_resolve_keeps_most_recent_valid_and_ignores_tampered(stub_server) -> None:
    kp = Keypair.random()
    older = packet(kp, value="1.1.1.1", ts=now_us() - 10_000_000)
    newest = packet(kp, value="2.2.2.2")
    tampered = bytearray(
        packet(kp, value="3.3.3.3", ts=newest.timestamp + 1_000).to_relay_payload()
    )
    tampered[-1] ^= 0xFF
    a, _ = stub_server.route(body=older.to_relay_payload())  # npm 1.3.0 style: no headers
    b, _ = stub_server.route(body=newest.to_relay_payload(), headers={"Content-Type": CONTENT_TYPE})
    c, _ = stub_server.route(body=bytes(tampered))
    d, _ = stub_server.route(body=b"x" * 3000)
    report = RelayClient([a, c, b, d]).resolve_report(kp.public_key)
    assert report.packet == newest
    by_url = {r.relay_url: r for r in report.results}
    assert by_url[a].ok
    assert by_url[a].packet == older
    assert not by_url[c].ok
    assert "invalid packet" in (by_url[c].error or "")
    assert not by_url[d].ok


def test_npm_era_relay_put_200_counts_as_success(stub_server) -> None:
    url, route = stub_server.route(status=200)
    pkt = packet(Keypair.random())
    report = RelayClient([url]).publish(pkt, cas=pkt.timestamp - 1)
    assert report.ok
    assert report.results[0].status == 200
    method, headers = route.requests[0]
    assert method == "PUT"
    assert headers["If-Match"] == str(pkt.timestamp - 1)


def test_relay_outage_gives_per_relay_results(make_testnet) -> None:
    net = make_testnet(relays=2, http_relay_port=None, admin_port=None)
    client = net.relay_client(timeout=2)
    port = int(net.relay_urls[1].rsplit(":", 1)[1])
    net.stop_relay(1)
    assert not net.relay_running(1)
    kp = Keypair.random()
    pkt = packet(kp)
    report = client.publish(pkt)
    assert report.ok
    ok, down = report.results
    assert ok.ok
    assert ok.status == 204
    assert not down.ok
    assert down.status is None
    assert down.error_type is RelayUnavailable
    resolved = client.resolve_report(kp.public_key)
    assert resolved.packet == pkt
    assert [r.ok for r in resolved.results] == [True, False]
    assert not client.check(net.relay_urls[1]).ok

    net.start_relay(1)
    assert net.relay_urls[1].endswith(f":{port}")
    assert client.check(net.relay_urls[1]).ok
    assert client.resolve_report(kp.public_key).results[1].status == 404
    # the homeserver packet published before the outage is still served by relay 1
    assert client.resolve(net.homeserver_public_key) is not None


def test_check(testnet, stub_server) -> None:
    client = testnet.relay_client()
    result = client.check(testnet.relay_url)
    assert isinstance(result, RelayResult)
    assert result.ok
    assert result.status in (200, 404)
    assert result.latency_ms >= 0
    assert all(r.ok for r in client.check_all())
    broken, _ = stub_server.route(status=500)
    bad = client.check(broken)
    assert not bad.ok
    assert bad.status == 500
    assert bad.error_type is RelayUnavailable
    assert not client.check("http://127.0.0.1:9").ok


def test_invalid_public_key_input(relay_client: RelayClient) -> None:
    from pubky.errors import InvalidPublicKey

    with pytest.raises(InvalidPublicKey):
        relay_client.resolve("definitely not a key")
    key = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"
    assert relay_client.resolve(f"pk:{key}") == relay_client.resolve(PublicKey.parse(key))


# --- CORS (async, straight aiohttp) -------------------------------------------------------------


async def test_relay_cors_is_permissive(testnet) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.options(
            f"{testnet.relay_url}/{Keypair.random().public_key.z32()}",
            headers={
                "Origin": "http://app.example",
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "if-match, content-type",
            },
        ) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == "http://app.example"
            assert response.headers["Access-Control-Allow-Credentials"] == "true"
            assert response.headers["Access-Control-Allow-Methods"] == "PUT"
            assert response.headers["Access-Control-Allow-Headers"] == "if-match, content-type"
        async with session.get(
            f"{testnet.relay_url}/{Keypair.random().public_key.z32()}",
            headers={"Origin": "http://app.example"},
        ) as response:
            assert response.status == 404
            assert response.headers["Access-Control-Allow-Origin"] == "http://app.example"


def test_chunked_uploads_are_measured(testnet) -> None:
    kp = Keypair.random()
    payload = packet(kp).to_relay_payload()

    def chunks(data: bytes):
        for i in range(0, len(data), 7):
            yield data[i : i + 7]

    url = f"{testnet.relay_url}/{kp.public_key.z32()}"
    assert requests.put(url, data=chunks(payload), timeout=5).status_code == 204
    too_big = requests.put(url, data=chunks(b"\x00" * 2000), timeout=5)
    assert too_big.status_code == 413


def test_http_date_helpers() -> None:
    from pubky.http import format_http_date, join_url, parse_http_date

    assert format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"
    for text in (
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    ):
        assert parse_http_date(text) == 784111777
    assert parse_http_date("not a date") is None
    assert parse_http_date(None) is None
    assert join_url("https://relay.example/pkarr/", "k") == "https://relay.example/pkarr/k"
