"""The v0.6.0 testnet homeserver via HomeserverClient and raw HTTP: auth, files, listings."""

from __future__ import annotations

import base64
from email.utils import formatdate

import blake3
import pytest
import requests

from pubky.auth import AuthToken, SessionInfo
from pubky.errors import (
    HomeserverBadRequest,
    HomeserverConflict,
    HomeserverError,
    HomeserverForbidden,
    HomeserverNotFound,
    HomeserverUnauthorized,
)
from pubky.homeserver_client import HomeserverClient, homeserver_of_packet
from pubky.keys import Keypair
from pubky.packet import Record, SignedPacket, now_us


def raw(testnet, method: str, path: str, user: str | None = None, **kwargs) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if user is not None:
        headers.setdefault("pubky-host", user)
    return requests.request(
        method, testnet.homeserver_url + path, headers=headers, timeout=10, **kwargs
    )


def url_of(keypair: Keypair, path: str) -> str:
    return f"pubky://{keypair.public_key.z32()}{path}"


# --- root & auth --------------------------------------------------------------------------------


def test_root(testnet) -> None:
    response = raw(testnet, "GET", "/")
    assert response.status_code == 200
    assert response.text == "Pubky Homeserver"
    assert raw(testnet, "POST", "/").status_code == 405
    assert raw(testnet, "GET", "/signup").status_code == 405


def test_signup_session_signout_cycle(testnet) -> None:
    client = testnet.homeserver_client()
    keypair = Keypair.random()
    session = client.signup(keypair, testnet.homeserver_public_key)
    assert session.public_key == keypair.public_key
    assert str(session.capabilities) == "/:rw"
    assert client.session_cookie(keypair) is not None
    assert len(client.session_cookie(keypair) or "") == 26
    current = client.session(keypair.public_key)
    assert current is not None
    assert current.public_key == keypair.public_key
    client.signout(keypair)
    assert client.session_cookie(keypair) is None
    assert client.session(keypair) is None
    client.signout(keypair)  # idempotent
    again = client.signin(keypair)
    assert again.public_key == keypair.public_key
    assert client.session(keypair) is not None


def test_signup_response_and_cookie_attributes(testnet) -> None:
    keypair = Keypair.random()
    token = AuthToken.sign(keypair, "/pub/app/:rw")
    response = raw(testnet, "POST", "/signup", data=token.to_bytes())
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    info = SessionInfo.from_bytes(response.content)
    assert str(info.capabilities) == "/pub/app/:rw"
    cookie = response.headers["Set-Cookie"]
    user = keypair.public_key.z32()
    assert cookie.startswith(f"{user}=")
    assert "HttpOnly" in cookie
    assert "Path=/" in cookie
    assert "Max-Age=31536000" in cookie
    assert "Secure" not in cookie  # Host is an IP address
    # a Host that is a pkarr key makes the cookie Secure + SameSite=None
    other = Keypair.random()
    response = raw(
        testnet,
        "POST",
        "/signup",
        data=AuthToken.sign(other, "/:rw").to_bytes(),
        headers={"Host": f"_pubky.{other.public_key.z32()}"},
    )
    assert response.status_code == 200
    assert "Secure" in response.headers["Set-Cookie"]
    assert "SameSite=None" in response.headers["Set-Cookie"]
    session = raw(testnet, "GET", "/session", user, cookies=response.cookies)
    assert session.status_code == 404  # that cookie belongs to another user
    ok = raw(testnet, "GET", "/session", user, headers={"Cookie": cookie.split(";")[0]})
    assert ok.status_code == 200
    assert ok.headers["Vary"] == "cookie, pubky-host"
    assert ok.headers["Cache-Control"] == "private, must-revalidate"


def test_signup_twice_is_409(testnet, signed_up) -> None:
    keypair, client = signed_up
    with pytest.raises(HomeserverConflict) as info:
        client.signup(keypair, testnet.homeserver_public_key)
    assert info.value.status == 409
    assert info.value.message == "User already exists"


