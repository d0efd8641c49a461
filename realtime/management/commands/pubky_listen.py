from __future__ import annotations

import time
from typing import Any

import psycopg
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, connection

from pubkyproject.stopping import stop_on_signals
from realtime.services import db_changes_publish


class Command(BaseCommand):
    help = (
        "Bridge PostgreSQL NOTIFY to live events: publish changes to the Pubky tables that "
        "were made outside Django (raw SQL, other services)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--poll", type=float, default=5.0, help="Seconds between checks without a NOTIFY."
        )
        parser.add_argument("--batch", type=int, default=500, help="Changes per transaction.")
        parser.add_argument("--once", action="store_true", help="Drain the queue and exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch"] < 1 or options["poll"] <= 0:
            raise CommandError("--batch must be at least 1 and --poll positive")
        if options["once"]:
            total = self._drain(options["batch"])
            self.stdout.write(f"published {total} event(s)")
            return
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params["autocommit"] = True
        self.stdout.write("pubky_listen: waiting for changes (LISTEN pubky_changes)")
        with stop_on_signals() as stop, psycopg.connect(**params) as listener:
            listener.execute("LISTEN pubky_changes")
            self._drain(options["batch"])  # whatever queued while we were down
            last_drain = time.monotonic()
            while not stop.is_set():
                woke = False
                # Wake at least every second so a stop request is honoured promptly.
                for _ in listener.notifies(timeout=min(options["poll"], 1.0), stop_after=1):
                    woke = True
                if woke or time.monotonic() - last_drain >= options["poll"]:
                    self._drain(options["batch"])
                    last_drain = time.monotonic()
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
