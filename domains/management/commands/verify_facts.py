"""``manage.py verify_facts [--loop --interval N]`` — re-check what the sovereignty score believes.

One round asks every relay of every active Pubky domain what it serves, reads each domain's
served packet for ``_pubky`` (self-hosting against the family's proven homeserver key) and
fetches every backup reported current from its homeserver (written after the key's last
rotation); see :mod:`domains.services.facts`. Changed facts rescore their domains. With
``--loop`` it repeats every ``--interval`` seconds (default ``PUBKY_FACT_CHECK_INTERVAL``)
until SIGINT/SIGTERM, finishing the round in progress; of several copies, one leads.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from domains.services.facts import FactCheckReport, facts_verify_all
from pubkyproject.leader import loop_interval, run_as_leader
from pubkyproject.stopping import stop_on_signals


class Command(BaseCommand):
    help = (
        "Verify the facts behind sovereignty scores (relays serving the packet, self-hosted "
        "homeservers, guardian backups) and rescore what changed. --loop repeats."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep checking until stopped")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="seconds between rounds with --loop (default PUBKY_FACT_CHECK_INTERVAL)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        interval = loop_interval(options, default=settings.PUBKY_FACT_CHECK_INTERVAL)
        if not options["loop"]:
            self._say(facts_verify_all())
            return
        self.stdout.write(f"verifying facts every {interval:g}s; SIGINT/SIGTERM to stop")
        with stop_on_signals() as stop:
            # Copies elect one leader, so a fact is checked (and a domain rescored) once a round.
            rounds = run_as_leader(
                "verify_facts",
                stop=stop,
                interval=interval,
                work=lambda: self._say(facts_verify_all()),
                say=self.stdout.write,
            )
        self.stdout.write(self.style.SUCCESS(f"stopped after {rounds} round(s)"))

    def _say(self, report: FactCheckReport) -> None:
        line = (
            f"relays of {report.relays_checked} domain(s), self-hosting of "
            f"{report.domains_checked} domain(s), {report.backups_checked} backup(s) checked"
        )
        self.stdout.write(
            self.style.SUCCESS(line) if not report.errors else self.style.WARNING(line)
        )
        for error in report.errors:
            self.stdout.write(self.style.ERROR(f"  {error}"))