def test_bad_tokens_are_400(testnet) -> None:
    keypair = Keypair.random()
    assert raw(testnet, "POST", "/signup", data=b"garbage").status_code == 400
    old = AuthToken.sign(keypair, "/:rw", timestamp=now_us() - 60_000_000)
    response = raw(testnet, "POST", "/signup", data=old.to_bytes())
    assert response.status_code == 400
    assert "45" in response.text
    future = AuthToken.sign(keypair, "/:rw", timestamp=now_us() + 60_000_000)
    assert raw(testnet, "POST", "/session", data=future.to_bytes()).status_code == 400
    tampered = bytearray(AuthToken.sign(keypair, "/:rw").to_bytes())
    tampered[-1] ^= 1
    assert raw(testnet, "POST", "/signup", data=bytes(tampered)).status_code == 400
    token = AuthToken.sign(keypair, "/:rw").to_bytes()
    assert raw(testnet, "POST", "/signup", data=token).status_code == 200
    replay = raw(testnet, "POST", "/session", data=token)
    assert replay.status_code == 400


def test_signin_unknown_user_is_404(testnet) -> None:
    client = testnet.homeserver_client()
    with pytest.raises(HomeserverNotFound):
        client.signin(Keypair.random(), homeserver=testnet.homeserver_public_key)


def test_sessions_are_per_user(testnet) -> None:
    client = testnet.homeserver_client()
    alice, bob = Keypair.random(), Keypair.random()
    client.signup(alice, testnet.homeserver_public_key)
    client.signup(bob, testnet.homeserver_public_key)
    assert client.session_cookie(alice) != client.session_cookie(bob)
    client.put(url_of(alice, "/pub/a.txt"), "alice")
    client.put(url_of(bob, "/pub/b.txt"), "bob")
    client.signout(alice)
    assert client.session(alice) is None
    assert client.session(bob) is not None
    with pytest.raises(HomeserverUnauthorized):
        client.put(url_of(alice, "/pub/a.txt"), "again")


def test_pubky_record_is_published_and_other_records_kept(testnet) -> None:
    relays = testnet.relay_client()
    keypair = Keypair.random()
    relays.publish(
        SignedPacket.sign(keypair, [Record.txt("hello", "world"), Record("@", "A", "10.0.0.1")])
    ).raise_for_failure()
    client = testnet.homeserver_client()
    client.signup(keypair, testnet.homeserver_public_key)
    packet = relays.resolve(keypair.public_key)
    assert packet is not None
    assert homeserver_of_packet(packet) == testnet.homeserver_public_key
    names = sorted((r.name, r.rtype) for r in packet.records())
    assert names == [("@", "A"), ("_pubky", "HTTPS"), ("hello", "TXT")]
    (pubky,) = packet.resource_records("_pubky")
    assert pubky.ttl == 3600
    assert pubky.value == f"0 {testnet.homeserver_public_key.z32()}."
    assert client.homeserver_of(keypair) == testnet.homeserver_public_key
    # signin does not republish a fresh record
    client.signin(keypair)
    assert relays.resolve(keypair.public_key) == packet
    # forcing does, with compare-and-swap on the previous timestamp
    report = client.publish_homeserver(keypair)
    assert report is not None
    assert report.ok
    assert relays.resolve(keypair.public_key).timestamp > packet.timestamp


