"""Capabilities, AuthToken (with v0.6.0's quirks), AuthVerifier and SessionInfo."""

from __future__ import annotations

import threading

import pytest

from pubky.auth import (
    AuthToken,
    AuthVerifier,
    Capabilities,
    Capability,
    SessionInfo,
)
from pubky.errors import (
    AuthTokenExpired,
    AuthTokenReplayed,
    InvalidAuthToken,
    InvalidCapabilities,
    InvalidSessionInfo,
)
from pubky.keys import Keypair, is_valid_point

ZERO = Keypair.from_secret(bytes(32))
T0 = 1_700_000_000_000_000
SECOND = 1_000_000

ROOT_TOKEN = bytes.fromhex(
    "072028a652776bb0aa92409809ad200896ac39894ccb96c2078158efdec3b7e093300a437dedf23d77f0cf7c"
    "f899b359e7ffbbb937a79ada3e812dbb9fe531065055424b593a415554480000060a24181e40003b6a27bcce"
    "b6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29042f3a7277"
)
APP_TOKEN = bytes.fromhex(
    "d578f120a0f0d662af0c335c9531b4b2a118daef81c05b23c2a9b39f060d46c4500833df88f67713187077e8"
    "3aa0bbec589da8fb01a14f0d9f4f1c2f13d7520b5055424b593a415554480000060a24181e40003b6a27bcce"
    "b6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da291b2f7075622f6170702f3a72772c2f7075"
    "622f666f6f2e7478743a72"
)
SESSION_VECTOR = bytes(
    [0, 59, 106, 39, 188, 206, 182, 164, 45, 98, 163, 168, 208, 42, 111, 13, 115, 101, 50, 21,
     119, 29, 226, 67, 166, 58, 192, 72, 161, 139, 89, 218, 41, 0, 0, 3, 102, 111, 111, 1, 4,
     47, 58, 114, 119]
)  # fmt: skip


# --- capabilities ----------------------------------------------------------------------------


def test_it_normalizes_action_order() -> None:
    caps = Capabilities.parse("/pub/app/:wr,/pub/foo.txt:r")
    assert str(caps) == "/pub/app/:rw,/pub/foo.txt:r"
    assert list(caps) == [Capability("/pub/app/", "rw"), Capability("/pub/foo.txt", "r")]


def test_a_normalized_string_round_trips() -> None:
    for text in ("/:rw", "/pub/app/:rw,/pub/foo.txt:r", "/priv/x/:w", "", "/a:"):
        assert str(Capabilities.parse(text)) == text


def test_the_empty_string_means_no_capabilities() -> None:
    caps = Capabilities.parse("")
    assert len(caps) == 0
    assert not caps
    assert str(caps) == ""


def test_it_trims_entries_and_skips_empty_ones_like_validate_capabilities() -> None:
    assert str(Capabilities.parse(" /:rw , ,")) == "/:rw"


@pytest.mark.parametrize(
    "text",
    ["pub/app:rw", "/pub/app", "/pub/app:rx", "/a:b:rw", "/pub/a/:rw,/x:y,/pub/b/:x", ":rw"],
)
def test_it_rejects_malformed_capabilities(text: str) -> None:
    with pytest.raises(InvalidCapabilities):
        Capabilities.parse(text)


def test_it_lists_every_malformed_entry() -> None:
    with pytest.raises(InvalidCapabilities, match=r"/x:y, /pub/b/:x"):
        Capabilities.parse("/pub/a/:rw,/x:y,/pub/b/:x")


def test_it_merges_and_drops_redundant_capabilities_like_pubky_common() -> None:
    caps = Capabilities.parse(
        "/pub/example.com/:rw,/pub/example.com/:rw,/pub/example.com/subfolder:w"
    )
    assert str(caps) == "/pub/example.com/:rw"
    assert str(Capabilities.parse("/pub/e/:r,/pub/e/:w")) == "/pub/e/:rw"
    assert str(Capabilities.parse("/pub/e/sub:w,/pub/e/:rw")) == "/pub/e/:rw"


def test_capability_objects_validate_themselves() -> None:
    assert str(Capability("/x", "wwr")) == "/x:rw"
    assert Capability.root() == Capability.parse("/:rw")
    for scope, actions in (("x", "r"), ("/x", "z"), ("/a:b", "r"), ("/a,b", "r")):
        with pytest.raises(InvalidCapabilities):
            Capability(scope, actions)


