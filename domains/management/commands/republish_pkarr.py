"""``manage.py republish_pkarr`` — keep Pubky domains' packets alive on every relay.

Republishes each active Pubky domain whose relay copies expire within
``PUBKY_REPUBLISH_BEFORE_EXPIRY`` seconds (or failed, or are missing on a configured relay),
using ``If-Match`` compare-and-swap and one re-resolve-and-retry on 409/412; fresh domains
are skipped. Exits non-zero when some domain could not be republished on any relay, so a
scheduler notices.

With ``--loop``, copies elect one leader (``pubkyproject.leader``) that runs the passes while
the others stand by; each domain is also claimed while it is published and re-checked, so a
one-off run next to the loop does not publish it twice either.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from domains.models import PubkyDomain, PubkyDomainStatus
from domains.services.publishing import (
    PublishOutcome,
    pkarr_republish_due,
    pubky_domains_due_for_republish,
)
from pubkyproject.leader import run_as_leader
from pubkyproject.pubky_client import pubky_client
from pubkyproject.stopping import stop_on_signals


class Command(BaseCommand):
    help = (
        "Republish the PKARR packets of Pubky domains whose relay copies expire within "
        "PUBKY_REPUBLISH_BEFORE_EXPIRY seconds (CAS-aware); fresh ones are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domains", nargs="*", help="only these Pubky domain names")
        parser.add_argument(
            "--before-expiry",
            type=int,
            default=None,
            metavar="SECONDS",
            help="republish copies expiring within this many seconds "
            "(default PUBKY_REPUBLISH_BEFORE_EXPIRY)",
        )
        parser.add_argument(
            "--force", action="store_true", help="republish every active domain, fresh or not"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="list what is due without publishing"
        )
        parser.add_argument(
            "--loop", action="store_true", help="keep republishing until SIGINT/SIGTERM"
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=300.0,
            metavar="SECONDS",
            help="with --loop, seconds between passes (default 300)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        seconds = options["before_expiry"]
        if seconds is None:
            seconds = int(settings.PUBKY_REPUBLISH_BEFORE_EXPIRY)
        if seconds < 0:
            raise CommandError(f"--before-expiry must be 0 or more seconds, not {seconds}")
        names = options["domains"] or None
        if names:
            known = set(PubkyDomain.objects.filter(name__in=names).values_list("name", flat=True))
            missing = sorted(set(names) - known)
            if missing:
                raise CommandError(f"unknown Pubky domain(s): {', '.join(missing)}")
            inactive = sorted(
                PubkyDomain.objects.filter(name__in=names)
                .exclude(status=PubkyDomainStatus.ACTIVE)
                .values_list("name", flat=True)
            )
            if inactive:
                raise CommandError(f"not active, nothing to republish: {', '.join(inactive)}")
        before = timedelta(seconds=seconds)
        client = pubky_client()

        if options["dry_run"]:
            due = pubky_domains_due_for_republish(
                before_expiry=before, relay_urls=client.relay_urls
            )
            if names:
                due = due.filter(name__in=names)
            for pubky_domain in due:
                self.stdout.write(f"  due: {pubky_domain.name} ({pubky_domain.public_key})")
            self.stdout.write(f"{due.count()} domain(s) due (dry run, nothing published)")
            return

        if options["interval"] <= 0:
            raise CommandError("--interval must be positive")
        if not options["loop"]:
            self._republish(before, names, client, options)
            return

        def one_pass() -> None:
            try:
                self._republish(before, names, client, options)
            except CommandError as exc:  # a failed pass is reported; the next retries
                self.stderr.write(str(exc))

        with stop_on_signals() as stop:
            run_as_leader(
                "republish_pkarr" + (":" + ",".join(sorted(names)) if names else ""),
                stop=stop,
                interval=options["interval"],
                work=one_pass,
                say=self.stdout.write,
            )
        self.stdout.write("republish_pkarr: stopped")

    def _republish(
        self, before: timedelta, names: list[str] | None, client: Any, options: dict[str, Any]
    ) -> None:
        started = time.perf_counter()

        def progress(
            index: int,
            total: int,
            pubky_domain: PubkyDomain,
            outcome: PublishOutcome | None,
            error: str | None,
        ) -> None:
            prefix = f"  [{index}/{total}] {pubky_domain.name}"
            if outcome is None:
                self.stdout.write(self.style.ERROR(f"{prefix}: FAILED: {error}"))
                return
            line = f"{prefix}: {len(outcome.succeeded)}/{len(outcome.attempts)} relay(s)"
            if outcome.retried:
                line += f", CAS retried on {len(outcome.retried)}"
            if outcome.failed:
                line += f", failed: {', '.join(outcome.failed)}"
            self.stdout.write(line)

        report = pkarr_republish_due(
            before_expiry=before,
            force=options["force"],
            domain_names=names,
            client=client,
            progress=progress if options["verbosity"] >= 1 else None,
        )
        elapsed = time.perf_counter() - started
        summary = (
            f"republished {report.republished} of {report.due} due domain(s), "
            f"skipped {report.skipped} fresh, {report.failed} failed, in {elapsed:.2f}s"
        )
        if report.failed:
            self.stdout.write(self.style.WARNING(summary))
            raise CommandError(
                f"{report.failed} domain(s) could not be republished: "
                + "; ".join(f"{n}: {e}" for n, e in report.errors.items())
            )
        self.stdout.write(self.style.SUCCESS(summary))