def test_token_required_signup(make_testnet) -> None:
    net = make_testnet(signup_mode="token_required", http_relay_port=None)
    client = net.homeserver_client()
    hs = net.homeserver_public_key
    with pytest.raises(HomeserverBadRequest, match="Token required"):
        client.signup(Keypair.random(), hs)
    with pytest.raises(HomeserverBadRequest, match="Invalid signup token format"):
        client.signup(Keypair.random(), hs, signup_token="nope")
    with pytest.raises(HomeserverUnauthorized, match="Invalid token"):
        client.signup(Keypair.random(), hs, signup_token="AAAA-BBBB-CCCC")

    admin = net.admin_url + "/generate_signup_token"
    missing = requests.get(admin, timeout=5)
    assert missing.status_code == 401
    assert missing.text == "Missing admin password"
    wrong = requests.get(admin, headers={"X-Admin-Password": "x"}, timeout=5)
    assert wrong.status_code == 401
    assert wrong.text == "Invalid admin password"
    response = requests.get(admin, headers={"X-Admin-Password": "admin"}, timeout=5)
    assert response.status_code == 200
    token = response.text
    assert len(token) == 14
    assert token.count("-") == 2
    assert token == token.upper()

    first = Keypair.random()
    client.signup(first, hs, signup_token=token)
    with pytest.raises(HomeserverUnauthorized, match="Token already used"):
        client.signup(Keypair.random(), hs, signup_token=token)
    client.signup(Keypair.random(), hs, signup_token=net.create_signup_token())
    info = requests.get(
        net.admin_url + "/info", headers={"X-Admin-Password": "admin"}, timeout=5
    ).json()
    assert info["num_users"] == 2
    assert info["num_signup_codes"] == 2
    assert info["num_unused_signup_codes"] == 0
    assert info["public_key"] == hs.z32()
    assert requests.get(net.admin_url + "/", timeout=5).text == "Homeserver - Admin Endpoint"


# --- files --------------------------------------------------------------------------------------


def test_put_get_head_delete(signed_up) -> None:
    keypair, client = signed_up
    url = url_of(keypair, "/pub/app/notes.txt")
    client.put(url, "hello")
    result = client.get(url)
    assert result.status == 200
    assert result.content == b"hello"
    assert result.content_type == "text/plain"
    digest = base64.b64encode(blake3.blake3(b"hello").digest()).decode()
    assert result.etag == f'"{digest}"'
    assert result.headers["Vary"] == "pubky-host"
    assert result.headers["Cache-Control"] == "private, must-revalidate"
    head = client.head(url)
    assert head.content == b""
    assert head.content_length == 5
    assert head.etag == result.etag
    assert client.exists(url)
    client.put(url, b"changed")
    assert client.get(url).content == b"changed"
    client.delete(url)
    assert not client.exists(url)
    with pytest.raises(HomeserverNotFound):
        client.get(url)
    with pytest.raises(HomeserverNotFound):
        client.delete(url)


def test_conditional_get(signed_up) -> None:
    keypair, client = signed_up
    url = url_of(keypair, "/pub/cond.bin")
    client.put(url, b"v1")
    first = client.get(url)
    assert client.get(url, if_none_match=first.etag).status == 304
    assert client.get(url, if_none_match=f'"nope", {first.etag}').status == 304
    assert client.get(url, if_none_match='"nope"').status == 200
    not_modified = client.get(url, if_modified_since=first.last_modified)
    assert not_modified.status == 304
    assert not_modified.not_modified
    assert not_modified.etag == first.etag
    assert not_modified.content == b""
    past = formatdate(0, usegmt=True)
    assert client.get(url, if_modified_since=past).status == 200
    client.put(url, b"v2")
    # If-None-Match takes precedence over a matching If-Modified-Since
    changed = client.get(url, if_none_match=first.etag, if_modified_since=first.last_modified)
    assert changed.status == 200
    assert changed.content == b"v2"


@pytest.mark.parametrize(
    ("path", "content", "expected"),
    [
        ("/pub/img", b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, "image/png"),
        ("/pub/photo.bin", b"\xff\xd8\xff\xe0" + b"\x00" * 8, "image/jpeg"),
        ("/pub/doc.json", b"{}", "application/json"),
        ("/pub/page.html", b"<p>", "text/html"),
        ("/pub/blob", b"\x01\x02", "application/octet-stream"),
    ],
)
def test_content_type_sniffing(signed_up, path: str, content: bytes, expected: str) -> None:
    keypair, client = signed_up
    client.put(url_of(keypair, path), content)
    assert client.get(url_of(keypair, path)).content_type == expected


