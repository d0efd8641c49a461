"""The real ``@synonymdev/pubky@0.6.0`` client against OUR testnet (relay, homeserver, HTTP relay).

One WASM process walks the whole user journey once per module (signup with an admin-issued
token, storage, listings, signout, signin, PKDNS); the tests below assert its transcript step by
step and cross-check every result with our Python clients. pubkyauth runs through our HTTP
relay in both directions.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import pytest

from pubky.auth import AuthToken, AuthVerifier, Capabilities
from pubky.errors import AuthTokenReplayed
from pubky.homeserver_client import build_pubky_packet
from pubky.keys import Keypair
from pubky.packet import Record, SignedPacket
from pubky.urls import PubkyUrl
from tests.interop.oracles import NodeRun, NodeScriptError, pubky, run_node
from tests.interop.pubkyauth import AuthRequest, approve, receive

if TYPE_CHECKING:
    from pubky.testnet import Testnet

pytestmark = pytest.mark.interop

DIR = "/pub/interop.test/"
LIST_DIR = f"{DIR}list/"
LIST_FILES = ["a.txt", "b.txt", "c/d.txt", "c/e.txt", "f.txt"]


@dataclass(frozen=True)
class Journey:
    """The transcript of ``user_flow`` (see ``js/pubky_tool.mjs``)."""

    keypair: Keypair
    steps: dict[str, Any]
    run: NodeRun

    @property
    def user(self) -> str:
        return self.keypair.public_key.z32()

    def ok(self, name: str) -> Any:
        step = self.steps.get(name)
        assert step is not None, f"step {name!r} did not run\n{self.run.describe(0)}"
        assert step["ok"], f"WASM step {name!r} failed: {step['error']}\n{self.run.describe(0)}"
        return step["value"]

    def failed(self, name: str) -> tuple[int | None, str]:
        """(HTTP status, message) of a step that must have failed."""
        step = self.steps.get(name)
        assert step is not None, f"step {name!r} did not run\n{self.run.describe(0)}"
        assert not step["ok"], f"WASM step {name!r} succeeded: {step['value']}"
        error = step["error"]
        data = error.get("data") or {}
        return data.get("statusCode"), error["message"]

    def url(self, path: str) -> str:
        return f"pubky://{self.user}{path}"


@pytest.fixture(scope="module")
def journey(interop_testnet: Testnet, signup_token: Callable[[], str]) -> Journey:
    keypair = Keypair.random()
    run = pubky(
        {
            "op": "user_flow",
            "relays": interop_testnet.relay_urls,
            "homeserver": interop_testnet.homeserver_public_key.z32(),
            "signup_token": signup_token(),
            "secret": keypair.secret.hex(),
            "second_secret": os.urandom(32).hex(),
        },
        timeout=60,
    )
    value = run.value()
    assert value["user"] == keypair.public_key.z32()
    return Journey(keypair, value["steps"], run)


# --- signup & PKDNS ----------------------------------------------------------------------------


def test_wasm_signup_needs_a_valid_unused_signup_token(journey: Journey) -> None:
    assert journey.failed("signup_without_token") == (
        400,
        "Request failed: Server responded with an error: 400 Bad Request - Token required",
    )
    status, message = journey.failed("signup_with_bogus_token")
    assert (status, message.endswith("Invalid token")) == (401, True)
    status, message = journey.failed("signup_with_used_token")
    assert (status, message.endswith("Token already used")) == (401, True)


def test_wasm_signs_up_with_an_admin_issued_token_and_gets_a_root_session(
    journey: Journey,
) -> None:
    assert journey.ok("signup") == {"public_key": journey.user, "capabilities": ["/:rw"]}


def test_wasm_published_pubky_record_is_resolved_and_verified_by_python(
    journey: Journey, interop_testnet: Testnet
) -> None:
    journey.ok("signup")
    packet = interop_testnet.relay_client().resolve(journey.keypair.public_key)
    assert packet is not None, "the WASM client did not publish the user's packet to our relay"
    packet.verify()
    hs = interop_testnet.homeserver_public_key.z32()
    assert [(r.name, r.rtype, r.value, r.ttl) for r in packet.records()] == [
        ("_pubky", "HTTPS", f"0 {hs}.", 3600)
    ]
    # Byte-identical DNS encoding to what our client would publish.
    ours = build_pubky_packet(journey.keypair, interop_testnet.homeserver_public_key, None)
    assert ours.dns_packet == packet.dns_packet
    assert interop_testnet.homeserver_client().homeserver_of(journey.user) == (
        interop_testnet.homeserver_public_key
    )


def test_wasm_resolves_our_homeserver_from_the_user_record(
    journey: Journey, interop_testnet: Testnet
) -> None:
    hs = interop_testnet.homeserver_public_key.z32()
    assert journey.ok("homeserver_of_user") == hs
    assert journey.ok("pkdns_get_homeserver") == hs
    assert journey.ok("homeserver_of_user_after_signin") == hs


# --- storage -----------------------------------------------------------------------------------


def test_wasm_writes_and_reads_text_json_and_bytes(journey: Journey) -> None:
    for name in ("put_text", "put_json", "put_bytes"):
        journey.ok(name)
    assert journey.ok("get_text") == "hello from wasm"
    assert journey.ok("get_json") == {"hello": "world", "n": 1}
    assert journey.ok("get_bytes") == "00010203feff"
    assert journey.ok("public_get_text") == "hello from wasm"
    assert journey.ok("public_get_text_pubky_url") == "hello from wasm"
    assert journey.ok("public_get_json") == {"hello": "world", "n": 1}
    assert journey.ok("exists_present") is True
    assert journey.ok("exists_missing") is False
    assert journey.ok("stats_missing") is None


def test_files_written_by_wasm_read_the_same_through_python(
    journey: Journey, interop_testnet: Testnet
) -> None:
    client = interop_testnet.homeserver_client()
    blob = client.get(journey.url(f"{DIR}blob.bin"))
    assert blob.content == bytes.fromhex(journey.ok("get_bytes"))
    stats = journey.ok("stats")
    assert blob.etag is not None
    assert stats["etag"] == blob.etag.strip('"')
    assert stats["contentLength"] == len(blob.content) == blob.content_length
    assert stats["contentType"] == blob.content_type
    assert client.get(journey.url(f"{DIR}hello.txt")).text() == "hello from wasm"

    raw = journey.ok("raw_get_headers")
    assert raw["status"] == 200
    hello = client.head(journey.url(f"{DIR}hello.txt"))
    assert raw["headers"]["etag"] == hello.etag
    assert raw["headers"]["last-modified"] == hello.last_modified
    assert raw["headers"]["vary"].lower() == "pubky-host"


def test_wasm_uploads_and_downloads_a_one_mebibyte_file(
    journey: Journey, interop_testnet: Testnet
) -> None:
    digest = journey.ok("put_big")
    assert journey.ok("get_big") == digest
    big = interop_testnet.homeserver_client().get(journey.url(f"{DIR}big.bin"))
    assert big.content_length == len(big.content) == 1024 * 1024
    assert hashlib.sha256(big.content).hexdigest() == digest


def test_wasm_session_writes_store_non_ascii_names_percent_encoded_like_upstream(
    journey: Journey, interop_testnet: Testnet
) -> None:
    """SDK 0.6.0 quirk: ``SessionStorage`` percent-encodes the path once more than the URL
    needs, so the homeserver (which decodes once, like axum's ``Path``) stores the name
    percent-encoded. Reads through the same API round-trip; the natural public address 404s.
    """
    name = "ünï cödé & co+plus.txt"
    journey.ok("put_odd_path")
    assert journey.ok("get_odd_path") == "odd path"
    status, _ = journey.failed("public_get_odd_path")
    assert status == 404
    listed = interop_testnet.homeserver_client().list(journey.url(f"{DIR}odd/"))
    assert len(listed) == 1
    stored = listed[0].rsplit("/", 1)[1]
    assert stored == quote(name, safe="&+")
    assert unquote(stored) == name
    assert len(journey.ok("list_odd_dir")) == 1


def test_wasm_cannot_write_outside_pub(journey: Journey) -> None:
    status, message = journey.failed("put_outside_pub")
    assert status == 403
    assert message.endswith("Writing to directories other than '/pub/' is forbidden")


def test_wasm_lists_directories_with_cursor_limit_reverse_and_shallow(journey: Journey) -> None:
    for name in LIST_FILES:
        journey.ok(f"put_list_{name}")
    files = [journey.url(f"{LIST_DIR}{name}") for name in LIST_FILES]
    shallow = [files[0], files[1], journey.url(f"{LIST_DIR}c/"), files[4]]
    assert journey.ok("list_deep") == files
    assert journey.ok("session_list") == files
    assert journey.ok("list_shallow") == shallow
    assert journey.ok("list_limit") == files[:2]
    assert journey.ok("list_cursor") == files[2:4]
    assert journey.ok("list_reverse") == files[::-1]
    assert journey.ok("list_reverse_limit") == files[::-1][:2]
    assert journey.ok("list_shallow_reverse") == shallow[::-1]
    status, message = journey.failed("list_missing_dir")
    assert (status, message.endswith("Directory Not Found")) == (404, True)


def test_python_lists_exactly_what_wasm_listed(journey: Journey, interop_testnet: Testnet) -> None:
    client = interop_testnet.homeserver_client()
    directory = journey.url(LIST_DIR)
    # f.txt was deleted later in the journey; compare against the listing minus it.
    deleted = journey.url(f"{LIST_DIR}f.txt")

    def without_deleted(urls: list[str]) -> list[str]:
        return [url for url in urls if url != deleted]

    assert client.list(directory) == without_deleted(journey.ok("list_deep"))
    assert client.list(directory, shallow=True) == without_deleted(journey.ok("list_shallow"))
    assert client.list(directory, limit=2) == journey.ok("list_limit")
    cursor = journey.ok("list_limit")[-1]
    assert client.list(directory, cursor=cursor, limit=2) == journey.ok("list_cursor")
    assert client.list(directory, reverse=True) == without_deleted(journey.ok("list_reverse"))


def test_wasm_deletes_a_file(journey: Journey, interop_testnet: Testnet) -> None:
    journey.ok("delete")
    assert journey.ok("exists_after_delete") is False
    status, _ = journey.failed("get_after_delete")
    assert status == 404
    assert not interop_testnet.homeserver_client().exists(journey.url(f"{LIST_DIR}f.txt"))


# --- sessions ----------------------------------------------------------------------------------


def test_wasm_signout_ends_the_cookie_session(journey: Journey) -> None:
    journey.ok("signout")
    status, _ = journey.failed("put_after_signout")
    assert status == 401


def test_wasm_signs_in_again_and_writes(journey: Journey, interop_testnet: Testnet) -> None:
    assert journey.ok("signin_blocking") == {"public_key": journey.user, "capabilities": ["/:rw"]}
    journey.ok("put_after_signin")
    assert journey.ok("get_after_signin") == "back"
    assert journey.ok("signin") == {"public_key": journey.user, "capabilities": ["/:rw"]}
    client = interop_testnet.homeserver_client()
    assert client.get(journey.url(f"{DIR}after-signin.txt")).text() == "back"
    assert not client.exists(journey.url(f"{DIR}after-signout.txt"))


# --- Python writes, WASM reads -----------------------------------------------------------------


def test_wasm_reads_the_pkdns_record_and_files_python_wrote(
    interop_testnet: Testnet, signup_token: Callable[[], str]
) -> None:
    client = interop_testnet.homeserver_client()
    keypair = Keypair.random()
    hs = interop_testnet.homeserver_public_key
    client.signup(keypair, hs, signup_token=signup_token())
    user = keypair.public_key
    client.put(PubkyUrl.of(user, "/pub/from.python/hello.txt"), "hello from python")
    client.put(PubkyUrl.of(user, "/pub/from.python/sub/deep.json"), '{"deep": true}')
    client.put(PubkyUrl.of(user, "/pub/from.python/ünï cödé.txt"), "natural name")

    relays = interop_testnet.relay_urls
    run = pubky(
        {"op": "get_homeserver_of", "relays": relays, "user": user.z32()},
        {
            "op": "public_get_text",
            "relays": relays,
            "address": f"{user.to_pubky()}/pub/from.python/hello.txt",
        },
        {"op": "public_list", "relays": relays, "address": f"pubky://{user}/pub/from.python/"},
        {
            "op": "public_get_text",
            "relays": relays,
            "address": f"{user.to_pubky()}/pub/from.python/ünï cödé.txt",
        },
    )
    assert run.value(0)["homeserver"] == hs.z32()
    assert run.value(1)["text"] == "hello from python"
    assert run.value(2)["entries"] == [
        f"pubky://{user}/pub/from.python/hello.txt",
        f"pubky://{user}/pub/from.python/sub/deep.json",
        # The SDK re-encodes listed URLs; the stored name is the natural one.
        f"pubky://{user}/pub/from.python/{quote(quote('ünï cödé.txt'), safe='%')}",
    ]
    assert run.value(3)["text"] == "natural name"


def test_wasm_signin_republishes_a_stale_pubky_record_with_cas_keeping_other_records(
    interop_testnet: Testnet, signup_token: Callable[[], str]
) -> None:
    client = interop_testnet.homeserver_client()
    keypair = Keypair.random()
    hs = interop_testnet.homeserver_public_key
    client.signup(keypair, hs, signup_token=signup_token(), publish=False)
    two_hours_ago = int(time.time() * 1_000_000) - 2 * 3600 * 1_000_000
    stale = SignedPacket.sign(
        keypair,
        [
            Record.txt("_keep", "me", 600),
            Record("@", "A", "127.0.0.1", 600),
            Record("_pubky", "HTTPS", f"0 {hs.z32()}.", 3600),
        ],
        timestamp=two_hours_ago,
    )
    relays = interop_testnet.relay_client()
    assert relays.publish(stale).ok

    session = pubky(
        {
            "op": "signin",
            "relays": interop_testnet.relay_urls,
            "secret": keypair.secret.hex(),
            "blocking": True,
        }
    ).value()
    assert session["capabilities"] == ["/:rw"]

    fresh = relays.resolve(keypair.public_key)
    assert fresh is not None
    assert fresh.timestamp > stale.timestamp, "the SDK did not republish its stale record"
    records = {
        (r.name, r.rtype, r.text() if r.rtype == "TXT" else r.value) for r in fresh.records()
    }
    assert records == {
        ("_keep", "TXT", "me"),
        ("@", "A", "127.0.0.1"),
        ("_pubky", "HTTPS", f"0 {hs.z32()}."),
    }


# --- AuthTokens via pubkyauth ------------------------------------------------------------------


def _auth_flow(testnet: Testnet, keypair: Keypair, capabilities: str, **extra: Any) -> NodeRun:
    return pubky(
        {
            "op": "auth_flow",
            "relays": testnet.relay_urls,
            "http_relay": testnet.http_relay_link_url,
            "capabilities": capabilities,
            "secret": keypair.secret.hex(),
            **extra,
        }
    )


@pytest.mark.parametrize(
    "capabilities",
    ["/pub/app/:rw", "", "/pub/a/:rw,/pub/a/b/:r,/pub/x.txt:wr"],
    ids=["one-scope", "auth-only", "merged"],
)
def test_python_verifies_a_wasm_signed_token_delivered_through_our_http_relay(
    interop_testnet: Testnet, capabilities: str
) -> None:
    keypair = Keypair.random()
    run = _auth_flow(interop_testnet, keypair, capabilities, **{"await": "token"})
    flow = run.value()
    raw = bytes.fromhex(flow["token"]["bytes"])

    verifier = AuthVerifier()
    token = verifier.verify(raw)  # window, signature (token[65:] quirk), replay bookkeeping
    assert token.public_key == keypair.public_key
    assert [str(cap) for cap in token.capabilities] == flow["token"]["capabilities"]
    assert token.capabilities == Capabilities.parse(capabilities)
    assert len(raw) == 115 + 1 + len(token.capabilities_text)
    with pytest.raises(AuthTokenReplayed):
        verifier.verify(raw)


def test_wasm_app_gets_a_capability_scoped_session_on_our_homeserver(
    interop_testnet: Testnet, signup_token: Callable[[], str]
) -> None:
    keypair = Keypair.random()
    interop_testnet.homeserver_client().signup(
        keypair, interop_testnet.homeserver_public_key, signup_token=signup_token()
    )
    run = _auth_flow(
        interop_testnet,
        keypair,
        "/pub/app/:rw",
        **{
            "await": "session",
            "write_inside": "/pub/app/in.txt",
            "write_outside": "/pub/other/out.txt",
        },
    )
    flow = run.value()
    assert flow["session"] == {
        "public_key": keypair.public_key.z32(),
        "capabilities": ["/pub/app/:rw"],
    }
    assert flow["writes"]["inside"]["ok"], run.describe(0)
    outside = flow["writes"]["outside"]
    assert not outside["ok"]
    assert outside["error"]["data"]["statusCode"] == 403
    client = interop_testnet.homeserver_client()
    assert client.get(PubkyUrl.of(keypair.public_key, "/pub/app/in.txt")).text() == "inside scope"


def test_wasm_approves_a_pubkyauth_link_built_by_a_python_app(interop_testnet: Testnet) -> None:
    relay = interop_testnet.http_relay_link_url
    assert relay is not None
    request = AuthRequest.new("/pub/python.app/:rw", relay)
    received: dict[str, bytes | BaseException] = {}

    def app() -> None:
        try:
            received["token"] = receive(request)
        except BaseException as exc:  # reported below
            received["error"] = exc

    waiter = threading.Thread(target=app, name="pubkyauth-app", daemon=True)
    waiter.start()
    keypair = Keypair.random()
    pubky(
        {
            "op": "approve_auth_url",
            "relays": interop_testnet.relay_urls,
            "secret": keypair.secret.hex(),
            "url": request.url(),
        }
    ).value()
    waiter.join(timeout=20)
    assert "error" not in received, received.get("error")
    raw = received["token"]
    assert isinstance(raw, bytes)
    token = AuthToken.parse(raw)
    token.verify()
    assert token.public_key == keypair.public_key
    assert str(token.capabilities) == "/pub/python.app/:rw"


@pytest.mark.parametrize("awaited", ["token", "session"])
def test_wasm_app_accepts_an_approval_from_a_python_authenticator(
    interop_testnet: Testnet, signup_token: Callable[[], str], awaited: str
) -> None:
    keypair = Keypair.random()
    if awaited == "session":
        interop_testnet.homeserver_client().signup(
            keypair, interop_testnet.homeserver_public_key, signup_token=signup_token()
        )
    with tempfile.TemporaryDirectory(prefix="pubkyauth-") as tmp:
        url_file = Path(tmp) / "url"
        outcome: dict[str, NodeRun | BaseException] = {}

        def app() -> None:
            try:
                outcome["run"] = run_node(
                    "pubky_tool.mjs",
                    [
                        {
                            "op": "auth_flow",
                            "relays": interop_testnet.relay_urls,
                            "http_relay": interop_testnet.http_relay_link_url,
                            "capabilities": "/pub/wasm.app/:rw",
                            "await": awaited,
                            "approver": "external",
                            "url_file": str(url_file),
                        }
                    ],
                    timeout=30,
                )
            except BaseException as exc:  # reported below
                outcome["error"] = exc

        waiter = threading.Thread(target=app, name="wasm-app", daemon=True)
        waiter.start()
        deadline = time.monotonic() + 20
        while not (url_file.exists() and url_file.read_text()) and time.monotonic() < deadline:
            if not waiter.is_alive():
                break
            time.sleep(0.02)
        if not url_file.exists():
            waiter.join(timeout=5)
            raise NodeScriptError(f"the WASM app never produced its deep link: {outcome}")
        request = AuthRequest.parse(url_file.read_text())
        assert request.relay == interop_testnet.http_relay_link_url
        assert request.capabilities == "/pub/wasm.app/:rw"
        token = approve(keypair, request)
        waiter.join(timeout=30)

    assert "error" not in outcome, outcome.get("error")
    run = outcome["run"]
    assert isinstance(run, NodeRun)
    flow = run.value()
    if awaited == "token":
        assert flow["token"]["bytes"] == token.to_bytes().hex()
        assert flow["token"]["public_key"] == keypair.public_key.z32()
    else:
        assert flow["session"] == {
            "public_key": keypair.public_key.z32(),
            "capabilities": ["/pub/wasm.app/:rw"],
        }
