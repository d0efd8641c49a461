"""Two copies of check_relays --loop and republish_pkarr --loop: one works, the other stands by.

Real worker processes against the test database; relay probes are counted by a loopback HTTP
server standing in for a relay, publishes by the audit trail of the key unsealed to sign each
packet. A copy is stopped gracefully (SIGTERM) or killed (SIGKILL), and the other takes over.
"""

from __future__ import annotations

import io
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from domains.models import PubkyDomain
from domains.services.registration import register_pubky_domain
from families.models import Family, SecurityEvent, SecurityEventKind
from pubky.testnet import Testnet
from pubkyproject.leader import _ITEM_NAMESPACES, _int4
from tests.realtime.conftest import subprocess_env
from tests.replicas import (
    FAST_LEADER_POLL,
    leader_and_standby,
    not_running,
    rounds_after_leading,
    wait_until,
)
from tests.servers import free_port, process_group

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class CountingRelay:
    """A loopback HTTP server that answers every probe 404 (a healthy relay) and counts them."""

    def __init__(self) -> None:
        self.probes = 0
        lock = threading.Lock()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    relay.probes += 1
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CountingRelay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def counting_relay() -> Iterator[CountingRelay]:
    with CountingRelay() as relay:
        yield relay


ROUND = "relay(s) up"


def test_two_relay_checkers_probe_once_per_round_and_a_standby_takes_over(
    counting_relay: CountingRelay,
) -> None:
    env = subprocess_env(PUBKY_RELAYS=counting_relay.url, **FAST_LEADER_POLL)
    args = ("check_relays", "--loop", "--interval", "0.3")
    with process_group(env) as group:
        first = group.manage("check-1", *args)
        second = group.manage("check-2", *args)
        leader, (standby,) = leader_and_standby("check_relays", first, second)
        wait_until(lambda: leader.log().count(ROUND) >= 4, "four rounds by the leader")
        assert standby.log().count(ROUND) == 0  # it never checked while the other led

        # The leader crashes: the standby takes over within its poll interval.
        leader.stop(signal.SIGKILL)
        wait_until(lambda: "check_relays: leading" in standby.log(), "the standby to lead")
        wait_until(lambda: standby.log().count(ROUND) >= 3, "three rounds by the new leader")
        # A third copy joins as standby and takes over when the leader stops gracefully.
        third = group.manage("check-3", *args)
        wait_until(lambda: "check_relays: standby" in third.log(), "the third copy to stand by")
        standby.stop(signal.SIGTERM)
        assert standby.proc.returncode == 0, standby.log()
        wait_until(lambda: third.log().count(ROUND) >= 2, "two rounds by the third copy")
        third.stop(signal.SIGTERM)
        wait_until(lambda: not_running(third), "the third copy to exit")
        rounds = {p.name: rounds_after_leading(p, "check_relays", ROUND) for p in group.processes}

    assert all(before == 0 for before, _ in rounds.values()), rounds  # standbys did nothing
    logged = sum(since for _, since in rounds.values())
    # One probe per logged round; the crashed leader may have probed once more without
    # getting to print that round.
    assert logged <= counting_relay.probes <= logged + 1, (rounds, counting_relay.probes)


# --- republish_pkarr -------------------------------------------------------------------------

PASS = "republished 2 of 2 due"


def _signatures() -> int:
    """Packets signed with a domain's sealed key (each publish unseals it once)."""
    return SecurityEvent.objects.filter(
        kind=SecurityEventKind.PRIVATE_KEY_USED, target__startswith="pubky_domain:"
    ).count()


def _worker_env(testnet: Testnet) -> dict[str, str]:
    return subprocess_env(PUBKY_RELAYS=",".join(testnet.relay_urls), **FAST_LEADER_POLL)


def test_two_republishers_publish_each_domain_once_per_pass_and_a_standby_takes_over(
    family: Family, testnet: Testnet
) -> None:
    for name in ("one.example", "two.example"):
        register_pubky_domain(name=name, family=family, records=[("@", "A", "1.2.3.4")])
    signed_at_registration = _signatures()
    # Every copy is always due (the window is longer than a copy lives): each pass republishes
    # both domains, so a second worker that also published would double the count.
    args = ("republish_pkarr", "--loop", "--interval", "0.3", "--before-expiry", "100000000")
    with process_group(_worker_env(testnet)) as group:
        first = group.manage("republish-1", *args)
        second = group.manage("republish-2", *args)
        leader, (standby,) = leader_and_standby("republish_pkarr", first, second)
        wait_until(lambda: leader.log().count(PASS) >= 3, "three passes by the leader")
        assert standby.log().count(PASS) == 0
        leader.stop(signal.SIGKILL)
        wait_until(lambda: standby.log().count(PASS) >= 2, "two passes by the new leader")
        standby.stop(signal.SIGTERM)
        assert standby.proc.returncode == 0, standby.log()
        rounds = {p.name: rounds_after_leading(p, "republish_pkarr", PASS) for p in group.processes}

    assert all(before == 0 for before, _ in rounds.values()), rounds
    passes = sum(since for _, since in rounds.values())
    signed = _signatures() - signed_at_registration
    # Two domains per pass; the killed leader may have signed one or two more mid-pass.
    assert 2 * passes <= signed <= 2 * passes + 2, (rounds, signed)


def test_a_one_off_republish_skips_a_domain_another_run_is_publishing(
    family: Family, testnet: Testnet
) -> None:
    held = register_pubky_domain(name="held.example", family=family, records=[])
    free = register_pubky_domain(name="free.example", family=family, records=[])
    stamps = {d.pk: d.last_packet_timestamp for d in (held, free)}
    # Another copy (a separate session) is publishing `held` right now.
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    key = (_int4(_ITEM_NAMESPACES["republish_pkarr"]), _int4(held.pk))
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", key)
        out = io.StringIO()
        call_command("republish_pkarr", "--force", stdout=out)
    assert "free.example" in out.getvalue()
    assert "held.example" not in out.getvalue()
    assert "republished 1 of 1 due domain(s), skipped 1 fresh" in out.getvalue()
    after = {d.pk: d.last_packet_timestamp for d in PubkyDomain.objects.all()}
    assert after[held.pk] == stamps[held.pk]
    assert (after[free.pk] or 0) > (stamps[free.pk] or 0)