def test_write_authorization(testnet, signed_up) -> None:
    keypair, client = signed_up
    user = keypair.public_key.z32()
    cookie = {"Cookie": f"{user}={client.session_cookie(keypair)}"}
    no_cookie = raw(testnet, "PUT", "/pub/x.txt", user, data=b"x")
    assert no_cookie.status_code == 401
    assert no_cookie.text == "No session secret found in cookies"
    bogus = raw(
        testnet, "PUT", "/pub/x.txt", user, data=b"x", headers={"Cookie": f"{user}={'A' * 26}"}
    )
    assert bogus.status_code == 401
    assert bogus.text == "No session found for session secret"
    forbidden = raw(testnet, "PUT", "/priv/x.txt", user, data=b"x", headers=cookie)
    assert forbidden.status_code == 403
    assert forbidden.text == "Writing to directories other than '/pub/' is forbidden"
    assert raw(testnet, "GET", "/foo", user).status_code == 403
    missing_host = raw(testnet, "PUT", "/pub/x.txt", data=b"x")
    assert missing_host.status_code == 404
    assert missing_host.text == "Pubky Host is missing"
    created = raw(testnet, "PUT", "/pub/x.txt", user, data=b"x", headers=cookie)
    assert created.status_code == 201
    assert created.content == b""
    deleted = raw(testnet, "DELETE", "/pub/x.txt", user, headers=cookie)
    assert deleted.status_code == 204
    # another user's session cannot write here even if sent under this user's cookie name
    other_kp = Keypair.random()
    other = testnet.homeserver_client()
    other.signup(other_kp, testnet.homeserver_public_key)
    stolen = {"Cookie": f"{user}={other.session_cookie(other_kp)}"}
    mismatch = raw(testnet, "PUT", "/pub/x.txt", user, data=b"x", headers=stolen)
    assert mismatch.status_code == 401
    assert mismatch.text == "SessionInfo public key does not match pubky-host"


def test_capability_scopes(testnet) -> None:
    keypair = Keypair.random()
    client = testnet.homeserver_client()
    client.signup(keypair, testnet.homeserver_public_key, capabilities="/pub/app/:rw")
    client.put(url_of(keypair, "/pub/app/ok.txt"), "ok")
    with pytest.raises(HomeserverForbidden, match="Session does not have write access"):
        client.put(url_of(keypair, "/pub/other.txt"), "no")
    client.signin(keypair, capabilities="/pub/app/:r")
    with pytest.raises(HomeserverForbidden):
        client.put(url_of(keypair, "/pub/app/ok.txt"), "read only")
    # v0.6.0 checks a plain string prefix: scope "/pub/app" also covers "/pub/apple.txt"
    client.signin(keypair, capabilities="/pub/app:rw")
    client.put(url_of(keypair, "/pub/apple.txt"), "prefix")
    # reads are public
    assert testnet.homeserver_client().get(url_of(keypair, "/pub/app/ok.txt")).content == b"ok"


def test_tenant_selection(testnet, signed_up) -> None:
    keypair, client = signed_up
    user = keypair.public_key.z32()
    client.put(url_of(keypair, "/pub/t.txt"), "tenant")
    via_query = raw(testnet, "GET", f"/pub/t.txt?pubky-host={user}")
    assert via_query.text == "tenant"
    via_host = raw(testnet, "GET", "/pub/t.txt", headers={"Host": f"_pubky.{user}"})
    assert via_host.text == "tenant"
    prefixed = raw(testnet, "GET", "/pub/t.txt", headers={"pubky-host": f"pubky{user}"})
    assert prefixed.status_code == 404
    assert prefixed.text == "Pubky Host is missing"
    assert raw(testnet, "GET", f"/pub/t.txt?pubky-host=pubky{user}").status_code == 404


