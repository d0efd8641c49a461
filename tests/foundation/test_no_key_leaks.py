"""No admin page, API schema, audit entry or log line ever shows a private key."""

from __future__ import annotations

import base64
import logging

import pytest
from auditlog.models import LogEntry
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from domains.models import PubkyDomain
from families.models import PubkyKeypair, User
from tests.factories import DomainFactory, FamilyFactory, GuardianFactory, UserFactory

pytestmark = pytest.mark.django_db

SEED = bytes.fromhex("c0ffee" + "ab" * 29)
KEY_A = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"
KEY_B = "yqooxx9u3aemh8mo5wcqq16yufu6jitouq1o4za751dger1igghy"
KEY_C = "xg4icmwxh3kx1odasrjqtkcmw6eb9bj4h4k57i9yhqeozmer131y"


def _forms(blob: bytes) -> list[str]:
    """Ways a secret could be rendered in text."""
    return [
        blob.hex(),
        blob.hex().upper(),
        base64.b64encode(blob).decode(),
        base64.urlsafe_b64encode(blob).decode(),
        repr(blob)[2:-1],
    ]


@pytest.fixture
def sealed_objects():
    user = UserFactory(username="keyholder", pubky_public_key=KEY_A)
    user.set_private_key(SEED)
    user.save()
    family = FamilyFactory()
    keypair = PubkyKeypair(family=family, public_key=KEY_B)
    keypair.set_private_key(SEED)
    keypair.save()
    domain = DomainFactory(family=family)
    pubky_domain = PubkyDomain(name="leak.example", family=family, domain=domain, public_key=KEY_C)
    pubky_domain.set_private_key(SEED)
    pubky_domain.save()
    GuardianFactory(family=family)
    sealed = [
        bytes(User.objects.get(pk=user.pk).pubky_private_key_encrypted),
        bytes(PubkyKeypair.objects.get(pk=keypair.pk).private_key_encrypted),
        bytes(PubkyDomain.objects.get(pk=pubky_domain.pk).private_key_encrypted),
    ]
    return {"user": user, "keypair": keypair, "pubky_domain": pubky_domain, "sealed": sealed}


def _secret_forms(sealed_objects) -> list[str]:
    forms = _forms(SEED)
    for blob in sealed_objects["sealed"]:
        forms += _forms(blob)
    return forms


def test_no_admin_page_shows_a_private_key(client, sealed_objects) -> None:
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    pages = [reverse("admin:index")]
    for model, _model_admin in admin.site._registry.items():
        meta = model._meta
        pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        obj = model.objects.first()
        if obj is not None:
            try:
                pages.append(
                    reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
                )
            except NoReverseMatch:
                pass
    forms = _secret_forms(sealed_objects)
    assert len(pages) > 20
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        assert "private_key_encrypted" not in html, page
        for form in forms:
            assert form not in html, page


def test_the_api_schema_exposes_no_private_key(client) -> None:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert "private_key" not in response.content.decode().lower()


def test_audit_entries_never_record_sealed_keys(sealed_objects) -> None:
    changes = " ".join(str(entry.changes) for entry in LogEntry.objects.all())
    assert LogEntry.objects.exists()
    assert "private_key_encrypted" not in changes
    for form in _secret_forms(sealed_objects):
        assert form not in changes


def test_logs_never_show_a_private_key(caplog, settings) -> None:
    settings.DEBUG = True  # makes django.db.backends log every query with its parameters
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("django.db.backends").setLevel(logging.DEBUG)
        try:
            user = UserFactory(username="logged")
            user.set_private_key(SEED)
            user.save()
            assert User.objects.get(pk=user.pk).get_private_key() == SEED
            logging.getLogger("test").info("user %r keypair %s", user, user)
        finally:
            logging.getLogger("django.db.backends").setLevel(logging.WARNING)
    text = caplog.text
    assert "UPDATE" in text or "INSERT" in text
    for form in _forms(SEED):
        assert form not in text


def test_reprs_never_show_a_private_key(sealed_objects) -> None:
    for name in ("user", "keypair", "pubky_domain"):
        obj = sealed_objects[name]
        for form in _forms(SEED):
            assert form not in repr(obj)
            assert form not in str(obj)
