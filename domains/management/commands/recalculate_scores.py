from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from domains.models import DomainRecord
from domains.services.scoring import (
    DEFAULT_BATCH_SIZE,
    RecalculationReport,
    sovereignty_scores_recalculate,
)


class Command(BaseCommand):
    help = "Recalculate sovereignty scores for all domains, or the named ones, in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domains", nargs="*", help="Domain names (default: every domain).")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument(
            "--force", action="store_true", help="Store a history row even when unchanged."
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="Batches processed at once, each on its own database connection (default 2).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        domain_ids = None
        if options["domains"]:
            found = dict(
                DomainRecord.objects.filter(name__in=options["domains"]).values_list("name", "pk")
            )
            missing = sorted(set(options["domains"]) - set(found))
            if missing:
                raise CommandError(f"unknown domain(s): {', '.join(missing)}")
            domain_ids = list(found.values())
        total = len(domain_ids) if domain_ids is not None else DomainRecord.objects.count()
        started = time.perf_counter()

        def progress(report: RecalculationReport) -> None:
            elapsed = time.perf_counter() - started
            self.stdout.write(
                f"  {report.domains}/{total} domains, {report.changed} changed ({elapsed:.1f}s)"
            )

        report = sovereignty_scores_recalculate(
            domain_ids=domain_ids,
            batch_size=options["batch_size"],
            force=options["force"],
            progress=progress if options["verbosity"] >= 1 else None,
            workers=options["workers"],
        )
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Scored {report.domains} domain(s) in {report.batches} batch(es), "
                f"{report.changed} changed, in {elapsed:.2f}s"
            )
        )