def test_bad_paths_and_methods(testnet, signed_up) -> None:
    keypair, client = signed_up
    user = keypair.public_key.z32()
    cookie = {"Cookie": f"{user}={client.session_cookie(keypair)}"}
    assert raw(testnet, "GET", "/pub/missing.txt", user).status_code == 404
    assert raw(testnet, "HEAD", "/pub/missing.txt", user).status_code == 404
    unknown_user = Keypair.random().public_key.z32()
    assert raw(testnet, "HEAD", "/pub/x", unknown_user).status_code == 404
    assert raw(testnet, "PUT", "/pub/dir/", user, data=b"x", headers=cookie).status_code == 400
    long_segment = "/pub/" + "a" * 256
    assert raw(testnet, "PUT", long_segment, user, data=b"x", headers=cookie).status_code == 400
    assert raw(testnet, "PATCH", "/pub/x", user).status_code == 405
    assert raw(testnet, "PUT", "/session", user).status_code == 405
    normalized = raw(testnet, "PUT", "/pub/a/./b//c.txt", user, data=b"n", headers=cookie)
    assert normalized.status_code == 201
    assert client.get(url_of(keypair, "/pub/a/b/c.txt")).content == b"n"


def test_disabled_user_cannot_write(make_testnet) -> None:
    net = make_testnet(http_relay_port=None)
    client = net.homeserver_client()
    keypair = Keypair.random()
    client.signup(keypair, net.homeserver_public_key)
    admin = {"X-Admin-Password": "admin"}
    user = keypair.public_key.z32()
    disable = requests.post(f"{net.admin_url}/users/{user}/disable", headers=admin, timeout=5)
    assert disable.status_code == 200
    with pytest.raises(HomeserverForbidden, match="User is disabled"):
        client.put(url_of(keypair, "/pub/x"), "x")
    requests.post(f"{net.admin_url}/users/{user}/enable", headers=admin, timeout=5)
    client.put(url_of(keypair, "/pub/x"), "x")
    unknown = Keypair.random().public_key.z32()
    missing = requests.post(f"{net.admin_url}/users/{unknown}/disable", headers=admin, timeout=5)
    assert missing.status_code == 404
    gone = requests.delete(f"{net.admin_url}/webdav/{user}/pub/x", headers=admin, timeout=5)
    assert gone.status_code == 204
    assert not client.exists(url_of(keypair, "/pub/x"))


def test_storage_quota_is_507(make_testnet) -> None:
    net = make_testnet(user_storage_quota_mb=1, http_relay_port=None, admin_port=None)
    client = net.homeserver_client()
    keypair = Keypair.random()
    client.signup(keypair, net.homeserver_public_key)
    client.put(url_of(keypair, "/pub/big"), b"x" * 700_000)
    client.put(url_of(keypair, "/pub/big"), b"y" * 700_000)  # overwrite: same usage
    with pytest.raises(HomeserverError) as info:
        client.put(url_of(keypair, "/pub/big2"), b"z" * 700_000)
    assert info.value.status == 507
    assert "quota" in info.value.message


# --- listings -----------------------------------------------------------------------------------


@pytest.fixture
def tree(signed_up) -> tuple[Keypair, HomeserverClient, list[str]]:
    keypair, client = signed_up
    paths = [
        "/pub/test/1.txt",
        "/pub/test/2.txt",
        "/pub/test/3.txt",
        "/pub/test/sub1",
        "/pub/test/sub1/1/1.txt",
        "/pub/test/sub1/2.txt",
        "/pub/test/sub2/1.txt",
        "/pub/test/sub2/2.txt",
    ]
    for path in paths:
        client.put(url_of(keypair, path), path)
    return keypair, client, [url_of(keypair, p) for p in paths]


def test_deep_listing(tree) -> None:
    keypair, client, urls = tree
    directory = url_of(keypair, "/pub/test/")
    assert client.list(directory) == sorted(urls)
    assert client.list(directory, limit=2) == sorted(urls)[:2]
    assert client.list(directory, cursor=sorted(urls)[1], limit=2) == sorted(urls)[2:4]
    cursor_no_scheme = sorted(urls)[1].removeprefix("pubky://")
    assert client.list(directory, cursor=cursor_no_scheme, limit=1) == [sorted(urls)[2]]
    assert client.list(directory, reverse=True) == sorted(urls, reverse=True)
    assert client.list(directory, reverse=True, cursor=sorted(urls)[2]) == sorted(urls)[:2][::-1]
    assert client.list(url_of(keypair, "/pub/test/sub2/")) == [
        url_of(keypair, "/pub/test/sub2/1.txt"),
        url_of(keypair, "/pub/test/sub2/2.txt"),
    ]
    assert client.list(directory, limit=0) == []


