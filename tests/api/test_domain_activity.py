"""A domain's activity over time: live events, resolves, publishes and republishes per hour."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from domains.models import PubkyDomainUsage, UsageKind
from domains.services.publishing import pubky_domain_publish
from domains.services.usage import pubky_domain_usage_record
from realtime import events, topics
from realtime.activity import domain_activity
from realtime.models import OutboxEvent
from tests.api.conftest import World

pytestmark = [pytest.mark.django_db, pytest.mark.shared_world]


def hour_start(hours_ago: int) -> Any:
    now = timezone.now()
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)


def event_at(topic: str, hours_ago: int) -> None:
    sent = events.emit(topic=topic, type="test_event", payload={})
    OutboxEvent.objects.filter(pk=sent.event_id).update(
        created_at=hour_start(hours_ago) + timedelta(minutes=30)
    )


def test_uses_in_the_same_hour_add_up_in_one_row(world: World) -> None:
    at = hour_start(2) + timedelta(minutes=5)
    pubky_domain_usage_record(pubky_domain=world.pubky_domain, kind=UsageKind.RESOLVE, at=at)
    pubky_domain_usage_record(
        pubky_domain=world.pubky_domain, kind="resolve", ok=False, at=at + timedelta(minutes=50)
    )
    pubky_domain_usage_record(
        pubky_domain=world.pubky_domain, kind=UsageKind.RESOLVE, at=at + timedelta(hours=1)
    )

    rows = list(PubkyDomainUsage.objects.filter(pubky_domain=world.pubky_domain, kind="resolve"))
    assert [(r.hour, r.count, r.failures) for r in rows] == [
        (hour_start(2), 2, 1),
        (hour_start(1), 1, 0),
    ]


def test_a_resolve_through_the_api_is_counted(world: World) -> None:
    pubky_domain_publish(pubky_domain=world.pubky_domain)
    member = world.client("member")

    assert member.get(f"/api/pubky-domains/{world.pubky_domain.pk}/resolve/").status_code == 200
    assert member.get(f"/api/pubky-domains/{world.pubky_domain.pk}/resolve/").status_code == 200

    usage = {u.kind: u.count for u in PubkyDomainUsage.objects.filter(hour=hour_start(0))}
    assert usage == {"publish": 1, "resolve": 2}


def test_the_hourly_keep_alive_counts_as_a_republish(world: World) -> None:
    pubky_domain_publish(pubky_domain=world.pubky_domain)
    pubky_domain_publish(pubky_domain=world.pubky_domain, reason="pkarr_republished")
    pubky_domain_publish(pubky_domain=world.pubky_domain, reason="pkarr_republished")

    usage = {u.kind: u.count for u in PubkyDomainUsage.objects.filter(hour=hour_start(0))}
    assert usage == {"publish": 1, "republish": 2}


def test_activity_counts_the_domains_events_and_uses_per_hour(world: World) -> None:
    OutboxEvent.objects.all().delete()  # what building the world published
    event_at(topics.sovereignty_score(world.domain.pk), hours_ago=3)
    event_at(topics.sovereignty_score(world.domain.pk), hours_ago=3)
    event_at(topics.pubky_domain(world.pubky_domain.pk), hours_ago=1)
    event_at(topics.sovereignty_score(world.other_domain.pk), hours_ago=1)  # not this domain
    event_at(topics.sovereignty_score(world.domain.pk), hours_ago=30)  # before the window
    for _ in range(3):
        pubky_domain_usage_record(
            pubky_domain=world.pubky_domain, kind="resolve", at=hour_start(1) + timedelta(minutes=1)
        )
    pubky_domain_usage_record(
        pubky_domain=world.pubky_domain, kind="republish", ok=False, at=hour_start(0)
    )

    response = world.client("viewer").get(f"/api/domains/{world.domain.pk}/activity/")

    assert response.status_code == 200
    body = response.json()
    assert body["bucket_seconds"] == 3600
    buckets = {b["start"]: b for b in body["buckets"]}
    assert len(buckets) == 3
    assert [b["events"] for b in body["buckets"]] == [2, 1, 0]
    assert [b["resolves"] for b in body["buckets"]] == [0, 3, 0]
    assert [b["republishes"] for b in body["buckets"]] == [0, 0, 1]
    assert body["totals"] == {
        "events": 3,
        "resolves": 3,
        "publishes": 0,
        "republishes": 1,
        "failures": 1,
    }


def test_a_longer_window_uses_longer_buckets_and_says_how_far_events_reach(
    world: World, settings: Any
) -> None:
    settings.REALTIME = {**settings.REALTIME, "OUTBOX_RETENTION_SECONDS": 3600 * 24}
    now = timezone.now()

    activity = domain_activity(domain=world.domain, hours=24 * 7, now=now)

    assert activity.bucket_seconds == 7 * 3600
    assert activity.until - activity.since == timedelta(days=7)
    assert activity.events_since == now - timedelta(days=1)


def test_activity_of_a_domain_in_another_family_is_not_found(world: World) -> None:
    response = world.client("stranger").get(f"/api/domains/{world.domain.pk}/activity/")
    assert response.status_code == 404


def test_activity_refuses_a_window_it_cannot_answer(world: World) -> None:
    response = world.client("owner").get(
        f"/api/domains/{world.domain.pk}/activity/", {"hours": "0"}
    )
    assert response.status_code == 400
