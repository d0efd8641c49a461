"""AuthTokens, capabilities and recovery files: ``pubky.auth``/``pubky.recovery`` vs WASM (offline).

WASM-*signed* tokens need a network flow (the SDK has no public signing API); those are checked
in ``test_npm_pubky_homeserver.py`` via pubkyauth through our HTTP relay.
"""

from __future__ import annotations

import os
import time

import pytest

from pubky import postcard
from pubky.auth import AuthToken, Capabilities
from pubky.errors import AuthTokenExpired, InvalidAuthToken, InvalidCapabilities, RecoveryFileError
from pubky.keys import Keypair
from pubky.recovery import create_recovery_file, decrypt_recovery_file
from tests.interop.oracles import pubky

pytestmark = pytest.mark.interop

ZERO_SEED_KEY = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"

# An AuthToken signed by the all-zero seed at timestamp 1700000000000000 (pubky-core v0.6.0).
TOKEN_ROOT = (
    "072028a652776bb0aa92409809ad200896ac39894ccb96c2078158efdec3b7e093300a437dedf23d77f0cf7cf8"
    "99b359e7ffbbb937a79ada3e812dbb9fe531065055424b593a415554480000060a24181e40003b6a27bcceb6a4"
    "2d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29042f3a7277"
)
TOKEN_TWO_CAPS = (
    "d578f120a0f0d662af0c335c9531b4b2a118daef81c05b23c2a9b39f060d46c4500833df88f67713187077e83a"
    "a0bbec589da8fb01a14f0d9f4f1c2f13d7520b5055424b593a415554480000060a24181e40003b6a27bcceb6a4"
    "2d62a3a8d02a6f0d73653215771de243a63ac048a18b59da291b2f7075622f6170702f3a72772c2f7075622f66"
    "6f6f2e7478743a72"
)

CAPABILITY_INPUTS = [
    "/:rw",
    "",
    "/pub/app/:wr,/pub/foo.txt:r",
    " /pub/x/:r , /pub/y/:w ",
    "/pub/x/:rr",
    "/pub/x/:",
    "/pub/x/:r,,/pub/y/:w",
    "/pub/:r,/pub/:w",
    "/pub/x/:w,/pub/x/:r",
    "/pub/a/:rw,/pub/a/b/:r",
    "/pub/:rw,/pub/a/:r",
]
INVALID_CAPABILITY_INPUTS = ["pub/x:r", "/pub/x/:rwx", "/a:b:c", "/pub/x/", "/pub/ok/:r,bad"]


def _hand_built_token(keypair: Keypair, capabilities_text: str, timestamp: int) -> bytes:
    """An AuthToken assembled field by field, *without* normalising the capabilities.

    The layout is in ``docs/pubky.md``, "AuthToken, capabilities and sessions".
    """
    body = (
        b"PUBKY:AUTH"
        + b"\x00"
        + timestamp.to_bytes(8, "big")
        + keypair.public_key.raw
        + postcard.encode_str(capabilities_text)
    )
    return keypair.sign(body[1:]) + body  # the signature covers token[65:]


def _now_us() -> int:
    return time.time_ns() // 1000


# --- AuthToken ---------------------------------------------------------------------------------


def test_wasm_parses_python_auth_token_vectors_and_reserialises_them_identically() -> None:
    run = pubky(
        {"op": "auth_token_parse", "token": TOKEN_ROOT},
        {"op": "auth_token_parse", "token": TOKEN_TWO_CAPS},
    )
    assert run.value(0) == {
        "ok": True,
        "public_key": ZERO_SEED_KEY,
        "capabilities": ["/:rw"],
        "bytes": TOKEN_ROOT,
    }
    assert run.value(1)["capabilities"] == ["/pub/app/:rw", "/pub/foo.txt:r"]
    assert run.value(1)["bytes"] == TOKEN_TWO_CAPS

    zero = Keypair.from_secret(bytes(32))
    ours = AuthToken.sign(zero, "/:rw", timestamp=1_700_000_000_000_000)
    assert ours.to_bytes().hex() == TOKEN_ROOT
    two = AuthToken.sign(zero, "/pub/app/:rw,/pub/foo.txt:r", timestamp=1_700_000_000_000_000)
    assert two.to_bytes().hex() == TOKEN_TWO_CAPS


@pytest.mark.parametrize(
    "capabilities", ["/:rw", "", "/pub/app/:rw,/pub/foo.txt:r", "/pub/pubky.app/:rw"]
)
def test_wasm_verifies_a_fresh_python_signed_auth_token(capabilities: str) -> None:
    keypair = Keypair.random()
    token = AuthToken.sign(keypair, capabilities)
    verified = pubky({"op": "auth_token_verify", "token": token.to_bytes().hex()}).value()
    assert verified["public_key"] == keypair.public_key.z32()
    assert verified["capabilities"] == [str(cap) for cap in token.capabilities]
    assert verified["bytes"] == token.to_bytes().hex()


