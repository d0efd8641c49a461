"""The local demo: one user owning one family, for ./scripts/run and the dashboard.

It seeds every app (families, domains, guardians), so it belongs to the composition root, the
top layer: no app imports it.

Unless ``DEMO_DATA`` is off, the family also gets something to look at on a first start: a
Pubky domain registered and published to the (local test) relays, a registrar domain halfway
through its migration to Pubky (its DNS challenge issued, waiting for verification) and two
guardians, one active and one invited. Everything is created once; a later run only refreshes
the demo user's password and adds what is missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from domains.models import DomainRecord, MigrationDirection
from domains.services.migration import create_domain_migration
from domains.services.records import dns_record_create, domain_record_create
from domains.services.registration import register_pubky_domain
from families.models import Family, User
from families.services.families import family_create
from guardians.models import FederationGuardian
from guardians.services import guardian_create

logger = logging.getLogger("pubky.demo")

DEMO_USERNAME = "demo"
DEMO_FAMILY_SLUG = "demo-family"
# Names under .example (RFC 2606): they can never collide with a real domain.
DEMO_PUBKY_DOMAIN = "pubky-demo.example"
DEMO_MIGRATING_DOMAIN = "demo-family.example"
DEMO_GUARDIANS = (
    ("Alice (demo guardian)", "alice@guardians.example", "active"),
    ("Bob (demo guardian)", "bob@guardians.example", "invited"),
)


@dataclass(frozen=True)
class DemoSeed:
    user: User
    family: Family
    created: bool
    added: list[str] = field(default_factory=list)  # what this run added to the family
    skipped: list[str] = field(default_factory=list)  # what could not be added, and why


@transaction.atomic
def _demo_user_and_family(*, password: str, username: str) -> tuple[User, Family, bool]:
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
    return user, family, created


def _demo_guardians(family: Family) -> list[str]:
    added = []
    for name, email, status in DEMO_GUARDIANS:
        if not FederationGuardian.objects.filter(family=family, name=name).exists():
            guardian_create(family=family, name=name, email=email, status=status)
            added.append(f"guardian {name} ({status})")
    return added


def _demo_migrating_domain(family: Family, user: User) -> list[str]:
    if DomainRecord.objects.filter(name=DEMO_MIGRATING_DOMAIN).exists():
        return []
    with transaction.atomic():
        domain = domain_record_create(
            family=family,
            name=DEMO_MIGRATING_DOMAIN,
            owner=user,
            registrar="Example Registrar",
            dns_provider="Example DNS",
        )
        dns_record_create(domain=domain, rtype="A", value="192.0.2.10")
        dns_record_create(domain=domain, name="www", rtype="CNAME", value=DEMO_MIGRATING_DOMAIN)
        dns_record_create(domain=domain, rtype="TXT", value="v=spf1 -all")
        create_domain_migration(
            domain=domain, direction=MigrationDirection.DNS_TO_PUBKY, created_by=user
        )
    return [f"{DEMO_MIGRATING_DOMAIN} (registrar DNS, migration to Pubky pending verification)"]


def _demo_pubky_domain(family: Family, user: User) -> tuple[list[str], list[str]]:
    if DomainRecord.objects.filter(name=DEMO_PUBKY_DOMAIN).exists():
        return [], []
    if not settings.PUBKY_TESTNET:
        # Demo records belong on a local testnet, never on the relays of a real network.
        return [], [f"{DEMO_PUBKY_DOMAIN}: PUBKY_TESTNET is off, nothing published"]
    try:
        register_pubky_domain(
            name=DEMO_PUBKY_DOMAIN,
            family=family,
            owner=user,
            records=[
                ("@", "A", "192.0.2.20"),
                ("www", "CNAME", DEMO_PUBKY_DOMAIN),
                ("@", "TXT", "hello from the Pubky demo"),
            ],
        )
    except Exception as exc:  # the relays are not up: the rest of the demo still counts
        logger.warning("demo: could not register %s: %s", DEMO_PUBKY_DOMAIN, exc)
        return [], [f"{DEMO_PUBKY_DOMAIN}: {exc}"]
    return [
        f"{DEMO_PUBKY_DOMAIN} (on Pubky, published to {len(settings.PUBKY_RELAYS)} relay(s))"
    ], []


def demo_seed(
    *, password: str, username: str = DEMO_USERNAME, content: bool | None = None
) -> DemoSeed:
    """Create (or refresh the password of) the demo user and its family, and unless
    ``content`` is False (default: the ``DEMO_DATA`` setting) the demo domains and guardians.
    Idempotent; each part commits on its own, so a relay that is down costs only its part."""
    user, family, created = _demo_user_and_family(password=password, username=username)
    seed = DemoSeed(user=user, family=family, created=created)
    if not (settings.DEMO_DATA if content is None else content):
        return seed
    seed.added.extend(_demo_guardians(family))
    seed.added.extend(_demo_migrating_domain(family, user))
    added, skipped = _demo_pubky_domain(family, user)
    seed.added.extend(added)
    seed.skipped.extend(skipped)
    return seed
