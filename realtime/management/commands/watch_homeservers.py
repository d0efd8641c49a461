from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from pubkyproject.stopping import stop_on_signals
from realtime.cache import homeserver_reader
from realtime.watcher import watch_once


class Command(BaseCommand):
    help = (
        "Follow the homeservers of subscribed pubky:// URLs and push pubky_content_update "
        "when their content changes (resumes from stored cursors after a restart)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between polls.")
        parser.add_argument("--once", action="store_true", help="Poll once and exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interval"] <= 0:
            raise CommandError("--interval must be positive")
        client = homeserver_reader()
        homeservers: dict[str, str] = {}
        if options["once"]:
            self.stdout.write(f"published {watch_once(client, homeservers)} update(s)")
            return
        self.stdout.write("watch_homeservers: following subscribed URLs")
        refresh_at = time.monotonic() + 60
        with stop_on_signals() as stop:
            while not stop.is_set():
                close_old_connections()
                try:
                    watch_once(client, homeservers)
                except Exception as exc:  # keep the worker alive through transient failures
                    self.stderr.write(f"watch_homeservers: {exc}")
                if time.monotonic() > refresh_at:
                    homeservers.clear()  # users may move to another homeserver
                    client.forget_endpoints()
                    refresh_at = time.monotonic() + 60
                stop.wait(options["interval"])
        self.stdout.write("watch_homeservers: stopped")
