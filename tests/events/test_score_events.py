"""Score events, single and bulk: the same typed event, the same score object as REST."""

from __future__ import annotations

import pytest

from domains.models import DomainRecord
from domains.services.scoring import calculate_sovereignty_score, sovereignty_scores_recalculate
from pubkyproject import topics
from tests.events.capture import of_type, verify_action

pytestmark = pytest.mark.django_db


def test_a_single_recalculation_announces_the_stored_score(registrar_domain: DomainRecord) -> None:
    stored, events = verify_action(
        lambda: calculate_sovereignty_score(domain=registrar_domain, reason="t", force=True),
        [(topics.sovereignty_score(registrar_domain.pk), "pubky_sovereignty_score")],
    )
    (event,) = of_type(events, "pubky_sovereignty_score")
    assert event["score_id"] == stored.pk and event["total"] == stored.total
    assert event["components"] == stored.components and "explanation" not in event


def test_a_bulk_recalculation_announces_each_changed_score(registrar_domain: DomainRecord) -> None:
    other = DomainRecord.objects.create(name="second.example", family=registrar_domain.family)
    domains = sorted([registrar_domain, other], key=lambda d: d.pk)
    _, events = verify_action(
        lambda: sovereignty_scores_recalculate(reason="bulk"),
        [(topics.sovereignty_score(d.pk), "pubky_sovereignty_score") for d in domains],
    )
    rows = {d.pk: d.sovereignty_scores.latest() for d in domains}
    for event in of_type(events, "pubky_sovereignty_score"):
        row = rows[event["domain"]]
        # The same event as a single save, but without the row id (COPY returns none).
        assert event["score_id"] is None and event["reason"] == "bulk"
        assert event["total"] == row.total and event["components"] == row.components
        assert event["calculated_at"] == row.calculated_at.isoformat()
        assert event["rubric_version"] == row.rubric_version


def test_a_bulk_recalculation_announces_nothing_when_no_score_changed(
    registrar_domain: DomainRecord,
) -> None:
    sovereignty_scores_recalculate(reason="first")
    verify_action(lambda: sovereignty_scores_recalculate(reason="again"), [])
    verify_action(lambda: sovereignty_scores_recalculate(reason="forced", force=True), [])
