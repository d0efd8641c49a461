"""Every event type has one typed shape, and a sovereignty score is one object everywhere."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from domains.models import DomainRecord
from domains.services.relays import relay_status_record
from domains.services.scoring import calculate_sovereignty_score
from families.models import Family
from pubky.relay_client import RelayResult
from pubkyproject import topics
from pubkyproject.event_types import (
    EVENT_SHAPES,
    LIFECYCLE_SHAPES,
    EventShapeError,
    SovereigntyScore,
    check_payload,
    payload_problems,
)
from pubkyproject.policy import principal_for_user_id
from realtime import lifecycle, protocol
from realtime.cache import encode_content
from realtime.payloads import changes_for
from realtime.selectors import score_snapshot
from tests.events.capture import of_type, verify_action

SCORE_FIELDS = set(SovereigntyScore.__required_keys__)


def test_every_published_event_type_has_a_shape() -> None:
    published = (
        set(protocol.EVENT_TYPES)  # what clients may filter on
        | set(lifecycle.event_types())  # created/deleted on the family topic
        | {"access_changed", "session_revoked"}  # control events
    )
    assert published <= set(EVENT_SHAPES), sorted(published - set(EVENT_SHAPES))
    assert set(LIFECYCLE_SHAPES) == {lc.name for lc in lifecycle.registry().values()}


def test_a_payload_with_a_missing_an_extra_or_a_mistyped_field_is_refused() -> None:
    good = {"userId": 5}
    check_payload("access_changed", good)
    assert payload_problems("access_changed", {}) == ["userId is missing"]
    assert payload_problems("access_changed", {"userId": 5, "x": 1}) == [
        "x is not part of AccessChangedData"
    ]
    assert payload_problems("access_changed", {"userId": "5"}) == [
        "userId is '5', not <class 'int'>"
    ]
    assert payload_problems("no_such_event", good) == ["'no_such_event' is not a known event type"]
    with pytest.raises(EventShapeError, match=r"relays\[0\]\.isUp is missing"):
        check_payload("pubky_relay_status", {"relays": [{"url": "http://r"}]})


def test_the_two_guardian_notification_shapes_are_both_accepted_and_told_apart() -> None:
    guardian = {
        "id": 1,
        "name": "Gran",
        "status": "active",
        "backupStatus": "none",
        "backupUrl": "",
        "backupLastUpdated": None,
    }
    check_payload(
        "pubky_guardian_notification",
        {"kind": "guardian_updated", "familyId": 3, "guardian": guardian},
    )
    with pytest.raises(EventShapeError, match=r"guardian\.name is missing"):
        check_payload(
            "pubky_guardian_notification",
            {"kind": "guardian_updated", "familyId": 3, "guardian": {"id": 1}},
        )


def test_content_updates_have_their_shape_found_or_deleted() -> None:
    url = "pubky://xg4icmwxh3kx1odasrjqtkcmw6eb9bj4h4k57i9yhqeozmer131y/pub/a.txt"
    found = {"url": url, "found": True, "etag": '"e"', **encode_content(b"hi", "text/plain")}
    check_payload("pubky_content_update", {**found, "deleted": False, "subscription": url})
    deleted = {"url": url, "deleted": True, "content": None, "encoding": None, "etag": None}
    check_payload("pubky_content_update", {**deleted, "subscription": url})


@pytest.mark.django_db
def test_a_relay_check_announces_the_relay_on_the_relays_topic() -> None:
    result = RelayResult(relay_url="http://127.0.0.1:9", ok=True, status=404, latency_ms=3.5)
    verify_action(
        lambda: relay_status_record(url="http://127.0.0.1:9", result=result),
        [(topics.RELAYS, "pubky_relay_status")],
    )


@pytest.mark.django_db
def test_a_score_is_the_same_object_in_rest_the_websocket_reply_and_its_event(
    registrar_domain: DomainRecord, family: Family
) -> None:
    stored, events = verify_action(
        lambda: calculate_sovereignty_score(domain=registrar_domain, reason="same", force=True),
        [(topics.sovereignty_score(registrar_domain.pk), "pubky_sovereignty_score")],
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(family.owner)}")
    response = client.get(f"/api/domains/{registrar_domain.pk}/score/")
    assert response.status_code == 200
    rest: dict[str, Any] = response.json()
    principal = principal_for_user_id(family.owner.pk)
    assert principal is not None
    reply = score_snapshot(principal, domain_id=registrar_domain.pk)
    (event,) = of_type(events, "pubky_sovereignty_score")

    # The same field names, the same values (timestamps as instants: REST writes UTC as "Z").
    assert SCORE_FIELDS | {"explanation"} == set(rest)
    assert SCORE_FIELDS | {"explanation"} <= set(reply)
    assert set(event) >= SCORE_FIELDS
    for field in ("domain", "total", "components", "rubric_version"):
        assert rest[field] == reply[field] == event[field], field
    assert rest["explanation"] == reply["explanation"]
    assert rest["calculated_at"].replace("Z", "+00:00") == reply["calculated_at"]
    assert reply["calculated_at"] == event["calculated_at"] == stored.calculated_at.isoformat()
    assert event["score_id"] == stored.pk and event["reason"] == "same"
    # The former names still carry the same values for one release.
    assert event["domainId"] == event["domain"] and event["scoreId"] == event["score_id"]
    assert event["sovereignty_score"] == event["total"]
    assert event["calculatedAt"] == event["calculated_at"]
    assert reply["breakdown"] == reply["explanation"] and reply["domainId"] == reply["domain"]
    assert reply["sovereignty_score"] == reply["total"] and reply["name"] == registrar_domain.name


@pytest.mark.django_db
def test_the_model_change_builders_produce_their_shapes(registrar_domain: DomainRecord) -> None:
    record = registrar_domain.dns_records.first()
    assert record is not None
    for instance in (registrar_domain, record):
        for deleted in (False, True):
            for _topic, event_type, payload in changes_for(instance, deleted=deleted):
                check_payload(event_type, payload)
            for _topic, event_type, payload in lifecycle.lifecycle_changes(
                instance, created=not deleted, deleted=deleted
            ):
                check_payload(event_type, payload)
