"""A family's own Pubky identity against the testnet homeserver and relays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from families.models import Family, PubkyKeypair, User
from families.services.pubky import (
    PubkyAlreadyEnabled,
    PubkyNotEnabled,
    create_family_keypair,
    enable_pubky_for_family,
    family_keypair_rotate,
)
from pubky.homeserver_client import homeserver_of_packet
from pubky.keys import Keypair
from pubky.testnet import Testnet
from pubkyproject.pubky_client import PubkyNetworkError, PublishFailed, pubky_client
from tests.domains.conftest import resolved
from tests.factories import GuardianFactory

pytestmark = pytest.mark.django_db


def family_columns(family: Family) -> tuple[Any, ...]:
    family.refresh_from_db()
    return (
        family.pubky_enabled,
        family.pubky_public_key,
        family.pubky_url,
        family.pubky_homeserver_url,
        family.pubky_relay_url,
    )


def test_enabling_pubky_signs_the_family_up_and_publishes_its_pubky_record(
    family: Family, testnet: Testnet
) -> None:
    keypair_row = enable_pubky_for_family(family, created_by=family.owner)

    family.refresh_from_db()
    assert family.pubky_enabled
    assert family.pubky_public_key == keypair_row.public_key
    assert family.pubky_url == f"pubky://{keypair_row.public_key}/"
    assert family.pubky_homeserver_url == testnet.homeserver_url
    assert family.pubky_relay_url in testnet.relay_urls
    assert keypair_row.is_active
    assert keypair_row.created_by == family.owner
    seed = keypair_row.get_private_key()
    assert seed not in bytes(keypair_row.private_key_encrypted or b"")
    # The _pubky record points at the testnet homeserver, on every relay.
    packet = resolved(keypair_row.public_key)
    assert homeserver_of_packet(packet) == testnet.homeserver_public_key
    for url in testnet.relay_urls:
        report = pubky_client().resolve_report(keypair_row.public_key, relay_urls=[url])
        assert report.packet == packet
    # The account exists: the family can sign in and store data on its homeserver.
    keypair = Keypair.from_secret(seed)
    client = pubky_client()
    url = client.put_data(keypair, "/pub/family/hello.txt", "hello family")
    assert url == f"pubky://{keypair_row.public_key}/pub/family/hello.txt"
    assert client.get_data(url) == b"hello family"


def test_a_family_has_one_active_keypair_and_rotation_deactivates_the_old_one(
    family: Family,
) -> None:
    first = enable_pubky_for_family(family=family)
    with pytest.raises(PubkyAlreadyEnabled, match="rotate its keypair instead"):
        enable_pubky_for_family(family=family)

    second = family_keypair_rotate(family=family)

    first.refresh_from_db()
    assert not first.is_active
    assert first.revoked_at is not None
    assert first.has_private_key  # kept sealed for audit and recovery
    assert second.is_active
    assert PubkyKeypair.objects.filter(family=family, is_active=True).get() == second
    family.refresh_from_db()
    assert family.pubky_public_key == second.public_key
    assert homeserver_of_packet(resolved(second.public_key)) is not None


def test_rotating_the_family_key_makes_every_guardian_backup_of_the_old_one_unverified(
    family: Family,
) -> None:
    enable_pubky_for_family(family=family)
    verified = GuardianFactory(family=family, pubky_backup_verified_at=timezone.now())
    never = GuardianFactory(family=family)
    elsewhere = GuardianFactory(pubky_backup_verified_at=timezone.now())

    family_keypair_rotate(family=family)

    for guardian in (verified, never, elsewhere):
        guardian.refresh_from_db()
    assert verified.pubky_backup_verified_at is None
    assert never.pubky_backup_verified_at is None
    assert elsewhere.pubky_backup_verified_at is not None  # another family's key did not change


def test_rotating_needs_an_enabled_family(family: Family) -> None:
    with pytest.raises(PubkyNotEnabled):
        family_keypair_rotate(family=family)


def test_a_homeserver_refusing_the_signup_leaves_nothing_behind(
    family: Family,
    make_testnet: Callable[..., Testnet],
    use_testnet: Callable[[Testnet], Testnet],
) -> None:
    use_testnet(make_testnet(signup_mode="token_required"))
    before = family_columns(family)

    with pytest.raises(PubkyNetworkError) as excinfo:
        enable_pubky_for_family(family=family)

    assert excinfo.value.code == "signup_failed"
    assert "refused the signup" in str(excinfo.value)
    assert PubkyKeypair.objects.count() == 0
    assert family_columns(family) == before


def test_a_signup_token_from_settings_is_used(
    family: Family,
    make_testnet: Callable[..., Testnet],
    use_testnet: Callable[[Testnet], Testnet],
    settings: Any,
) -> None:
    net = use_testnet(make_testnet(signup_mode="token_required"))
    settings.PUBKY_SIGNUP_TOKEN = net.create_signup_token()

    row = enable_pubky_for_family(family=family)

    assert row.is_active


def test_when_no_relay_takes_the_pubky_record_nothing_is_stored(
    family: Family,
    make_testnet: Callable[..., Testnet],
    use_testnet: Callable[[Testnet], Testnet],
) -> None:
    net = use_testnet(make_testnet(relays=2))
    net.stop_relay(0)
    net.stop_relay(1)
    before = family_columns(family)

    with pytest.raises(PublishFailed, match="no relay stored the _pubky record"):
        enable_pubky_for_family(family=family)

    assert PubkyKeypair.objects.count() == 0
    assert family_columns(family) == before


def test_create_family_keypair_stores_a_sealed_key_without_network(family: Family) -> None:
    owner: User = family.owner
    row = create_family_keypair(family, label="offline", created_by=owner)
    second = create_family_keypair(family)
    row.refresh_from_db()
    assert not row.is_active
    assert second.is_active
    assert len(row.get_private_key()) == 32
