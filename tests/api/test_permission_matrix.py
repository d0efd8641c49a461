"""Every endpoint and action, called by every kind of caller, answers what the policy says.

The expected status codes are written out by hand below (one row per endpoint and action, one
column per caller), not computed by asking ``pubkyproject.policy``: this table *is* the policy's
specification as the API shows it. Reading:

* 404 — the caller may not see the object (or it does not exist: the two are indistinguishable);
* 403 — the caller sees the object but may not do this to it;
* 401 — an anonymous caller tried to change something.

The world (``tests.api.conftest.build_world``): the private family *Smiths* with its owner, an
admin, a member and a viewer; an active guardian of the Smiths; ``granted``, who holds a
*write* grant on the domain ``smith.example`` only; ``stranger``, owner of the *Joneses*; and
an anonymous caller. Each row runs once per caller inside a savepoint that is rolled back, so
every caller meets the same world. Endpoints that publish, resolve, sign up or check DNS talk
to the loopback Pubky testnet and DNS server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from domains.models import DomainMigration, MigrationState
from domains.services.migration import create_domain_migration, domain_migration_fail
from families.models import AccessGrant, SecurityEvent
from families.services.pubky import create_family_keypair, enable_pubky_for_family
from tests.api.conftest import ROLES, World

pytestmark = [pytest.mark.django_db, pytest.mark.shared_world]

#                     owner admin member viewer guardian granted stranger anonymous
READ_FAMILY = "        200   200   200    200    200      404     404      404"
ADMIN_ONLY = "         {ok}  {ok}  403    403    403      404     404      401"
READ_DOMAIN = "        200   200   200    200    200      200     404      404"
CHANGE_DOMAIN = "      {ok}  {ok}  {ok}   403    403      {ok}    404      401"
EVERYONE = "           200   200   200    200    200      200     200      200"


def codes(row: str, ok: int = 200) -> dict[str, int]:
    values = row.format(ok=ok).split()
    assert len(values) == len(ROLES), row
    return dict(zip(ROLES, map(int, values), strict=True))


@dataclass(frozen=True)
class Case:
    """One endpoint and action: ``prepare`` returns (method, path, body) for the world."""

    name: str
    prepare: Callable[[World, Any], tuple[str, str, dict[str, Any] | None]]
    expected: dict[str, int]


def _pending_migration(w: World) -> DomainMigration:
    return create_domain_migration(domain=w.domain, direction="dns_to_pubky")


def _failed_migration(w: World) -> DomainMigration:
    migration = _pending_migration(w)
    return domain_migration_fail(migration=migration, reason="relays unreachable")


def _completed_migration(w: World) -> DomainMigration:
    migration = _pending_migration(w)
    snapshot = {
        "domain": {"status": "active", "pubky_enabled": False, "registrar": ""},
        "dns_records": [["@", "A", "192.0.2.1", 3600]],
        "pubky_domain": {"id": w.pubky_domain.pk, "status": "draft"},
    }
    DomainMigration.objects.filter(pk=migration.pk).update(
        state=MigrationState.COMPLETED, previous_state=snapshot, completed_at=timezone.now()
    )
    return migration


def _verifiable_migration(w: World, dns: Any) -> DomainMigration:
    migration = _pending_migration(w)
    dns.set_txt(migration.challenge_name, migration.challenge_value)
    return migration


def _with_keypair(w: World) -> str:
    create_family_keypair(family=w.family)
    return f"/api/families/{w.family.pk}/keypairs/"


def _with_pubky_identity(w: World) -> str:
    enable_pubky_for_family(family=w.family)  # signs up at the testnet homeserver
    return f"/api/families/{w.family.pk}/keypairs/rotate/"


def _grant(w: World) -> AccessGrant:
    return AccessGrant.objects.get(grantee=w.people["granted"])


F = "/api/families/{w.family.pk}"
D = "/api/domains/{w.domain.pk}"

CASES = [
    # --- families ---
    Case("families list", lambda w, d: ("get", "/api/families/", None), codes(EVERYONE)),
    Case(
        "families create",
        lambda w, d: ("post", "/api/families/", {"name": "New family"}),
        codes("201 201 201 201 201 201 201 401"),
    ),
    Case("family retrieve", lambda w, d: ("get", f"{F}/".format(w=w), None), codes(READ_FAMILY)),
    Case(
        "family update",
        lambda w, d: ("patch", f"{F}/".format(w=w), {"description": "Our domains"}),
        codes(ADMIN_ONLY),
    ),
    Case(
        "members list",
        lambda w, d: ("get", f"{F}/members/".format(w=w), None),
        codes(READ_FAMILY),
    ),
    Case(
        "member add",
        lambda w, d: ("post", f"{F}/members/".format(w=w), {"username": "newbie"}),
        codes(ADMIN_ONLY, ok=201),
    ),
    Case(
        "member retrieve",
        lambda w, d: ("get", f"{F}/members/{w.people['viewer'].pk}/".format(w=w), None),
        codes(READ_FAMILY),
    ),
    Case(
        "member role change",
        lambda w, d: (
            "patch",
            f"{F}/members/{w.people['viewer'].pk}/".format(w=w),
            {"role": "member"},
        ),
        codes(ADMIN_ONLY),
    ),
    Case(
        "member remove",
        lambda w, d: ("delete", f"{F}/members/{w.people['viewer'].pk}/".format(w=w), None),
        codes(ADMIN_ONLY, ok=204),
    ),
    Case(
        "pubky enable",
        lambda w, d: ("post", f"{F}/pubky/enable/".format(w=w), None),
        codes(ADMIN_ONLY),
    ),
    Case(
        "keypairs list",
        lambda w, d: ("get", _with_keypair(w), None),
        codes(READ_FAMILY),
    ),
    Case(
        "keypair rotate",
        lambda w, d: ("post", _with_pubky_identity(w), None),
        codes(ADMIN_ONLY, ok=201),
    ),
    # --- grants ---
    Case("grants list", lambda w, d: ("get", "/api/grants/", None), codes(EVERYONE)),
    Case(
        "grant on the family",
        lambda w, d: (
            "post",
            "/api/grants/",
            {"grantee": "newbie", "target_type": "family", "target_id": w.family.pk},
        ),
        codes(ADMIN_ONLY, ok=201),
    ),
    Case(
        "grant on a domain",
        lambda w, d: (
            "post",
            "/api/grants/",
            {"grantee": "newbie", "target_type": "domain", "target_id": w.domain.pk},
        ),
        codes("201 201 403 403 403 403 404 401"),
    ),
    Case(
        "grant retrieve",
        lambda w, d: ("get", f"/api/grants/{_grant(w).pk}/", None),
        codes("200 200 404 404 404 200 404 404"),
    ),
    Case(
        "grant revoke",
        lambda w, d: ("post", f"/api/grants/{_grant(w).pk}/revoke/", None),
        codes("200 200 404 404 404 200 404 401"),
    ),
    # --- domains and DNS records ---
    Case("domains list", lambda w, d: ("get", "/api/domains/", None), codes(EVERYONE)),
    Case(
        "domain create",
        lambda w, d: ("post", "/api/domains/", {"family": w.family.pk, "name": "fresh.example"}),
        codes("201 201 201 403 403 404 404 401"),
    ),
    Case("domain retrieve", lambda w, d: ("get", f"{D}/".format(w=w), None), codes(READ_DOMAIN)),
    Case(
        "public domain retrieve",
        lambda w, d: ("get", f"/api/domains/{w.public_domain.pk}/", None),
        codes(EVERYONE),
    ),
    Case(
        "domain update",
        lambda w, d: ("patch", f"{D}/".format(w=w), {"registrar": "Example Registrar"}),
        codes(CHANGE_DOMAIN),
    ),
    Case(
        "public domain update",
        lambda w, d: ("patch", f"/api/domains/{w.public_domain.pk}/", {"registrar": "X"}),
        codes("200 200 200 403 403 403 403 401"),
    ),
    Case(
        "domain delete",
        lambda w, d: ("delete", f"{D}/".format(w=w), None),
        codes(CHANGE_DOMAIN, ok=204),
    ),
    Case(
        "dns records list",
        lambda w, d: ("get", f"{D}/dns-records/".format(w=w), None),
        codes(READ_DOMAIN),
    ),
    Case(
        "dns record create",
        lambda w, d: (
            "post",
            f"{D}/dns-records/".format(w=w),
            {"name": "www", "type": "CNAME", "value": "smith.example."},
        ),
        codes(CHANGE_DOMAIN, ok=201),
    ),
    Case(
        "dns record retrieve",
        lambda w, d: ("get", f"{D}/dns-records/{w.dns.pk}/".format(w=w), None),
        codes(READ_DOMAIN),
    ),
    Case(
        "dns record update",
        lambda w, d: ("patch", f"{D}/dns-records/{w.dns.pk}/".format(w=w), {"ttl": 600}),
        codes(CHANGE_DOMAIN),
    ),
    Case(
        "dns record delete",
        lambda w, d: ("delete", f"{D}/dns-records/{w.dns.pk}/".format(w=w), None),
        codes(CHANGE_DOMAIN, ok=204),
    ),
    # --- scores ---
    Case("score", lambda w, d: ("get", f"{D}/score/".format(w=w), None), codes(READ_DOMAIN)),
    Case(
        "score history",
        lambda w, d: ("get", f"{D}/scores/".format(w=w), None),
        codes(READ_DOMAIN),
    ),
    Case(
        "score recalculate",
        lambda w, d: ("post", f"{D}/score/recalculate/".format(w=w), None),
        codes(CHANGE_DOMAIN),
    ),
    # --- migrations ---
    Case("migrations list", lambda w, d: ("get", "/api/migrations/", None), codes(EVERYONE)),
    Case(
        "migration create",
        lambda w, d: (
            "post",
            "/api/migrations/",
            {"domain": w.domain.pk, "direction": "dns_to_pubky"},
        ),
        codes(CHANGE_DOMAIN, ok=201),
    ),
    Case(
        "migration retrieve",
        lambda w, d: ("get", f"/api/migrations/{_pending_migration(w).pk}/", None),
        codes(READ_DOMAIN),
    ),
    Case(
        "migration advance",
        lambda w, d: ("post", f"/api/migrations/{_verifiable_migration(w, d).pk}/advance/", None),
        codes(CHANGE_DOMAIN),
    ),
    Case(
        "migration cancel",
        lambda w, d: ("post", f"/api/migrations/{_pending_migration(w).pk}/cancel/", {}),
        codes(CHANGE_DOMAIN),
    ),
    Case(
        "migration retry",
        lambda w, d: ("post", f"/api/migrations/{_failed_migration(w).pk}/retry/", None),
        codes(CHANGE_DOMAIN),
    ),
    Case(
        "migration rollback",
        lambda w, d: ("post", f"/api/migrations/{_completed_migration(w).pk}/rollback/", {}),
        codes(CHANGE_DOMAIN),
    ),
    Case(
        "migration approve",
        lambda w, d: ("post", f"/api/migrations/{_pending_migration(w).pk}/approve/", {}),
        codes("403 403 403 403 200 403 404 401"),
    ),
    Case(
        "migration reject",
        lambda w, d: ("post", f"/api/migrations/{_pending_migration(w).pk}/reject/", {}),
        codes("403 403 403 403 200 403 404 401"),
    ),
    # --- Pubky domains, PKARR records, relays ---
    Case("pubky domains list", lambda w, d: ("get", "/api/pubky-domains/", None), codes(EVERYONE)),
    Case(
        "pubky domain register",
        lambda w, d: (
            "post",
            "/api/pubky-domains/",
            {"family": w.family.pk, "name": "reg.example"},
        ),
        codes("201 201 201 403 403 404 404 401"),
    ),
    Case(
        "pubky domain retrieve",
        lambda w, d: ("get", f"/api/pubky-domains/{w.pubky_domain.pk}/", None),
        codes(READ_DOMAIN),
    ),
    Case(
        "pubky domain publish",
        lambda w, d: ("post", f"/api/pubky-domains/{w.pubky_domain.pk}/publish/", None),
        codes(CHANGE_DOMAIN),
    ),
    Case(
        "pubky domain resolve",
        lambda w, d: ("get", f"/api/pubky-domains/{w.pubky_domain.pk}/resolve/", None),
        codes(READ_DOMAIN),
    ),
    Case(
        "pkarr records",
        lambda w, d: ("get", f"/api/pubky-domains/{w.pubky_domain.pk}/pkarr-records/", None),
        codes(READ_DOMAIN),
    ),
    Case("relays", lambda w, d: ("get", "/api/relays/", None), codes(EVERYONE)),
    Case("relay history", lambda w, d: ("get", "/api/relays/history/", None), codes(EVERYONE)),
    Case(
        "domain activity",
        lambda w, d: ("get", f"/api/domains/{w.domain.pk}/activity/", None),
        codes(READ_DOMAIN),
    ),
    # --- guardians and notifications ---
    Case(
        "guardians list",
        lambda w, d: ("get", f"{F}/guardians/".format(w=w), None),
        codes(READ_FAMILY),
    ),
    Case(
        "guardian create",
        lambda w, d: ("post", f"{F}/guardians/".format(w=w), {"name": "Aunt May"}),
        codes(ADMIN_ONLY, ok=201),
    ),
    Case(
        "guardian retrieve",
        lambda w, d: ("get", f"/api/guardians/{w.guardian_id}/", None),
        codes(READ_FAMILY),
    ),
    Case(
        "guardian update",
        lambda w, d: ("patch", f"/api/guardians/{w.guardian_id}/", {"name": "Grandpa"}),
        codes(ADMIN_ONLY),
    ),
    Case(
        "guardian backup status",
        lambda w, d: (
            "post",
            f"/api/guardians/{w.guardian_id}/backup-status/",
            {"status": "current", "url": "pubky://backup.example/key"},
        ),
        codes("200 200 403 403 200 404 404 401"),
    ),
    Case(
        "notifications list",
        lambda w, d: ("get", f"{F}/notifications/".format(w=w), None),
        codes(READ_FAMILY),
    ),
    Case(
        "notification mark read",
        lambda w, d: ("post", f"/api/notifications/{w.notification.pk}/read/", None),
        codes("200 200 200 200 200 404 404 401"),
    ),
    # --- the audit trails ---
    Case(
        "security events",
        lambda w, d: ("get", "/api/audit/security-events/", None),
        codes("403 403 403 403 403 403 403 401"),
    ),
    Case(
        "audit log entries",
        lambda w, d: ("get", "/api/audit/log-entries/", None),
        codes("403 403 403 403 403 403 403 401"),
    ),
]


def _call(world: World, role: str, method: str, path: str, body: dict[str, Any] | None) -> int:
    client = world.client(role)
    response = getattr(client, method)(path, body, format="json")
    return response.status_code


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_caller_gets_what_the_policy_table_says(
    case: Case, world: World, dns_server: Any
) -> None:
    method, path, body = case.prepare(world, dns_server)
    actual: dict[str, int] = {}
    for role in ROLES:
        savepoint = transaction.savepoint()
        try:
            actual[role] = _call(world, role, method, path, body)
        finally:
            transaction.savepoint_rollback(savepoint)
    assert actual == case.expected


def test_every_refusal_is_recorded_as_denied_access(world: World) -> None:
    since = timezone.now() - timedelta(seconds=1)
    response = world.client("viewer").patch(
        f"/api/domains/{world.domain.pk}/", {"registrar": "Nope"}, format="json"
    )
    assert response.status_code == 403
    event = SecurityEvent.objects.get(kind="access_denied", created_at__gte=since)
    assert event.user == world.people["viewer"]
    assert event.target == f"PATCH /api/domains/{world.domain.pk}/"
    assert event.ip_address == "127.0.0.1"


def test_hidden_objects_and_missing_objects_answer_the_same(world: World) -> None:
    stranger = world.client("stranger")
    hidden = stranger.get(f"/api/domains/{world.domain.pk}/")
    missing = stranger.get("/api/domains/999999999/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["code"] == missing.json()["code"] == "not_found"
