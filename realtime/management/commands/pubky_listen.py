from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import psycopg
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from domains.services.rescoring import (
    EXPIRED_COPIES_LOOKBACK,
    RESCORE_CHANNEL,
    domain_rescores_pending_in,
    domain_rescores_process,
    domain_rescores_request_expired,
)
from pubkyproject.stopping import stop_on_signals
from realtime.services import db_changes_publish


class Command(BaseCommand):
    help = (
        "Bridge PostgreSQL NOTIFY to live events: publish changes to the Pubky tables that "
        "were made outside Django (raw SQL, other services), and rescore the domains whose "
        "facts changed (queued by triggers, debounced: one recalculation per domain per burst)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--poll", type=float, default=5.0, help="Seconds between checks without a NOTIFY."
        )
        parser.add_argument("--batch", type=int, default=500, help="Changes per transaction.")
        parser.add_argument("--once", action="store_true", help="Drain the queues and exit.")
        parser.add_argument(
            "--debounce",
            type=float,
            default=None,
            help="Seconds a domain's first fact change waits for more before its rescore "
            "(default: RESCORE_DEBOUNCE_SECONDS; --once rescores everything queued at once).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch"] < 1 or options["poll"] <= 0:
            raise CommandError("--batch must be at least 1 and --poll positive")
        if options["debounce"] is not None and options["debounce"] < 0:
            raise CommandError("--debounce must not be negative")
        batch = options["batch"]
        if options["once"]:
            total = self._drain(batch)
            rescored = self._rescore(batch, debounce=0.0)
            self.stdout.write(f"published {total} event(s), rescored {rescored} domain(s)")
            return
        debounce = options["debounce"]
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params["autocommit"] = True
        self.stdout.write(
            f"pubky_listen: waiting for changes (LISTEN pubky_changes, {RESCORE_CHANNEL})"
        )
        with stop_on_signals() as stop, psycopg.connect(**params) as listener:
            listener.execute("LISTEN pubky_changes")
            listener.execute(f"LISTEN {RESCORE_CHANNEL}")
            self._drain(batch)  # whatever queued while we were down
            last_check = time.monotonic()
            # Copies that expired while we were down count too (they live two hours at most).
            swept_until = timezone.now() - EXPIRED_COPIES_LOOKBACK
            swept_until = self._sweep_expired(swept_until)
            rescore_at = self._next_rescore(debounce)
            while not stop.is_set():
                # Wake at least every second so a stop request is honoured promptly, and when
                # the oldest rescore request is due (not more often than every 50 ms, in case
                # its domain is locked by a long transaction).
                timeout = min(options["poll"], 1.0)
                if rescore_at is not None:
                    timeout = max(0.05, min(timeout, rescore_at - time.monotonic()))
                woke = {n.channel for n in listener.notifies(timeout=timeout, stop_after=1)}
                periodic = time.monotonic() - last_check >= options["poll"]
                if "pubky_changes" in woke or periodic:
                    self._drain(batch)
                if periodic:
                    swept_until = self._sweep_expired(swept_until)
                    last_check = time.monotonic()
                if periodic or (RESCORE_CHANNEL in woke and rescore_at is None):
                    rescore_at = self._next_rescore(debounce)
                if rescore_at is not None and time.monotonic() >= rescore_at:
                    self._rescore(batch, debounce=debounce)
                    rescore_at = self._next_rescore(debounce)
        self.stdout.write("pubky_listen: stopped")

    def _drain(self, batch: int) -> int:
        """Publish queued changes until the queue is empty (or held by another listener)."""
        total = 0
        close_old_connections()
        while True:
            result = db_changes_publish(limit=batch)
            total += result.published
            if result.claimed < batch:
                return total

    def _sweep_expired(self, since: datetime) -> datetime:
        """Queue rescores for relay copies that expired since ``since``; the new mark."""
        close_old_connections()
        until = timezone.now()
        with transaction.atomic():
            domain_rescores_request_expired(since=since, until=until)
        return until

    def _next_rescore(self, debounce: float | None) -> float | None:
        """When (``time.monotonic()``) the oldest queued rescore request is due, if any."""
        close_old_connections()
        seconds = domain_rescores_pending_in(debounce=debounce)
        return None if seconds is None else time.monotonic() + seconds

    def _rescore(self, batch: int, *, debounce: float | None) -> int:
        """Rescore the domains whose queued requests are due (all of them, batch by batch)."""
        total = 0
        close_old_connections()
        while True:
            report = domain_rescores_process(debounce=debounce, limit=batch)
            total += report.domains
            if report.domains + report.dropped == 0:
                return total
