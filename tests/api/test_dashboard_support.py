"""What the dashboard's actions rely on: who the caller is in a family, and recalculating a
score on request."""

from __future__ import annotations

import pytest
from django.utils import timezone

from domains.models import SovereigntyScore
from domains.services.scoring import calculate_sovereignty_score
from guardians.models import FederationGuardian
from tests.api.conftest import World

pytestmark = [pytest.mark.django_db, pytest.mark.shared_world]


def test_a_family_tells_the_caller_their_role_and_whether_they_guard_it(world: World) -> None:
    seen = {}
    for role in ("owner", "member", "viewer", "guardian"):
        body = world.client(role).get(f"/api/families/{world.family.pk}/").json()
        seen[role] = (body["my_role"], body["is_guardian"])
    assert seen == {
        "owner": ("owner", False),
        "member": ("member", False),
        "viewer": ("viewer", False),
        "guardian": (None, True),
    }
    # Only an active guardian decides on migrations (an invited one does not even read them).
    FederationGuardian.objects.filter(pk=world.guardian_id).update(status="invited")
    assert world.client("guardian").get(f"/api/families/{world.family.pk}/").status_code == 404


def test_recalculating_answers_the_explained_score_and_stores_a_row_only_on_change(
    world: World,
) -> None:
    calculate_sovereignty_score(domain=world.domain, reason="created")
    before = SovereigntyScore.objects.filter(domain=world.domain).count()
    url = f"/api/domains/{world.domain.pk}/score/recalculate/"

    response = world.client("member").post(url)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["domain"] == world.domain.pk
    assert set(body["explanation"]) >= {"key_ownership", "privacy"}
    # The facts did not change: no new history row.
    assert SovereigntyScore.objects.filter(domain=world.domain).count() == before

    world.domain.self_hosted_homeserver = True
    world.domain.self_hosted_verified_at = timezone.now()
    world.domain.save()
    changed = world.client("member").post(url).json()
    assert changed["total"] > body["total"]
    latest = SovereigntyScore.objects.filter(domain=world.domain).latest("calculated_at", "pk")
    assert latest.total == changed["total"]
    assert latest.reason == "recalculated on request"

    refused = world.client("viewer").post(url)
    assert refused.status_code == 403