def test_write_access_is_a_plain_prefix_match_in_v0_6() -> None:
    caps = Capabilities.parse("/pub/app/:rw,/pub/foo.txt:r")
    assert caps.can_write("/pub/app/data.json")
    assert not caps.can_write("/pub/foo.txt")
    assert caps.can_read("/pub/foo.txt")
    assert Capabilities.parse("/pub/app:w").can_write("/pub/apple")  # v0.6.0 semantics
    assert Capabilities.root().can_write("/pub/anything")


def test_capability_errors_are_auth_token_errors() -> None:
    with pytest.raises(InvalidAuthToken):
        Capabilities.parse("nope")


# --- AuthToken vectors -----------------------------------------------------------------------


def test_it_signs_the_root_token_vector() -> None:
    token = AuthToken.sign(ZERO, "/:rw", timestamp=T0)
    assert token.to_bytes() == ROOT_TOKEN
    assert len(ROOT_TOKEN) == 120


def test_it_signs_the_app_token_vector_from_unnormalized_caps() -> None:
    token = AuthToken.sign(ZERO, "/pub/app/:wr,/pub/foo.txt:r", timestamp=T0)
    assert token.to_bytes() == APP_TOKEN
    assert len(APP_TOKEN) == 143


@pytest.mark.parametrize("data", [ROOT_TOKEN, APP_TOKEN])
def test_it_parses_and_verifies_the_token_vectors(data: bytes) -> None:
    token = AuthToken.parse(data)
    assert token.public_key == ZERO.public_key
    assert token.timestamp == T0
    assert token.version == 0
    assert token.to_bytes() == data
    token.verify(now_us=T0)


def test_the_signature_covers_token_bytes_from_offset_65() -> None:
    token = AuthToken.parse(ROOT_TOKEN)
    assert ZERO.public_key.verify(ROOT_TOKEN[65:], token.signature)
    assert not ZERO.public_key.verify(ROOT_TOKEN[64:], token.signature)


def test_the_replay_id_is_timestamp_and_key() -> None:
    token = AuthToken.parse(ROOT_TOKEN)
    assert token.id == T0.to_bytes(8, "big") + ZERO.public_key.raw


def test_an_auth_only_token_is_116_bytes_ending_in_zero() -> None:
    token = AuthToken.sign(ZERO, "", timestamp=T0)
    assert len(token.to_bytes()) == 116
    assert token.to_bytes()[-1] == 0
    assert len(token.capabilities) == 0
    token.verify(now_us=T0)


def test_it_accepts_a_capabilities_object() -> None:
    caps = Capabilities.parse("/pub/app/:rw,/pub/foo.txt:r")
    assert AuthToken.sign(ZERO, caps, timestamp=T0).to_bytes() == APP_TOKEN


# --- AuthToken verification ------------------------------------------------------------------


def test_it_accepts_tokens_within_45_seconds_either_way() -> None:
    token = AuthToken.parse(ROOT_TOKEN)
    token.verify(now_us=T0 + 45 * SECOND)
    token.verify(now_us=T0 - 45 * SECOND)


def test_it_rejects_a_token_more_than_45_seconds_old() -> None:
    with pytest.raises(AuthTokenExpired, match="45 seconds in the past"):
        AuthToken.parse(ROOT_TOKEN).verify(now_us=T0 + 45 * SECOND + 1)


def test_it_rejects_a_token_more_than_45_seconds_in_the_future() -> None:
    with pytest.raises(AuthTokenExpired, match="45 seconds in the future"):
        AuthToken.parse(ROOT_TOKEN).verify(now_us=T0 - 45 * SECOND - 1)


def test_the_window_is_configurable_for_newer_servers() -> None:
    AuthToken.parse(ROOT_TOKEN).verify(now_us=T0 + 180 * SECOND, window_s=180)


def test_a_fresh_token_verifies_against_the_clock() -> None:
    AuthToken.sign(Keypair.random(), "/:rw").verify()


def test_it_rejects_a_tampered_signature_or_body() -> None:
    for offset in (0, 65, 80, 100, 119):
        tampered = bytearray(ROOT_TOKEN)
        tampered[offset] ^= 0x01
        with pytest.raises(InvalidAuthToken):
            AuthToken.parse(bytes(tampered)).verify(now_us=T0)


def test_it_rejects_a_foreign_namespace_even_though_byte_64_is_unsigned() -> None:
    tampered = bytearray(ROOT_TOKEN)
    tampered[64] = ord("X")
    token = AuthToken.parse(bytes(tampered))
    assert ZERO.public_key.verify(bytes(tampered[65:]), token.signature)
    with pytest.raises(InvalidAuthToken, match="namespace"):
        token.verify(now_us=T0)


