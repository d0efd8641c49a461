"""End-to-end: created and deleted events reach family subscribers through a real server, and
the ``subscribed`` head lets a quiet subscription resume without missing them."""

from __future__ import annotations

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from realtime import topics
from realtime.models import OutboxEvent
from tests.factories import DomainFactory, FamilyFactory, UserFactory
from tests.realtime.conftest import connect, token_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _topic_head(family_id: int) -> int:
    last = (
        OutboxEvent.objects.filter(topic=topics.family(family_id))
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return last or 0


def _raw_sql(sql: str, params: list) -> int:
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
    ) as outside:
        row = outside.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def _delete(domain) -> None:
    domain.delete()


async def test_family_subscribers_see_cards_come_and_go_and_resume_from_the_head(e2e) -> None:
    web = e2e.daphne("web")
    e2e.manage("listen", "pubky_listen", "--poll", "0.5")
    owner = await sync_to_async(UserFactory)()
    family = await sync_to_async(FamilyFactory)(owner=owner)
    await sync_to_async(DomainFactory)(family=family, name="before.example")
    client = await connect(web.port, token_for(owner))
    reply = await client.subscribe(familyId=family.pk)
    head = reply["data"]["head"]
    assert head == await sync_to_async(_topic_head)(family.pk) > 0

    domain = await sync_to_async(DomainFactory)(family=family, name="live.example")
    created = await client.expect("domain_created")
    assert created["topic"] == topics.family(family.pk)
    assert created["data"]["id"] == domain.pk and created["data"]["name"] == "live.example"
    await sync_to_async(_delete)(domain)
    deleted = await client.expect("domain_deleted")
    assert deleted["data"]["id"] == created["data"]["id"]
    assert deleted["data"]["status"] == "deleted"

    # Written with raw SQL: the bridge announces it the same way.
    guardian_id = await sync_to_async(_raw_sql)(
        "INSERT INTO federation_guardians (family_id, name, email, pubky_public_key, status, "
        "pubky_backup_status, pubky_backup_url, created_at, updated_at) "
        "VALUES (%s, 'Rosa', '', '', 'active', 'none', '', now(), now()) RETURNING id",
        [family.pk],
    )
    guardian = await client.expect("guardian_created", timeout=10)
    assert guardian["data"]["id"] == guardian_id
    assert guardian["data"]["familyId"] == family.pk
    await client.ws.close()

    # A second client subscribes, sees nothing, goes away; what happens meanwhile is replayed
    # from the head of its subscribed reply.
    quiet = await connect(web.port, token_for(owner))
    head = (await quiet.subscribe(familyId=family.pk))["data"]["head"]
    await quiet.ws.close()
    missed = await sync_to_async(DomainFactory)(family=family, name="missed.example")
    back = await connect(web.port, token_for(owner))
    resumed = await back.subscribe(since=head, familyId=family.pk)
    assert resumed["data"]["recovered"] is True
    replayed = await back.expect("domain_created")
    assert replayed["data"]["id"] == missed.pk
    await back.ws.close()
