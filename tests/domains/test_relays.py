"""Relay health: check_relays against real relays, outages, transitions, the --loop worker."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from domains.api_selectors import relay_statuses
from domains.models import PkarrPublishStatus, PkarrRecord, RelayStatus, SovereigntyScore
from domains.services.publishing import pubky_domain_publish
from domains.services.registration import register_pubky_domain
from domains.services.relays import relay_urls_to_check
from families.models import SecurityEvent, SecurityEventKind
from guardians.models import GuardianNotification
from pubky.testnet import Testnet
from realtime.selectors import relay_snapshot
from tests.domains.conftest import linked_domain, make_family, resolved
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("check_relays", *args, stdout=out)
    return out.getvalue()


def test_check_relays_stores_the_status_of_every_configured_relay(testnet: Testnet) -> None:
    output = run()

    assert "2/2 relay(s) up" in output
    for url in testnet.relay_urls:
        status = RelayStatus.objects.get(url=url)
        assert status.is_up is True
        # The probe GETs a fixed key: 404 (unknown) or 200 (on a testnet, where that key is
        # the homeserver's) are both healthy answers.
        assert status.last_status_code in (200, 404)
        assert status.latency_ms is not None
        assert status.consecutive_failures == 0
        assert status.last_checked_at is not None
        assert status.last_changed_at == status.last_checked_at
        assert url in output
    # Coming up for the first time is not an outage to report.
    assert not SecurityEvent.objects.filter(kind__startswith="relay_").exists()


def test_a_relay_no_longer_configured_is_retired_not_reported_down(
    make_testnet: Callable[..., Testnet],
    use_testnet: Callable[[Testnet], Testnet],
    settings: Any,
) -> None:
    net = use_testnet(make_testnet(relays=2))
    family = make_family()
    register_pubky_domain(name="old-relay.example", family=family, records=[("@", "A", "1.2.3.4")])
    run()
    kept, dropped = net.relay_urls
    settings.PUBKY_RELAYS = [kept]
    net.stop_relay(1)

    assert relay_urls_to_check() == [kept]
    output = run()

    assert "1/1 relay(s) up" in output
    assert dropped not in output
    retired = RelayStatus.objects.get(url=dropped)
    assert retired.retired_at is not None
    assert retired.is_up is True  # its last real check; never marked down for being dropped
    assert RelayStatus.objects.get(url=kept).retired_at is None
    assert not SecurityEvent.objects.filter(kind=SecurityEventKind.RELAY_DOWN).exists()
    assert not GuardianNotification.objects.filter(kind="relay_down").exists()
    # Hidden wherever relay health is shown: the API, the dashboard/WebSocket snapshot, metrics.
    assert [r.url for r in relay_statuses()] == [kept]
    assert [r["url"] for r in relay_snapshot()] == [kept]

    # Configured again, it is checked and shown again with its history.
    net.start_relay(1)
    settings.PUBKY_RELAYS = [kept, dropped]
    assert "2/2 relay(s) up" in run()
    assert RelayStatus.objects.get(url=dropped).retired_at is None


def test_a_relay_going_down_shows_as_down_while_publishing_succeeds_on_the_others(
    make_testnet: Callable[..., Testnet], use_testnet: Callable[[Testnet], Testnet]
) -> None:
    net = use_testnet(make_testnet(relays=3))
    family = make_family()
    pubky_domain = register_pubky_domain(
        name="resilient.example", family=family, records=[("@", "A", "192.0.2.20")]
    )
    run()
    down_url = net.relay_urls[1]

    net.stop_relay(1)
    output = run()

    assert f"{down_url}: DOWN" in output
    assert "went down" in output
    assert "1 family(ies) notified" in output
    status = RelayStatus.objects.get(url=down_url)
    assert status.is_up is False
    assert status.consecutive_failures == 1
    assert status.last_status_code is None
    assert "connection failed" in status.last_error
    event = SecurityEvent.objects.get(kind=SecurityEventKind.RELAY_DOWN)
    assert event.target == down_url
    note = GuardianNotification.objects.get(family=family, kind="relay_down")
    assert note.payload["relay_url"] == down_url
    assert note.payload["domains"] == ["resilient.example"]
    # In plain words, singular for one domain; the library's text stays in the payload.
    assert note.message.startswith("1 of your Pubky domains is published on it; it stays")
    assert "The relay" in note.message and "Errno" not in note.message

    # Publishing still works on the other relays; the failure is recorded per relay.
    outcome = pubky_domain_publish(pubky_domain=pubky_domain)
    assert sorted(outcome.succeeded) == sorted(u for u in net.relay_urls if u != down_url)
    assert outcome.failed == [down_url]
    failed = PkarrRecord.objects.get(pubky_domain=pubky_domain, relay_url=down_url)
    assert failed.status == PkarrPublishStatus.FAILED
    assert failed.http_status is None
    assert "connection failed" in failed.error
    assert failed.attempts == 2
    ok = PkarrRecord.objects.filter(pubky_domain=pubky_domain).exclude(relay_url=down_url)
    assert {r.status for r in ok} == {PkarrPublishStatus.PUBLISHED}
    assert {r.packet_timestamp for r in ok} == {pubky_domain.last_packet_timestamp}
    assert resolved(pubky_domain.public_key).timestamp == pubky_domain.last_packet_timestamp
    score = SovereigntyScore.objects.filter(domain=linked_domain(pubky_domain)).latest()
    assert score.breakdown["facts"]["relays_published"] == 2

    # Staying down is not a new transition.
    run()
    status.refresh_from_db()
    assert status.consecutive_failures == 2
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.RELAY_DOWN).count() == 1

    net.start_relay(1)
    output = run()
    assert "went up" in output
    status.refresh_from_db()
    assert status.is_up is True
    assert status.consecutive_failures == 0
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.RELAY_UP, target=down_url).exists()
    assert GuardianNotification.objects.filter(family=family, kind="relay_up").count() == 1

    # And the republisher brings the relay's copy up to date.
    out = io.StringIO()
    call_command("republish_pkarr", stdout=out)
    failed.refresh_from_db()
    assert failed.status == PkarrPublishStatus.PUBLISHED
    # The restarted relay still held the registration packet, so If-Match failed there
    # (412) and the republisher re-resolved and retried once.
    assert "[1/1] resilient.example: 3/3 relay(s), CAS retried on 1" in out.getvalue()


def test_check_relays_loop_runs_until_sigterm_and_exits_cleanly(testnet: Testnet) -> None:
    out = io.StringIO()
    errors: list[BaseException] = []

    def stop_after_first_round() -> None:
        deadline = time.monotonic() + 20
        while "relay(s) up" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=stop_after_first_round, daemon=True)
    killer.start()
    try:
        call_command("check_relays", "--loop", "--interval", "0.2", stdout=out)
    except BaseException as exc:  # pragma: no cover - reported below
        errors.append(exc)
    killer.join(timeout=5)

    assert not errors
    assert "stopped after" in out.getvalue()
    assert signal.getsignal(signal.SIGTERM) is not None
    assert RelayStatus.objects.count() == 2


def test_check_relays_loop_can_stop_after_a_number_of_rounds(testnet: Testnet) -> None:
    output = run("--loop", "--interval", "0.05", "--max-rounds", "3")
    assert output.count("relay(s) up") == 3
    assert "stopped after 3 round(s)" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--interval", "5"), "--interval only applies with --loop"),
        (("--loop", "--interval", "0"), "--interval must be a positive number"),
        (("--loop", "--interval", "-3"), "--interval must be a positive number"),
        (("--relay", "ftp://relay.example"), r"--relay must be an http\(s\) URL"),
        (("--loop", "--max-rounds", "0"), "--max-rounds must be at least 1"),
    ],
)
def test_check_relays_refuses_bad_arguments(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert RelayStatus.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_check_relays_worker_process_stops_cleanly_on_sigint(testnet: Testnet) -> None:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pubkyproject.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PUBKY_RELAYS": ",".join(testnet.relay_urls),
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "manage.py"), "check_relays", "--loop", "--interval", "1"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "relay(s) up" in line or not line:
                break
        assert any("2/2 relay(s) up" in line for line in lines), (lines, proc.stderr)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped after" in rest
    assert "Traceback" not in err
    assert RelayStatus.objects.filter(is_up=True).count() == 2


def test_a_relay_seen_down_on_its_first_check_is_reported(db: None) -> None:
    dead = "http://127.0.0.1:9"  # discard port: nothing listens on loopback

    output = run("--relay", dead)

    assert f"{dead}: DOWN" in output
    assert "0/1 relay(s) up" in output
    status = RelayStatus.objects.get(url=dead)
    assert status.is_up is False
    assert status.last_changed_at == status.last_checked_at
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.RELAY_DOWN, target=dead).count() == 1