def test_it_rejects_unknown_versions() -> None:
    tampered = bytearray(ROOT_TOKEN)
    tampered[74] = 1
    with pytest.raises(InvalidAuthToken, match="Unknown version"):
        AuthToken.parse(bytes(tampered)).verify(now_us=T0)


def test_it_applies_v0_6_version_check_to_the_first_timestamp_byte() -> None:
    # v0.6.0 reads byte 75 — the timestamp's most significant byte — as the version.
    timestamp = 1 << 56
    token = AuthToken.sign(ZERO, "/:rw", timestamp=timestamp)
    assert token.to_bytes()[75] == 1
    with pytest.raises(InvalidAuthToken, match="Unknown version"):
        token.verify(now_us=timestamp)


@pytest.mark.parametrize("size", [0, 64, 74, 114, 115])
def test_it_rejects_truncated_tokens(size: int) -> None:
    with pytest.raises(InvalidAuthToken):
        AuthToken.parse(ROOT_TOKEN[:size])


def test_it_rejects_a_capability_length_beyond_the_data() -> None:
    with pytest.raises(InvalidAuthToken):
        AuthToken.parse(ROOT_TOKEN[:115] + b"\x7f/:rw")


def test_it_rejects_a_token_whose_key_is_not_a_point() -> None:
    tampered = bytearray(ROOT_TOKEN)
    tampered[83:115] = next(
        bytes([i]) * 32 for i in range(256) if not is_valid_point(bytes([i]) * 32)
    )
    with pytest.raises(InvalidAuthToken, match="public key"):
        AuthToken.parse(bytes(tampered))


def test_it_drops_invalid_capabilities_inside_a_token_like_v0_6() -> None:
    # A v0.6.0 homeserver deserializes capabilities leniently; so do we.
    body = b"PUBKY:AUTH" + b"\x00" + T0.to_bytes(8, "big") + ZERO.public_key.raw
    caps = b"/:rw,bogus,/x:z"
    body += bytes([len(caps)]) + caps
    data = ZERO.sign(body[1:]) + body
    token = AuthToken.parse(data)
    assert str(token.capabilities) == "/:rw"
    assert token.capabilities_text == "/:rw,bogus,/x:z"
    token.verify(now_us=T0)


def test_it_refuses_to_sign_invalid_capabilities() -> None:
    with pytest.raises(InvalidCapabilities):
        AuthToken.sign(ZERO, "/pub/app:rx")


def test_it_rejects_non_bytes_tokens() -> None:
    with pytest.raises(InvalidAuthToken):
        AuthToken.parse("token")  # type: ignore[arg-type]


def test_tokens_compare_by_bytes() -> None:
    assert AuthToken.parse(ROOT_TOKEN) == AuthToken.sign(ZERO, "/:rw", timestamp=T0)
    assert AuthToken.parse(ROOT_TOKEN) != AuthToken.parse(APP_TOKEN)
    assert "8pinxx" in repr(AuthToken.parse(ROOT_TOKEN))


# --- AuthVerifier ----------------------------------------------------------------------------


def test_the_verifier_accepts_a_token_once() -> None:
    verifier = AuthVerifier()
    token = verifier.verify(ROOT_TOKEN, now_us=T0)
    assert token.public_key == ZERO.public_key
    with pytest.raises(AuthTokenReplayed):
        verifier.verify(ROOT_TOKEN, now_us=T0 + SECOND)


def test_a_replayed_token_is_an_invalid_token() -> None:
    verifier = AuthVerifier()
    verifier.verify(ROOT_TOKEN, now_us=T0)
    with pytest.raises(InvalidAuthToken):
        verifier.verify(ROOT_TOKEN, now_us=T0)


def test_the_verifier_treats_a_different_body_with_the_same_id_as_a_replay() -> None:
    # The id is (timestamp, key): re-signing other caps at the same microsecond is a replay.
    verifier = AuthVerifier()
    verifier.verify(ROOT_TOKEN, now_us=T0)
    with pytest.raises(AuthTokenReplayed):
        verifier.verify(APP_TOKEN, now_us=T0)


def test_the_verifier_does_not_remember_rejected_tokens() -> None:
    verifier = AuthVerifier()
    with pytest.raises(AuthTokenExpired):
        verifier.verify(ROOT_TOKEN, now_us=T0 + 100 * SECOND)
    assert len(verifier) == 0
    verifier.verify(ROOT_TOKEN, now_us=T0)


def test_the_verifier_forgets_ids_older_than_two_windows() -> None:
    verifier = AuthVerifier()
    verifier.verify(ROOT_TOKEN, now_us=T0)
    assert len(verifier) == 1
    later = T0 + 91 * SECOND
    verifier.verify(AuthToken.sign(ZERO, "/:rw", timestamp=later).to_bytes(), now_us=later)
    assert len(verifier) == 1