def test_shallow_listing(tree) -> None:
    keypair, client, _ = tree
    directory = url_of(keypair, "/pub/test/")
    expected = [
        url_of(keypair, p)
        for p in [
            "/pub/test/1.txt",
            "/pub/test/2.txt",
            "/pub/test/3.txt",
            "/pub/test/sub1",
            "/pub/test/sub1/",
            "/pub/test/sub2/",
        ]
    ]
    assert client.list(directory, shallow=True) == expected
    assert client.list(directory, shallow=True, limit=2) == expected[:2]
    assert client.list(directory, shallow=True, cursor=expected[2]) == expected[3:]
    assert client.list(directory, shallow=True, reverse=True) == expected[::-1]
    assert (
        client.list(directory, shallow=True, reverse=True, cursor=expected[4])
        == (expected[:4][::-1])
    )
    assert client.list(url_of(keypair, "/pub/"), shallow=True) == [url_of(keypair, "/pub/test/")]


def test_listing_query_parsing_and_errors(testnet, tree) -> None:
    keypair, _, urls = tree
    user = keypair.public_key.z32()
    bare = raw(testnet, "GET", "/pub/test/?shallow", user)
    assert bare.status_code == 200
    assert bare.headers["Content-Type"].startswith("text/plain")
    assert len(bare.text.split("\n")) == 6
    assert not bare.text.endswith("\n")
    assert raw(testnet, "GET", "/pub/test/?limit=abc", user).text.count("\n") == 7
    assert raw(testnet, "GET", "/pub/test/?cursor=", user).status_code == 200
    assert raw(testnet, "GET", "/pub/test/?reverse=maybe", user).status_code == 400
    invalid = raw(testnet, "GET", "/pub/test/?cursor=nonsense", user)
    assert invalid.status_code == 400
    assert invalid.text == "Invalid cursor"
    prefixed = raw(testnet, "GET", f"/pub/test/?cursor=pubky{user}/pub/test/1.txt", user)
    assert prefixed.status_code == 400
    missing = raw(testnet, "GET", "/pub/nothing/", user)
    assert missing.status_code == 404
    assert missing.text == "Directory Not Found"
    unknown = raw(testnet, "GET", "/pub/", Keypair.random().public_key.z32())
    assert unknown.status_code == 404
    with pytest.raises(ValueError):
        testnet.homeserver_client().list(urls[0])


def test_never_500_on_odd_input(testnet, signed_up) -> None:
    keypair, client = signed_up
    user = keypair.public_key.z32()
    cookie = {"Cookie": f"{user}={client.session_cookie(keypair)}"}
    odd = [
        ("GET", "/pub/%00"),
        ("GET", "/pub/%ff%fe"),
        ("PUT", "/pub/%01"),
        ("GET", "/pub/../../etc/passwd"),
        ("GET", "/events/?cursor=%ff"),
        ("GET", "/events/?limit=-1"),
        ("GET", "/events-stream?user=%00"),
        ("POST", "/signup?signup_token=%ff"),
        ("POST", "/session"),
        ("DELETE", "/session"),
        ("GET", "/session"),
        ("GET", "/pub/?cursor=" + "a" * 5000),
        ("DELETE", "/pub/"),
    ]
    for method, path in odd:
        for headers in ({"pubky-host": user, **cookie}, {}, {"pubky-host": "\u00e9"}):
            response = raw(testnet, method, path, headers=dict(headers), data=b"\x00\x01")
            assert response.status_code < 500, (method, path, headers, response.text)
