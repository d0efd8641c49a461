from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from realtime.services import outbox_prune, stale_subscriptions_prune


class Command(BaseCommand):
    help = (
        "Delete outbox events older than the retention (OUTBOX_RETENTION_SECONDS) and "
        "subscriptions of sockets that are gone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            help="Seconds (default: the configured retention).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        seconds = options["older_than"]
        if seconds is None:
            seconds = settings.REALTIME["OUTBOX_RETENTION_SECONDS"]
        if seconds < 0:
            raise CommandError("--older-than must not be negative")
        deleted = outbox_prune(older_than=timedelta(seconds=seconds))
        self.stdout.write(f"deleted {deleted} outbox event(s) older than {seconds}s")
        # A live socket refreshes its rows every heartbeat; three missed beats means it is gone.
        stale = stale_subscriptions_prune(
            older_than=timedelta(seconds=3 * settings.REALTIME["HEARTBEAT_SECONDS"])
        )
        self.stdout.write(f"forgot {stale} subscription(s) of sockets that are gone")