def test_the_verifier_keeps_ids_while_they_could_still_verify() -> None:
    verifier = AuthVerifier()
    verifier.verify(ROOT_TOKEN, now_us=T0 - 45 * SECOND)
    other = AuthToken.sign(ZERO, "/:rw", timestamp=T0 + 45 * SECOND).to_bytes()
    verifier.verify(other, now_us=T0 + 45 * SECOND)
    with pytest.raises(AuthTokenReplayed):
        verifier.verify(ROOT_TOKEN, now_us=T0 + 45 * SECOND)


def test_the_verifier_uses_its_clock() -> None:
    verifier = AuthVerifier(clock=lambda: T0, window_s=45)
    verifier.verify(ROOT_TOKEN)
    with pytest.raises(AuthTokenReplayed):
        verifier.verify(ROOT_TOKEN)


def test_the_verifier_admits_a_token_exactly_once_across_threads() -> None:
    verifier = AuthVerifier()
    keypair = Keypair.random()
    tokens = [AuthToken.sign(keypair, "/:rw").to_bytes() for _ in range(20)]
    accepted: list[bytes] = []
    lock = threading.Lock()

    def worker() -> None:
        for data in tokens:
            try:
                verifier.verify(data)
            except AuthTokenReplayed:
                continue
            with lock:
                accepted.append(data)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(accepted) == sorted(tokens)


# --- SessionInfo -----------------------------------------------------------------------------


def test_it_serializes_the_session_info_vector() -> None:
    session = SessionInfo(ZERO.public_key, 0, "", "foo", Capabilities.root())
    assert session.to_bytes() == SESSION_VECTOR


def test_it_parses_the_session_info_vector() -> None:
    session = SessionInfo.from_bytes(SESSION_VECTOR)
    assert session == SessionInfo(ZERO.public_key, 0, "", "foo", Capabilities.root())
    assert str(session.capabilities) == "/:rw"


def test_session_info_round_trips_large_timestamps_and_many_caps() -> None:
    session = SessionInfo(
        Keypair.random().public_key,
        T0,
        capabilities=Capabilities.parse("/pub/a/:rw,/pub/b/:r,/priv/:w"),
    )
    assert SessionInfo.from_bytes(session.to_bytes()) == session
    assert session.name == session.user_agent == ""


def test_session_info_accepts_capabilities_as_text() -> None:
    session = SessionInfo(ZERO.public_key, 0, capabilities="/:rw")  # type: ignore[arg-type]
    assert session.to_bytes()[-5:] == b"\x04/:rw"


def test_it_rejects_an_empty_session_body() -> None:
    with pytest.raises(InvalidSessionInfo, match="Empty"):
        SessionInfo.from_bytes(b"")


def test_it_rejects_unknown_session_versions() -> None:
    with pytest.raises(InvalidSessionInfo, match="Unknown version"):
        SessionInfo.from_bytes(b"\x01" + SESSION_VECTOR[1:])


@pytest.mark.parametrize("size", [1, 20, 33, 34, 35, 38, 40, 44])
def test_it_rejects_truncated_session_bodies(size: int) -> None:
    with pytest.raises(InvalidSessionInfo):
        SessionInfo.from_bytes(SESSION_VECTOR[:size])


def test_it_rejects_invalid_capabilities_in_a_session() -> None:
    with pytest.raises(InvalidSessionInfo):
        SessionInfo.from_bytes(SESSION_VECTOR[:-5] + b"\x04/:rx")


def test_it_rejects_non_utf8_session_strings() -> None:
    with pytest.raises(InvalidSessionInfo, match="UTF-8"):
        SessionInfo.from_bytes(SESSION_VECTOR[:35] + b"\x01\xff" + SESSION_VECTOR[39:])


def test_it_ignores_trailing_bytes_in_a_session_like_postcard() -> None:
    assert SessionInfo.from_bytes(SESSION_VECTOR + b"\x00\x01") == SessionInfo.from_bytes(
        SESSION_VECTOR
    )


def test_it_rejects_overlong_varints() -> None:
    with pytest.raises(InvalidSessionInfo, match="varint"):
        SessionInfo.from_bytes(SESSION_VECTOR[:33] + b"\xff" * 11)
    with pytest.raises(InvalidSessionInfo, match="u64"):
        SessionInfo.from_bytes(SESSION_VECTOR[:33] + b"\xff" * 9 + b"\x7f")
