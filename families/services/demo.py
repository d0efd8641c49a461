"""The local demo: one user owning one family, for ./scripts/run and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from families.models import Family, User
from families.services.families import family_create

DEMO_USERNAME = "demo"
DEMO_FAMILY_SLUG = "demo-family"


@dataclass(frozen=True)
class DemoSeed:
    user: User
    family: Family
    created: bool


@transaction.atomic
def demo_seed(*, password: str, username: str = DEMO_USERNAME) -> DemoSeed:
    """Create (or refresh the password of) the demo user and its family. Idempotent."""
    user, created = User.objects.get_or_create(
        username=username, defaults={"email": f"{username}@localhost", "is_staff": True}
    )
    user.is_staff = True
    user.is_superuser = True
    user.set_password(password)
    user.save()
    family = Family.objects.filter(slug=DEMO_FAMILY_SLUG).first()
    if family is None:
        family = family_create(
            name="Demo Family",
            slug=DEMO_FAMILY_SLUG,
            owner=user,
            description="A family to explore the service with.",
        )
    return DemoSeed(user=user, family=family, created=created)
