"""Security events the core reports (sign-ins, denials, rate limits) land in the families app's
audit trail, through the core's port: the API base imports no app."""

from __future__ import annotations

import pytest

from families.models import SecurityEvent, SecurityEventKind
from families.security import private_key_use_record
from pubkyproject import security_port
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_every_kind_the_core_reports_is_one_the_audit_trail_knows() -> None:
    assert set(SecurityEventKind.values) >= security_port.CORE_KINDS


def test_an_event_the_core_reports_is_stored_with_its_user_and_request() -> None:
    user = UserFactory(username="reported")
    security_port.record(
        kind=security_port.ACCESS_DENIED,
        user=user,
        ip_address="192.0.2.1",
        target="GET /api/families/1/",
        detail={"reason": "not a member"},
    )
    event = SecurityEvent.objects.get(kind=SecurityEventKind.ACCESS_DENIED)
    assert (event.user, event.username, event.ip_address, event.target, event.detail) == (
        user,
        "reported",
        "192.0.2.1",
        "GET /api/families/1/",
        {"reason": "not a member"},
    )


def test_a_kind_the_audit_trail_does_not_know_is_refused_and_nothing_stored() -> None:
    with pytest.raises(ValueError, match="unknown security event kind"):
        security_port.record(kind="made_up", target="GET /")
    assert not SecurityEvent.objects.exists()


def test_key_use_inside_a_request_is_recorded_for_the_acting_user() -> None:
    user = UserFactory(username="acting")
    with security_port.acting_as(user):
        private_key_use_record(purpose="sign", target="family:1")
    private_key_use_record(purpose="republish", target="family:1")  # a worker: nobody acts
    inside, outside = SecurityEvent.objects.order_by("pk")
    assert (inside.user, inside.detail["acting"]) == (user, "user")
    assert (outside.user, outside.detail["acting"]) == (None, "service")
