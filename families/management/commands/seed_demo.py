from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand

from families.services.demo import demo_seed


class Command(BaseCommand):
    help = "Create the local demo user and family (password from DEMO_PASSWORD, default 'demo')."

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("DEMO_PASSWORD") or "demo"
        seed = demo_seed(password=password)
        verb = "Created" if seed.created else "Refreshed"
        self.stdout.write(
            f"{verb} demo user '{seed.user.username}' (password from DEMO_PASSWORD, "
            f"default 'demo') owning family '{seed.family.name}'."
        )
