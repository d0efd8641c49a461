"""The machinery under every admin action: failures in plain words, limits, confirmations."""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import Any, cast

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import HttpRequest
from django.test import RequestFactory

from domains.models import DomainMigration, DomainRecord, MigrationDirection, SovereigntyScore
from domains.services.migration import create_domain_migration
from families.models import Family, FamilyRole
from guardians.models import GuardianApproval
from pubkyproject import admin_actions
from pubkyproject.admin_actions import (
    ObjectAction,
    admin_action,
    admin_actions_register,
    run_object_action,
)
from tests.admin.conftest import staff_user
from tests.factories import DomainFactory, FamilyFactory, GuardianFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def request_with_messages() -> HttpRequest:
    request = RequestFactory().post("/admin/")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    return request


def failing(exc: Exception) -> ObjectAction:
    def run(request: HttpRequest, obj: Any, reason: str) -> str:
        raise exc

    return ObjectAction(
        name="poke", description="Poke", verb="poked", run=run, permitted=lambda r, o: True
    )


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ValidationError({"ttl": ["Too large."]}), "Ttl: Too large."),
        (ValidationError("Not now."), "Not now."),
        (IntegrityError("duplicate key"), "Someone changed it at the same moment"),
        (RuntimeError("secret internals"), "An unexpected error stopped it; the details are"),
    ],
)
def test_a_failure_is_a_sentence_and_never_the_exception(
    exc: Exception, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    domain = cast(DomainRecord, DomainFactory(name="poked.example"))
    request = request_with_messages()

    with caplog.at_level(logging.INFO, logger="pubkyproject.admin"):
        report = run_object_action(failing(exc), request, [domain])

    (message,) = [str(m) for m in get_messages(request)]
    assert message.startswith("Domain record “poked.example”: not poked. " + expected)
    assert "secret internals" not in message
    assert type(exc).__name__ not in message
    assert report.failed == ["Domain record “poked.example”"]
    if isinstance(exc, RuntimeError):
        (record,) = [r for r in caplog.records if r.exc_info]
        assert "admin action poke failed" in record.getMessage()


def test_a_larger_selection_than_the_limit_does_nothing(
    monkeypatch: pytest.MonkeyPatch, client: Any
) -> None:
    monkeypatch.setattr(admin_actions, "MAX_OBJECTS", 1)
    alice = staff_user("alice")
    family = cast(Family, FamilyFactory())
    MembershipFactory(family=family, user=alice, role=FamilyRole.MEMBER)
    domains = [DomainFactory(family=family), DomainFactory(family=family)]
    client.force_login(alice)

    response = client.post(
        "/admin/domains/domainrecord/",
        {"action": "recalculate_scores", "_selected_action": [d.pk for d in domains]},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == [
        "Recalculate the sovereignty score: select at most 1 at a time; nothing was done."
    ]
    assert not SovereigntyScore.objects.exists()


@pytest.mark.parametrize(
    ("reason", "error"),
    [
        ("x" * 1001, "Ensure this value has at most 1000 characters"),
        ("no\x1bway", "Control characters (such as NUL) are not allowed."),
    ],
)
def test_a_bad_reason_is_asked_again(client: Any, reason: str, error: str) -> None:
    family = cast(Family, FamilyFactory(guardian_approval_required=True, guardian_threshold=1))
    grandma = staff_user("grandma")
    GuardianFactory(family=family, user=grandma)
    domain = cast(DomainRecord, DomainFactory(family=family))
    migration = create_domain_migration(domain=domain, direction=MigrationDirection.DNS_TO_PUBKY)
    client.force_login(grandma)

    response = client.post(
        "/admin/domains/domainmigration/",
        {
            "action": "reject_as_guardian",
            "_selected_action": [migration.pk],
            "confirmed": "yes",
            "reason": reason,
        },
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not GuardianApproval.objects.exists()
    migration.refresh_from_db()
    assert migration.state == "pending"


def test_an_action_name_is_registered_once_per_model() -> None:
    action = admin_action(failing(RuntimeError()))
    admin_actions_register(DomainRecord, action)
    try:
        with pytest.raises(ValueError, match="already has an admin action poke"):
            admin_actions_register(DomainRecord, action)
    finally:
        admin_actions._REGISTERED[DomainRecord._meta.label].remove(action)


def test_the_plumbing_imports_no_app() -> None:
    """The core layer sits below the apps: the apps bind the policy and the services."""
    source = Path(admin_actions.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
    assert not imported & {"families", "domains", "guardians", "realtime"}


def test_migration_actions_are_offered_with_the_guardians_decisions(client: Any) -> None:
    domain = cast(DomainRecord, DomainFactory())
    create_domain_migration(domain=domain, direction=MigrationDirection.DNS_TO_PUBKY)
    client.force_login(staff_user("root", superuser=True))
    page = client.get("/admin/domains/domainmigration/").content.decode()
    for name in ("advance", "retry", "cancel", "rollback", "approve_as_guardian"):
        assert f'value="{name}"' in page
    assert "reject_as_guardian" in page
    assert DomainMigration.objects.count() == 1
