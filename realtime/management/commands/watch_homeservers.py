"""``manage.py watch_homeservers`` — push changes of subscribed ``pubky://`` URLs.

Copies of the worker elect one leader (``pubkyproject.leader``) that polls while the others
stand by and take over when it stops; a page is only published if the homeserver's stored
cursor is still where it started, so even two copies that both believe they lead never
publish a change twice.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pubkyproject.leader import run_as_leader
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

        def poll() -> None:
            nonlocal refresh_at
            try:
                watch_once(client, homeservers)
            except Exception as exc:  # keep the worker alive through transient failures
                self.stderr.write(f"watch_homeservers: {exc}")
            if time.monotonic() > refresh_at:
                homeservers.clear()  # users may move to another homeserver
                client.forget_endpoints()
                refresh_at = time.monotonic() + 60

        with stop_on_signals() as stop:
            run_as_leader(
                "watch_homeservers",
                stop=stop,
                interval=options["interval"],
                work=poll,
                say=self.stdout.write,
            )
        self.stdout.write("watch_homeservers: stopped")
