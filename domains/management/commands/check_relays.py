"""``manage.py check_relays [--loop --interval N] [--relay URL …]`` — probe PKARR relays.

Probes every relay in ``PUBKY_RELAYS`` (or only the ``--relay`` ones), stores each one's
:class:`RelayStatus` (a full round retires the rows of relays no longer configured), and
records up/down transitions (security events and guardian notifications) through
:func:`domains.services.relays.relay_statuses_check`.
With ``--loop`` it repeats every ``--interval`` seconds until SIGINT/SIGTERM and then exits
cleanly (status 0), finishing the round in progress. Copies of the loop elect one leader
(``pubkyproject.leader``): only it checks, the others stand by and take over when it stops.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from domains.services.relays import RelayCheck, relay_statuses_check
from pubkyproject.leader import loop_interval, run_as_leader
from pubkyproject.stopping import stop_on_signals


class Command(BaseCommand):
    help = (
        "Probe every configured PKARR relay (PUBKY_RELAYS; relays no longer configured are "
        "retired), store its status and record up/down transitions. --loop repeats until "
        "SIGINT/SIGTERM."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep checking until stopped")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="seconds between rounds with --loop (default PUBKY_RELAY_CHECK_INTERVAL)",
        )
        parser.add_argument(
            "--relay",
            action="append",
            default=None,
            metavar="URL",
            help="check only this relay (repeatable)",
        )
        parser.add_argument(
            "--max-rounds", type=int, default=None, help="with --loop: stop after N rounds"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        interval = loop_interval(options, default=settings.PUBKY_RELAY_CHECK_INTERVAL)
        max_rounds = options["max_rounds"]
        if max_rounds is not None and max_rounds < 1:
            raise CommandError("--max-rounds must be at least 1")
        relays = options["relay"]
        for url in relays or ():
            if not url.startswith(("http://", "https://")):
                raise CommandError(f"--relay must be an http(s) URL, not {url!r}")

        if not options["loop"]:
            self._round(relays)
            return

        self.stdout.write(f"checking relays every {interval:g}s; SIGINT/SIGTERM to stop")
        with stop_on_signals() as stop:
            rounds = run_as_leader(
                # Loops given their own --relay list lead that list, not the configured set.
                "check_relays" + (":" + ",".join(sorted(relays)) if relays else ""),
                stop=stop,
                interval=interval,
                work=lambda: self._round(relays),
                say=self.stdout.write,
                max_rounds=max_rounds,
            )
        self.stdout.write(self.style.SUCCESS(f"stopped after {rounds} round(s)"))

    def _round(self, relays: list[str] | None) -> list[RelayCheck]:
        checks = relay_statuses_check(relay_urls=relays)
        if not checks:
            self.stdout.write(self.style.WARNING("no relays configured (PUBKY_RELAYS is empty)"))
            return checks
        up = sum(1 for c in checks if c.result.ok)
        for index, check in enumerate(checks, start=1):
            result = check.result
            if result.ok:
                line = f"  [{index}/{len(checks)}] {check.url}: up, {result.latency_ms:.1f} ms"
                line += f" (HTTP {result.status})"
            else:
                line = (
                    f"  [{index}/{len(checks)}] {check.url}: DOWN ({result.error or result.status}"
                    f"; {check.status.consecutive_failures} consecutive failure(s))"
                )
            if check.transition:
                line += f" -> went {check.transition}"
                if check.notified_families:
                    line += f", {check.notified_families} family(ies) notified"
            self.stdout.write(line if result.ok else self.style.ERROR(line))
        style = self.style.SUCCESS if up == len(checks) else self.style.WARNING
        self.stdout.write(style(f"{up}/{len(checks)} relay(s) up"))
        return checks
