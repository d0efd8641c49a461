"""Whole flows through the API, against the loopback Pubky testnet and DNS server."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command

from pubky.keys import Keypair
from pubky.testnet import Testnet
from tests.api.conftest import World, client_for

pytestmark = [pytest.mark.django_db, pytest.mark.shared_world]


def test_a_registered_domain_resolves_to_its_records_from_the_relays(world: World) -> None:
    member = client_for(world.people["member"])
    response = member.post(
        "/api/pubky-domains/",
        {
            "family": world.family.pk,
            "name": "Bakery.Example",
            "records": [
                {"name": "@", "type": "A", "value": "192.0.2.7"},
                {"name": "@", "type": "TXT", "value": "hello pubky", "ttl": 600},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["name"] == "bakery.example"
    assert created["status"] == "active"
    resolved = member.get(f"/api/pubky-domains/{created['id']}/resolve/").json()
    assert resolved["found"] is True
    assert {(r["name"], r["type"], r["value"]) for r in resolved["records"]} == {
        ("@", "A", "192.0.2.7"),
        ("@", "TXT", "hello pubky"),
        # the domain key's own homeserver: it is a Pubky identity too
        ("_pubky", "HTTPS", f"0 {created['homeserver_key']}."),
    }
    assert created["homeserver_key"]
    assert all(relay["ok"] for relay in resolved["relays"])
    relays = member.get(f"/api/pubky-domains/{created['id']}/pkarr-records/").json()
    assert {row["status"] for row in relays["results"]} == {"published"}
    score = member.get(f"/api/domains/{created['domain']}/score/").json()
    assert score["components"]["censorship_resistance"] > 0
    assert score["explanation"]["portability"]["rules"][0]["holds"] is True


def test_a_guardian_approved_migration_moves_the_domain_to_pubky_and_back(
    world: World, dns_server: Any
) -> None:
    world.family.guardian_approval_required = True
    world.family.save()
    member = client_for(world.people["member"])
    guardian = client_for(world.people["guardian"])

    created = member.post(
        "/api/migrations/",
        {"domain": world.domain.pk, "direction": "dns_to_pubky"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    migration = created.json()
    assert migration["approvals_required"] == 1
    path = f"/api/migrations/{migration['id']}"

    # No TXT record yet: the migration waits in `verifying`, with the reason.
    waiting = member.post(f"{path}/advance/")
    assert waiting.status_code == 409
    assert waiting.json()["code"] == "challenge_mismatch"
    dns_server.set_txt(migration["challenge_name"], migration["challenge_value"])
    verified = member.post(f"{path}/advance/")
    assert verified.json()["state"] == "verified"

    # Publishing waits for the guardian.
    blocked = member.post(f"{path}/advance/")
    assert blocked.status_code == 409
    assert blocked.json()["code"] == "approval_required"
    notes = guardian.get(f"/api/families/{world.family.pk}/notifications/", {"unread": True})
    assert "migration_approval_requested" in {n["kind"] for n in notes.json()["results"]}
    approved = guardian.post(f"{path}/approve/", {"comment": "fine by me"}, format="json")
    assert approved.status_code == 200
    assert approved.json()["approvals"][0]["decision"] == "approved"

    done = member.post(f"{path}/advance/")
    assert done.status_code == 200, done.json()
    assert done.json()["state"] == "completed"
    domain = member.get(f"/api/domains/{world.domain.pk}/").json()
    assert domain["pubky_enabled"] is True
    history = member.get(f"/api/domains/{world.domain.pk}/scores/").json()
    assert history["results"][0]["reason"] == "migration_completed"

    rolled_back = member.post(f"{path}/rollback/", {"reason": "changed our mind"}, format="json")
    assert rolled_back.status_code == 200
    assert rolled_back.json()["state"] == "rolled_back"
    assert member.get(f"/api/domains/{world.domain.pk}/").json()["pubky_enabled"] is False


def test_a_guardian_rejection_fails_the_migration(world: World) -> None:
    member = client_for(world.people["member"])
    migration = member.post(
        "/api/migrations/", {"domain": world.domain.pk, "direction": "dns_to_pubky"}, format="json"
    ).json()
    guardian = client_for(world.people["guardian"])
    rejected = guardian.post(f"/api/migrations/{migration['id']}/reject/", {}, format="json")
    assert rejected.json()["state"] == "failed"
    twice = guardian.post(f"/api/migrations/{migration['id']}/approve/", {}, format="json")
    assert twice.status_code == 409


def test_a_guardian_reports_their_backup_and_the_score_rises_once_it_is_seen(
    world: World, testnet: Testnet
) -> None:
    guardian = client_for(world.people["guardian"])
    member = client_for(world.people["member"])
    before = member.get(f"/api/domains/{world.domain.pk}/score/").json()["total"]
    backup_keys = Keypair.random()
    homeserver = testnet.homeserver_client()
    homeserver.signup(backup_keys, testnet.homeserver_public_key)
    url = f"pubky://{backup_keys.public_key.z32()}/pub/backup/smiths.key"
    homeserver.put(url, b"sealed recovery file")
    response = guardian.post(
        f"/api/guardians/{world.guardian_id}/backup-status/",
        {"status": "current", "url": url},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["pubky_backup_status"] == "current"
    # A report is a claim: it counts once the backup was seen on its homeserver.
    assert member.get(f"/api/domains/{world.domain.pk}/score/").json()["total"] == before
    call_command("verify_facts", stdout=io.StringIO())
    after = member.get(f"/api/domains/{world.domain.pk}/score/").json()["total"]
    assert after > before


def test_an_administrator_grants_and_revokes_access(world: World) -> None:
    admin = client_for(world.people["admin"])
    newbie = world.family.owner.__class__.objects.get(username="newbie")
    outsider = client_for(newbie)
    assert outsider.get(f"/api/families/{world.family.pk}/").status_code == 404
    grant = admin.post(
        "/api/grants/",
        {"grantee": "newbie", "target_type": "family", "target_id": world.family.pk},
        format="json",
    )
    assert grant.status_code == 201
    assert grant.json()["granted_by"]["username"] == "admin-user"
    assert outsider.get(f"/api/families/{world.family.pk}/").status_code == 200
    assert (
        outsider.patch(
            f"/api/domains/{world.domain.pk}/", {"registrar": "x"}, format="json"
        ).status_code
        == 403
    )  # a read grant
    revoked = admin.post(f"/api/grants/{grant.json()['id']}/revoke/")
    assert revoked.json()["is_current"] is False
    assert outsider.get(f"/api/families/{world.family.pk}/").status_code == 404
