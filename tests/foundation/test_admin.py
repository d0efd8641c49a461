"""The admin: families with members and keypairs, guardians filtered, read-only history."""

from __future__ import annotations

import pytest
from django.contrib import admin

from domains.models import DomainMigration, SovereigntyScore
from families.models import Family, PubkyKeypair, SecurityEvent
from guardians.models import FederationGuardian
from tests.factories import DomainFactory, FamilyFactory, GuardianFactory, UserFactory

pytestmark = pytest.mark.django_db

KEY_A = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    return client


def test_family_page_shows_members_keypair_public_key_and_pubky_settings(staff_client) -> None:
    family = FamilyFactory(name="Smiths", pubky_homeserver_url="http://127.0.0.1:6286")
    PubkyKeypair.objects.create(family=family, public_key=KEY_A)
    GuardianFactory(family=family, name="Grandma")
    html = staff_client.get(f"/admin/families/family/{family.pk}/change/").content.decode()
    assert family.owner.username in html
    assert KEY_A in html
    assert "http://127.0.0.1:6286" in html
    assert "Grandma" in html
    assert "pubky_relay_url" in html


def test_guardians_filter_by_family_and_backup_status(staff_client) -> None:
    a, b = FamilyFactory(name="Alpha"), FamilyFactory(name="Beta")
    GuardianFactory(family=a, name="Ann", pubky_backup_status="current")
    GuardianFactory(family=a, name="Abe", pubky_backup_status="stale")
    GuardianFactory(family=b, name="Bob", pubky_backup_status="current")
    url = "/admin/guardians/federationguardian/"
    html = staff_client.get(url, {"family__id__exact": a.pk}).content.decode()
    assert "Ann" in html
    assert "Abe" in html
    assert "Bob" not in html
    html = staff_client.get(url, {"pubky_backup_status__exact": "current"}).content.decode()
    assert "Ann" in html
    assert "Bob" in html
    assert "Abe" not in html


def test_score_history_and_security_events_are_read_only(staff_client) -> None:
    domain = DomainFactory()
    score = SovereigntyScore.objects.create(
        domain=domain,
        total=5,
        provider_independence=1,
        key_ownership=1,
        censorship_resistance=1,
        privacy=1,
        portability=1,
    )
    SecurityEvent.objects.create(kind="login_failed", username="mallory")
    for model in (SovereigntyScore, SecurityEvent, PubkyKeypair):
        model_admin = admin.site._registry[model]
        request = staff_client.get("/admin/").wsgi_request
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)
    assert staff_client.get("/admin/domains/sovereigntyscore/").status_code == 200
    response = staff_client.post(f"/admin/domains/sovereigntyscore/{score.pk}/change/", {})
    assert response.status_code == 403
    assert "mallory" in staff_client.get("/admin/families/securityevent/").content.decode()


def test_migrations_cannot_be_created_by_hand(staff_client) -> None:
    assert staff_client.get("/admin/domains/domainmigration/add/").status_code == 403
    assert staff_client.get("/admin/domains/pubkydomain/add/").status_code == 403
    assert DomainMigration.objects.count() == 0


def test_the_audit_log_is_in_the_admin(staff_client) -> None:
    FamilyFactory(name="Audited")
    html = staff_client.get("/admin/auditlog/logentry/").content.decode()
    assert "Audited" in html


def test_admin_registers_every_model_people_manage() -> None:
    registered = {m._meta.label for m in admin.site._registry}
    assert {
        "families.Family",
        "families.User",
        "families.SecurityEvent",
        "guardians.FederationGuardian",
        "domains.DomainRecord",
        "domains.DomainMigration",
        "domains.SovereigntyScore",
        "domains.PubkyDomain",
        "auditlog.LogEntry",
    } <= registered
    assert Family in admin.site._registry
    assert FederationGuardian in admin.site._registry
