from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pubkyproject.demo import demo_seed


class Command(BaseCommand):
    help = (
        "Create the local demo user and family (password from DEMO_PASSWORD, default 'demo') "
        "and, unless DEMO_DATA=0 or --no-content, demo domains and guardians."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-content",
            action="store_true",
            help="only the user and the family: no demo domains or guardians",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("DEMO_PASSWORD") or "demo"
        seed = demo_seed(password=password, content=False if options["no_content"] else None)
        verb = "Created" if seed.created else "Refreshed"
        self.stdout.write(
            f"{verb} demo user '{seed.user.username}' (password from DEMO_PASSWORD, "
            f"default 'demo') owning family '{seed.family.name}'."
        )
        for item in seed.added:
            self.stdout.write(f"  added {item}")
        for item in seed.skipped:
            self.stdout.write(self.style.WARNING(f"  skipped {item}"))
