"""``manage.py receive_key_proofs`` — take key-proof approvals off the HTTP relay.

Keeps one long poll (``GET <relay>/<channel>``) open per pending proof, up to ``--max-waiting``
at once, and records what arrives through :func:`families.services.key_proofs.key_proof_check`
(proven, or failed with the reason). Proofs past their expiry are marked ``expired``. A poll
that ends with nothing (the relay's timeout, or another reader of the same channel, such as an
owner reading the proof through the API) is simply started again on the next scan.

Runs until SIGINT/SIGTERM (polls in flight finish within ``--poll-seconds``); ``--once`` polls
every pending proof once and exits (for cron-style use and tests).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, connection
from django.utils import timezone

from families.models import KeyProof, KeyProofStatus
from families.services.key_proofs import KeyProofUnavailable, key_proof_check, key_proofs_expire
from pubkyproject.stopping import stop_on_signals

logger = logging.getLogger("pubky.key_proofs")


def _poll_one(proof_id: int, seconds: float) -> str:
    """One long poll for one proof, on this thread's own connection; returns its status."""
    try:
        proof = KeyProof.objects.filter(pk=proof_id).first()
        if proof is None:
            return "gone"
        try:
            return key_proof_check(proof=proof, wait=seconds).status
        except KeyProofUnavailable as exc:
            logger.warning("key proof %s: relay unavailable: %s", proof_id, exc)
            time.sleep(min(seconds, 5.0))  # do not hammer a relay that is down
            return "unavailable"
    except Exception:  # a worker must survive one bad proof; the traceback goes to the log
        logger.exception("key proof %s: polling failed", proof_id)
        return "error"
    finally:
        connection.close()


class Command(BaseCommand):
    help = (
        "Receive pubkyauth approvals of pending key proofs from the HTTP relay (long polls) "
        "and record them; runs until SIGINT/SIGTERM, or --once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--poll-seconds",
            type=float,
            default=25.0,
            help="how long one poll waits on the relay (default 25)",
        )
        parser.add_argument(
            "--max-waiting",
            type=int,
            default=64,
            help="pending proofs polled at the same time (default 64)",
        )
        parser.add_argument(
            "--scan-interval",
            type=float,
            default=1.0,
            help="seconds between looks for new pending proofs (default 1)",
        )
        parser.add_argument(
            "--once", action="store_true", help="poll every pending proof once, then exit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        poll_seconds = options["poll_seconds"]
        max_waiting = options["max_waiting"]
        scan_interval = options["scan_interval"]
        if poll_seconds <= 0 or scan_interval <= 0:
            raise CommandError("--poll-seconds and --scan-interval must be positive")
        if max_waiting < 1:
            raise CommandError("--max-waiting must be at least 1")

        running: dict[int, Future[str]] = {}
        received = 0
        with (
            ThreadPoolExecutor(max_workers=max_waiting, thread_name_prefix="key-proof") as pool,
            stop_on_signals() as stop,
        ):
            if not options["once"]:
                self.stdout.write(
                    f"receiving key proofs ({max_waiting} at once, {poll_seconds:g}s polls); "
                    "SIGINT/SIGTERM to stop"
                )
            while not stop.is_set():
                if not connection.in_atomic_block:
                    close_old_connections()
                expired = key_proofs_expire()
                if expired:
                    self.stdout.write(f"{expired} proof(s) expired")
                free = max_waiting - len(running)
                if free > 0:
                    pending = (
                        KeyProof.objects.filter(
                            status=KeyProofStatus.PENDING, expires_at__gt=timezone.now()
                        )
                        .exclude(pk__in=list(running))
                        .order_by("created_at", "pk")
                        .values_list("pk", flat=True)[:free]
                    )
                    for proof_id in pending:
                        running[proof_id] = pool.submit(_poll_one, proof_id, poll_seconds)
                if options["once"]:
                    for proof_id, future in running.items():
                        status = future.result()
                        received += status in (KeyProofStatus.PROVEN, KeyProofStatus.FAILED)
                        self.stdout.write(f"proof {proof_id}: {status}")
                    break
                if running:
                    done, _ = wait(
                        list(running.values()), timeout=scan_interval, return_when=FIRST_COMPLETED
                    )
                else:
                    done = set()
                    stop.wait(scan_interval)
                for proof_id, future in list(running.items()):
                    if future in done:
                        del running[proof_id]
                        status = future.result()
                        if status in (KeyProofStatus.PROVEN, KeyProofStatus.FAILED):
                            received += 1
                            self.stdout.write(f"proof {proof_id}: {status}")
            if not connection.in_atomic_block:
                connection.close()
        self.stdout.write(self.style.SUCCESS(f"stopped; {received} approval(s) received"))