def test_wasm_and_python_both_reject_a_python_token_with_a_bad_signature() -> None:
    raw = bytearray(AuthToken.sign(Keypair.random(), "/pub/app/:rw").to_bytes())
    raw[-1] ^= 0x01  # a capability byte: covered by the signature
    error = pubky({"op": "auth_token_verify", "token": bytes(raw).hex()}).error()
    assert "signature" in error["message"].lower(), error
    with pytest.raises(InvalidAuthToken):
        AuthToken.parse(bytes(raw)).verify()


@pytest.mark.parametrize(("offset_s", "word"), [(-50, "past"), (50, "future")])
def test_wasm_and_python_agree_on_the_45_second_token_window(offset_s: int, word: str) -> None:
    keypair = Keypair.random()
    stale = AuthToken.sign(keypair, "/:rw", timestamp=_now_us() + offset_s * 1_000_000)
    error = pubky({"op": "auth_token_verify", "token": stale.to_bytes().hex()}).error()
    assert f"more than 45 seconds in the {word}" in error["message"], error
    with pytest.raises(AuthTokenExpired, match=f"more than 45 seconds in the {word}"):
        stale.verify()

    inside = AuthToken.sign(keypair, "/:rw", timestamp=_now_us() + (offset_s // 2) * 1_000_000)
    pubky({"op": "auth_token_verify", "token": inside.to_bytes().hex()}).value()
    inside.verify()


# --- capabilities ------------------------------------------------------------------------------


def test_capability_strings_are_accepted_and_rejected_like_wasm_validate_capabilities() -> None:
    values = CAPABILITY_INPUTS + INVALID_CAPABILITY_INPUTS
    validated = pubky({"op": "validate_capabilities", "values": values}).value()["validated"]
    verdicts = {entry["input"]: entry["ok"] for entry in validated}
    for text in CAPABILITY_INPUTS:
        assert verdicts[text], f"WASM rejected {text!r}"
        Capabilities.parse(text)
    for text in INVALID_CAPABILITY_INPUTS:
        assert not verdicts[text], f"WASM accepted {text!r}"
        with pytest.raises(InvalidCapabilities):
            Capabilities.parse(text)


def test_capabilities_in_a_foreign_token_are_read_like_wasm_reads_them() -> None:
    """Tokens carry capabilities verbatim; both readers merge/de-duplicate/drop them alike."""
    keypair = Keypair.random()
    now = _now_us()
    tokens = [_hand_built_token(keypair, text, now + i) for i, text in enumerate(CAPABILITY_INPUTS)]
    run = pubky(*({"op": "auth_token_verify", "token": token.hex()} for token in tokens))
    for index, (text, token) in enumerate(zip(CAPABILITY_INPUTS, tokens, strict=True)):
        ours = AuthToken.parse(token)
        ours.verify()
        assert [str(cap) for cap in ours.capabilities] == run.value(index)["capabilities"], (
            text,
            run.describe(index),
        )


def test_capabilities_python_signs_are_read_back_identically_by_wasm() -> None:
    keypair = Keypair.random()
    tokens = [AuthToken.sign(keypair, text) for text in CAPABILITY_INPUTS]
    run = pubky(*({"op": "auth_token_verify", "token": t.to_bytes().hex()} for t in tokens))
    for index, (text, token) in enumerate(zip(CAPABILITY_INPUTS, tokens, strict=True)):
        expected = str(Capabilities.parse(text))
        assert token.capabilities_text == expected
        assert ",".join(run.value(index)["capabilities"]) == expected, run.describe(index)


# --- recovery files ----------------------------------------------------------------------------


@pytest.mark.parametrize("passphrase", ["", "correct horse battery staple", "pässwörd ✓"])
def test_wasm_opens_a_python_recovery_file_and_python_opens_a_wasm_one(passphrase: str) -> None:
    keypair = Keypair.random()
    python_file = create_recovery_file(keypair, passphrase)
    run = pubky(
        {"op": "recovery_open", "file": python_file.hex(), "passphrase": passphrase},
        {"op": "recovery_create", "secret": keypair.secret.hex(), "passphrase": passphrase},
    )
    opened = run.value(0)
    assert opened["secret"] == keypair.secret.hex()
    assert opened["z32"] == keypair.public_key.z32()

    wasm_file = bytes.fromhex(run.value(1)["file"])
    assert len(wasm_file) == len(python_file) == 91
    assert wasm_file.startswith(b"pubky.org/recovery\n")
    assert decrypt_recovery_file(wasm_file, passphrase) == keypair


def test_wasm_and_python_both_refuse_a_recovery_file_with_the_wrong_passphrase() -> None:
    keypair = Keypair.from_secret(os.urandom(32))
    python_file = create_recovery_file(keypair, "right")
    run = pubky(
        {"op": "recovery_open", "file": python_file.hex(), "passphrase": "wrong"},
        {"op": "recovery_create", "secret": keypair.secret.hex(), "passphrase": "right"},
    )
    run.error(0)
    with pytest.raises(RecoveryFileError):
        decrypt_recovery_file(bytes.fromhex(run.value(1)["file"]), "wrong")
