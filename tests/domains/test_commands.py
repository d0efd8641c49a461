"""republish_pkarr and migrate_domain, run as an operator would (call_command)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from domains.models import (
    DomainMigration,
    DomainRecord,
    MigrationState,
    PkarrPublishStatus,
    PkarrRecord,
    PubkyDomain,
    PubkyDomainStatus,
)
from domains.services.registration import register_pubky_domain
from families.models import Family
from pubky.keys import Keypair
from pubky.packet import Record, SignedPacket
from pubky.testnet import Testnet
from tests.dnsserver import LoopbackDnsServer
from tests.domains.conftest import record_set, resolved

pytestmark = pytest.mark.django_db


def command(name: str, *args: str) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


def expire_soon(pubky_domain: PubkyDomain, minutes: int = 10) -> None:
    """Pretend the relay copies were put long ago (test setup, not a service write)."""
    PkarrRecord.objects.filter(pubky_domain=pubky_domain).update(
        expires_at=timezone.now() + timedelta(minutes=minutes)
    )


# --- republish_pkarr ---------------------------------------------------------------------------


def test_republish_skips_fresh_packets_and_republishes_expiring_ones(family: Family) -> None:
    fresh = register_pubky_domain(
        name="fresh.example", family=family, records=[("@", "A", "1.1.1.1")]
    )
    stale = register_pubky_domain(
        name="stale.example", family=family, records=[("@", "A", "2.2.2.2")]
    )
    expire_soon(stale)
    fresh_stamp, stale_stamp = fresh.last_packet_timestamp, stale.last_packet_timestamp

    output = command("republish_pkarr")

    assert "[1/1] stale.example: 2/2 relay(s)" in output
    assert "fresh.example" not in output
    assert "republished 1 of 1 due domain(s), skipped 1 fresh, 0 failed" in output
    fresh.refresh_from_db()
    stale.refresh_from_db()
    assert fresh.last_packet_timestamp == fresh_stamp
    assert (stale.last_packet_timestamp or 0) > (stale_stamp or 0)
    assert resolved(stale.public_key).timestamp == stale.last_packet_timestamp
    for row in stale.pkarr_records.all():
        assert row.status == PkarrPublishStatus.PUBLISHED
        assert row.attempts == 2
        assert row.expires_at is not None
        assert row.expires_at > timezone.now() + timedelta(hours=1)
    assert command("republish_pkarr").count("[") == 0  # nothing due any more


def test_republish_before_expiry_window_and_force(family: Family) -> None:
    pubky_domain = register_pubky_domain(
        name="window.example", family=family, records=[("@", "A", "3.3.3.3")]
    )
    expire_soon(pubky_domain, minutes=90)

    assert "0 domain(s) due" in command("republish_pkarr", "--dry-run")
    assert "due: window.example" in command(
        "republish_pkarr", "--dry-run", "--before-expiry", "7200"
    )
    assert "skipped 1 fresh" in command("republish_pkarr", "--before-expiry", "60")
    output = command("republish_pkarr", "--force", "window.example")
    assert "[1/1] window.example: 2/2 relay(s)" in output


def test_republish_is_cas_aware_and_retries_once_after_re_resolving(
    family: Family, testnet: Testnet
) -> None:
    pubky_domain = register_pubky_domain(
        name="raced.example", family=family, records=[("@", "A", "4.4.4.4")]
    )
    expire_soon(pubky_domain)
    # Another signer published in between: our If-Match is stale on every relay (412).
    keypair = Keypair.from_secret(pubky_domain.get_private_key())
    intruder = SignedPacket.sign(keypair, [Record("@", "A", "203.0.113.66")])
    assert testnet.relay_client().publish(intruder).ok

    output = command("republish_pkarr")

    assert "raced.example: 2/2 relay(s), CAS retried on 2" in output
    packet = resolved(pubky_domain.public_key)
    assert packet.timestamp > intruder.timestamp
    assert record_set(packet) == {("@", "A", "4.4.4.4")}


def test_republish_reports_failures_with_a_non_zero_exit(
    family: Family,
    make_testnet: Callable[..., Testnet],
    use_testnet: Callable[[Testnet], Testnet],
) -> None:
    net = use_testnet(make_testnet(relays=1))
    pubky_domain = register_pubky_domain(
        name="unlucky.example", family=family, records=[("@", "A", "5.5.5.5")]
    )
    expire_soon(pubky_domain)
    net.stop_relay(0)
    out = io.StringIO()

    with pytest.raises(CommandError, match="1 domain\\(s\\) could not be republished"):
        call_command("republish_pkarr", stdout=out)

    assert "unlucky.example: FAILED: no relay stored the packet" in out.getvalue()
    row = PkarrRecord.objects.get(pubky_domain=pubky_domain)
    assert row.status == PkarrPublishStatus.FAILED
    assert "connection failed" in row.error


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--before-expiry", "-1"), "--before-expiry must be 0 or more seconds"),
        (("nosuch.example",), "unknown Pubky domain\\(s\\): nosuch.example"),
    ],
)
def test_republish_refuses_bad_arguments(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        command("republish_pkarr", *args)


def test_republish_refuses_a_disabled_domain(family: Family) -> None:
    pubky_domain = register_pubky_domain(
        name="retired.example", family=family, records=[("@", "A", "6.6.6.6")]
    )
    pubky_domain.status = PubkyDomainStatus.DISABLED
    pubky_domain.save()
    with pytest.raises(CommandError, match="not active"):
        command("republish_pkarr", "retired.example")


# --- migrate_domain ----------------------------------------------------------------------------


def test_migrate_domain_drives_a_migration_from_start_to_rollback(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer
) -> None:
    name = registrar_domain.name

    output = command("migrate_domain", "start", name)
    match = re.search(r'_pubky-challenge\.grandma-bakery\.example\. 300 IN TXT "([^"]+)"', output)
    assert match is not None
    migration = DomainMigration.objects.get(domain=registrar_domain)
    assert match.group(1) == migration.challenge_value

    with pytest.raises(CommandError, match="does not hold the challenge token"):
        command("migrate_domain", "verify", name)
    dns_server.set_txt(migration.challenge_name, migration.challenge_value)
    assert "verified" in command("migrate_domain", "verify", name)
    assert "completed" in command("migrate_domain", "execute", name)
    assert f"{migration.pk}: dns_to_pubky completed" in command("migrate_domain", "status", name)
    assert "rolled back" in command("migrate_domain", "rollback", name, "--reason", "test")
    migration.refresh_from_db()
    assert migration.state == MigrationState.ROLLED_BACK


def test_migrate_domain_cancel_and_clear_errors(
    registrar_domain: DomainRecord, dns_server: LoopbackDnsServer
) -> None:
    name = registrar_domain.name
    with pytest.raises(CommandError, match=r"unknown domain 'nope\.example'"):
        command("migrate_domain", "status", "nope.example")
    with pytest.raises(CommandError, match="no migration in progress"):
        command("migrate_domain", "verify", name)
    with pytest.raises(CommandError, match="no completed migration"):
        command("migrate_domain", "rollback", name)
    with pytest.raises(CommandError, match="not on Pubky"):
        command("migrate_domain", "start", name, "--direction", "pubky-to-dns")
    assert f"{name}: no migrations" in command("migrate_domain", "status", name)

    command("migrate_domain", "start", name)
    with pytest.raises(CommandError, match="already has a migration in progress"):
        command("migrate_domain", "start", name)
    with pytest.raises(CommandError, match="is pending; cannot execute"):
        command("migrate_domain", "execute", name)
    assert "cancelled" in command("migrate_domain", "cancel", name)
    migration = DomainMigration.objects.get(domain=registrar_domain)
    assert migration.state == MigrationState.FAILED
    assert migration.error == "cancelled by an operator"


def test_copies_on_relays_no_longer_configured_do_not_keep_a_domain_due(
    family: Family, testnet: Testnet, settings: Any
) -> None:
    pubky_domain = register_pubky_domain(
        name="moved-on.example", family=family, records=[("@", "A", "7.7.7.7")]
    )
    expire_soon(pubky_domain)
    settings.PUBKY_RELAYS = testnet.relay_urls[:1]

    assert "[1/1] moved-on.example: 1/1 relay(s)" in command("republish_pkarr")
    # The other relay's row still expires soon, but nobody republishes there any more.
    assert "0 domain(s) due" in command("republish_pkarr", "--dry-run")
