"""End-to-end: raw-SQL changes re-score domains and notify guardians live, through the real
bridge process (``pubky_listen``), a real daphne and a real WebSocket client."""

from __future__ import annotations

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from domains.models import DomainRecord, SovereigntyScore
from domains.services.scoring import calculate_sovereignty_score
from tests.factories import DomainFactory, FamilyFactory, GuardianFactory, UserFactory
from tests.realtime.conftest import connect, token_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _raw_sql(sql: str, params: list) -> None:
    """A write from outside Django: its own connection, not the app's application_name."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
    ) as conn:
        conn.execute(sql, params)


def _scored(domain: DomainRecord) -> SovereigntyScore:
    return calculate_sovereignty_score(domain=domain, reason="test")


async def test_a_raw_sql_change_rescores_the_domain_live(e2e) -> None:
    web = e2e.daphne("web")
    e2e.manage("listen", "pubky_listen", "--poll", "0.5", "--debounce", "0.2")
    user = await sync_to_async(UserFactory)()
    family = await sync_to_async(FamilyFactory)(owner=user)
    domain = await sync_to_async(DomainFactory)(family=family, visibility="private")
    before = await sync_to_async(_scored)(domain)
    client = await connect(web.port, token_for(user))
    await client.subscribe(sovereigntyScoreDomainId=domain.pk)

    # Three changes in one burst: one rescore.
    await sync_to_async(_raw_sql)(
        "UPDATE domain_records SET visibility = 'public', registrar = 'R' WHERE id = %s",
        [domain.pk],
    )
    await sync_to_async(_raw_sql)(
        "INSERT INTO dns_records (domain_id, name, rtype, value, ttl, created_at, updated_at) "
        "VALUES (%s, '@', 'A', '192.0.2.1', 300, now(), now())",
        [domain.pk],
    )
    event = await client.expect("pubky_sovereignty_score", timeout=15)

    data = event["data"]
    assert data["domainId"] == domain.pk
    # public (-6 privacy), a registrar (-4 independence, -6 privacy), DNS records stored
    # (+4 portability) under registrar DNS (+2 censorship resistance)
    assert data["sovereignty_score"] == before.total - 6 - 4 - 6 + 4 + 2
    assert data["reason"].startswith("facts_changed:")
    latest = await sync_to_async(
        lambda: domain.sovereignty_scores.order_by("-calculated_at", "-id").first()
    )()
    assert latest.total == data["sovereignty_score"] and latest.calculated_at > before.calculated_at
    await sync_to_async(domain.refresh_from_db)()
    assert domain.sovereignty_score == latest.total
    assert [m for m in await client.quiet(1.0) if m["type"] == "pubky_sovereignty_score"] == []


async def test_a_raw_sql_dns_change_notifies_the_guardians_live(e2e) -> None:
    web = e2e.daphne("web")
    e2e.manage("listen", "pubky_listen", "--poll", "0.5", "--debounce", "0.2")
    owner = await sync_to_async(UserFactory)()
    family = await sync_to_async(FamilyFactory)(owner=owner)
    guardian = await sync_to_async(GuardianFactory)(family=family)
    domain = await sync_to_async(DomainFactory)(family=family)
    client = await connect(web.port, token_for(guardian.user))
    await client.subscribe(familyId=family.pk)

    await sync_to_async(_raw_sql)(
        "INSERT INTO dns_records (domain_id, name, rtype, value, ttl, created_at, updated_at) "
        "VALUES (%s, 'www', 'A', '192.0.2.44', 300, now(), now())",
        [domain.pk],
    )
    event = await client.expect("pubky_guardian_notification", timeout=15)

    assert event["data"]["kind"] == "dns_record_added"
    assert event["data"]["payload"]["domain"] == domain.name
    assert event["data"]["payload"]["record"]["value"] == "192.0.2.44"
