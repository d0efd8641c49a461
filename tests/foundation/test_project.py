"""Migrations are complete, the demo seed is idempotent, model changes are audited."""

from __future__ import annotations

import io

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command

from families.models import Family, FamilyMembership, User
from families.services.families import family_create, family_member_add, family_member_remove
from tests.factories import FamilyFactory, UserFactory


@pytest.mark.django_db
def test_makemigrations_is_clean() -> None:
    out = io.StringIO()
    call_command("makemigrations", check=True, dry_run=True, stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_seed_demo_is_idempotent(monkeypatch, settings) -> None:
    settings.DEMO_DATA = False  # the demo domains need a testnet: tests/domains/test_demo_seed.py
    monkeypatch.setenv("DEMO_PASSWORD", "s3cret-demo")
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    user = User.objects.get(username="demo")
    assert user.check_password("s3cret-demo")
    family = Family.objects.get(slug="demo-family")
    assert family.owner == user
    assert FamilyMembership.objects.filter(family=family, user=user, role="owner").count() == 1
    assert User.objects.filter(username="demo").count() == 1


@pytest.mark.django_db
def test_family_services_manage_membership() -> None:
    owner, member = UserFactory(), UserFactory()
    family = family_create(name="The Smiths", owner=owner)
    assert family.slug == "the-smiths"
    assert family_create(name="The Smiths", owner=owner).slug == "the-smiths-2"
    family_member_add(family=family, user=member, role="viewer")
    assert family_member_add(family=family, user=member, role="admin").role == "admin"
    family_member_remove(family=family, user=member)
    assert not FamilyMembership.objects.filter(family=family, user=member).exists()
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        family_member_remove(family=family, user=owner)


@pytest.mark.django_db
def test_model_changes_are_audited() -> None:
    family = FamilyFactory(name="Before")
    family.name = "After"
    family.save()
    entries = LogEntry.objects.get_for_object(family)
    assert entries.count() == 2
    assert entries.first().changes_dict["name"] == ["Before", "After"]
