"""Created and deleted events on the family topic: exactly what each create and delete emits,
through the ORM and through raw SQL read back by the NOTIFY bridge."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction

from domains.models import DnsRecord, DomainMigration, PubkyDomain
from families.models import AccessGrant, FamilyMembership
from guardians.models import FederationGuardian
from realtime import payloads, topics
from realtime.events import emit
from realtime.lifecycle import Lifecycle, event_types, registry
from realtime.models import OutboxEvent
from realtime.selectors import replay, topic_head
from realtime.services import db_changes_publish
from tests.factories import DomainFactory, FamilyFactory, GuardianFactory, UserFactory

PUBLIC_KEY = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"


def _mark() -> int:
    return OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _since(mark: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (e.topic, e.type, e.payload) for e in OutboxEvent.objects.filter(id__gt=mark).order_by("id")
    ]


def _family_events(mark: int, family_id: int) -> list[tuple[str, dict[str, Any]]]:
    return [(t, p) for topic, t, p in _since(mark) if topic == topics.family(family_id)]


def _pubky_domain(family: Any, domain: Any) -> PubkyDomain:
    return PubkyDomain.objects.create(
        name=domain.name,
        family=family,
        domain=domain,
        public_key=PUBLIC_KEY,
        key_custody="family",
        status="active",
    )


def _json(data: dict[str, Any]) -> dict[str, Any]:
    """What a payload reads like once stored (datetimes as text)."""
    import json

    from realtime.events import dumps

    return json.loads(dumps(data))


@pytest.mark.django_db
class TestOrmCreatesAndDeletes:
    def test_a_new_domain_is_announced_on_its_family_topic_with_its_card(self) -> None:
        family = FamilyFactory()
        mark = _mark()
        domain = DomainFactory(family=family, name="new.example")
        assert _since(mark) == [
            (topics.family(family.pk), "domain_created", _json(payloads.domain_data(domain)))
        ]
        data = _since(mark)[0][2]
        assert data["id"] == domain.pk and data["familyId"] == family.pk
        assert data["name"] == "new.example" and data["status"] == "active"

    def test_a_deleted_domain_announces_its_records_and_migrations_first(self) -> None:
        family = FamilyFactory()
        domain = DomainFactory(family=family)
        record = DnsRecord.objects.create(domain=domain, rtype="A", value="192.0.2.1")
        migration = DomainMigration.objects.create(domain=domain, direction="dns_to_pubky")
        mark = _mark()
        domain_id = domain.pk
        domain.delete()
        family_events = _family_events(mark, family.pk)
        assert sorted((t, p["id"]) for t, p in family_events[:-1]) == [
            ("dns_record_deleted", record.pk),
            ("domain_migration_deleted", migration.pk),
        ]
        assert family_events[-1][0] == "domain_deleted"
        assert family_events[-1][1]["id"] == domain_id
        assert family_events[-1][1]["status"] == "deleted"
        assert all(p["familyId"] == family.pk for _, p in family_events)
        # Besides the family topic, only the migration's own topic hears of it.
        others = [(topic, t) for topic, t, _ in _since(mark) if topic != topics.family(family.pk)]
        assert others == [(topics.domain_migration(migration.pk), "domain_migration_update")]

    def test_dns_records_are_announced_when_added_and_removed(self) -> None:
        domain = DomainFactory()
        mark = _mark()
        record = DnsRecord.objects.create(domain=domain, rtype="TXT", value='"hi"', ttl=300)
        created = _json(payloads.dns_record_data(record))
        assert _since(mark) == [(topics.family(domain.family_id), "dns_record_created", created)]
        assert created == {
            "id": record.pk,
            "domainId": domain.pk,
            "familyId": domain.family_id,
            "name": "@",
            "type": "TXT",
            "value": '"hi"',
            "ttl": 300,
            "updatedAt": created["updatedAt"],
        }
        mark = _mark()
        record.delete()
        assert _since(mark) == [(topics.family(domain.family_id), "dns_record_deleted", created)]

    def test_a_pubky_domain_is_announced_with_the_shape_of_its_update_event(self) -> None:
        family = FamilyFactory()
        domain = DomainFactory(family=family)
        mark = _mark()
        pubky = _pubky_domain(family, domain)
        (own_topic, update, update_data), (family_topic, created, created_data) = _since(mark)
        assert (own_topic, update) == (topics.pubky_domain(pubky.pk), "pubky_domain_update")
        assert (family_topic, created) == (topics.family(family.pk), "pubky_domain_created")
        assert created_data == update_data  # one shape per object
        mark = _mark()
        pubky.delete()
        (_, update, update_data), (_, deleted, deleted_data) = _since(mark)
        assert (update, deleted) == ("pubky_domain_update", "pubky_domain_deleted")
        assert deleted_data == update_data and deleted_data["status"] == "deleted"

    def test_a_migration_is_announced_with_the_shape_of_its_update_event(self) -> None:
        domain = DomainFactory()
        mark = _mark()
        migration = DomainMigration.objects.create(domain=domain, direction="dns_to_pubky")
        (_, update, update_data), (family_topic, created, created_data) = _since(mark)
        assert update == "domain_migration_update"
        assert family_topic == topics.family(domain.family_id)
        assert created == "domain_migration_created"
        assert created_data == update_data and created_data["familyId"] == domain.family_id
        mark = _mark()
        migration.delete()
        assert [t for _, t, _ in _since(mark)] == [
            "domain_migration_update",
            "domain_migration_deleted",
        ]

    def test_a_guardian_added_and_removed(self) -> None:
        family = FamilyFactory()
        user = UserFactory()
        mark = _mark()
        guardian = GuardianFactory(family=family, user=user, name="Rosa")
        assert [(topic, t) for topic, t, _ in _since(mark)] == [
            (topics.family(family.pk), "pubky_guardian_notification"),
            (topics.user(user.pk), "access_changed"),
            (topics.family(family.pk), "guardian_created"),
        ]
        created = _since(mark)[-1][2]
        assert created == {**_json(payloads.guardian_data(guardian)), "familyId": family.pk}
        mark = _mark()
        guardian_id = guardian.pk
        guardian.delete()
        family_events = _family_events(mark, family.pk)
        assert [t for t, _ in family_events] == ["pubky_guardian_notification", "guardian_deleted"]
        assert family_events[1][1]["id"] == guardian_id
        assert family_events[1][1]["status"] == "removed"

    def test_memberships_are_announced_to_the_family_and_to_the_member(self) -> None:
        family = FamilyFactory()
        user = UserFactory()
        mark = _mark()
        membership = FamilyMembership.objects.create(family=family, user=user, role="member")
        assert _since(mark) == [
            (topics.user(user.pk), "access_changed", {"userId": user.pk}),
            (
                topics.family(family.pk),
                "family_membership_created",
                _json(payloads.membership_data(membership)),
            ),
        ]
        mark = _mark()
        membership.delete()
        assert [(topic, t) for topic, t, _ in _since(mark)] == [
            (topics.user(user.pk), "access_changed"),
            (topics.family(family.pk), "family_membership_deleted"),
        ]

    def test_grants_are_announced_to_the_family_their_target_belongs_to(self) -> None:
        domain = DomainFactory()
        user = UserFactory()
        mark = _mark()
        grant = AccessGrant.objects.create(
            grantee=user,
            content_type=ContentType.objects.get_for_model(domain),
            object_id=domain.pk,
            permission="read",
        )
        (_, control, _), (family_topic, created, data) = _since(mark)
        assert control == "access_changed"
        assert (family_topic, created) == (topics.family(domain.family_id), "access_grant_created")
        assert data == {
            "id": grant.pk,
            "familyId": domain.family_id,
            "granteeId": user.pk,
            "permission": "read",
            "targetType": "domainrecord",
            "targetId": domain.pk,
            "expiresAt": None,
            "revokedAt": None,
        }
        mark = _mark()
        grant.delete()
        assert [t for _, t, _ in _since(mark)] == ["access_changed", "access_grant_deleted"]

    def test_an_update_announces_nothing_on_the_family_topic(self) -> None:
        domain = DomainFactory()
        record = DnsRecord.objects.create(domain=domain, rtype="A", value="192.0.2.1")
        mark = _mark()
        record.ttl = 60
        record.save()
        domain.registrar = "Other"
        domain.save()
        assert _since(mark) == []

    def test_a_rolled_back_create_or_delete_publishes_nothing(
        self, django_capture_on_commit_callbacks
    ) -> None:
        domain = DomainFactory()
        mark = _mark()
        with (
            django_capture_on_commit_callbacks() as callbacks,
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            DnsRecord.objects.create(domain=domain, rtype="A", value="192.0.2.9")
            domain.delete()
            raise RuntimeError
        assert callbacks == []
        assert _since(mark) == []

    def test_every_registered_model_has_its_two_event_types(self) -> None:
        assert set(event_types()) >= {
            f"{name}_{kind}"
            for name in (
                "domain",
                "dns_record",
                "pubky_domain",
                "domain_migration",
                "guardian",
                "access_grant",
                "family_membership",
            )
            for kind in ("created", "deleted")
        }
        assert len(registry()) == len(event_types()) // 2

    def test_a_model_registered_by_its_fields_is_described_in_camel_case(self) -> None:
        domain = DomainFactory()
        lifecycle = Lifecycle("thing", fields=("family_id", "name", "created_at"))
        data = lifecycle.data(domain, False)
        assert data == {
            "familyId": domain.family_id,
            "name": domain.name,
            "createdAt": domain.created_at.isoformat(),
            "id": domain.pk,
        }


@pytest.mark.django_db(transaction=True)
class TestRawSql:
    def _outside(self) -> psycopg.Connection:
        db = connection.settings_dict
        return psycopg.connect(
            host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
        )

    def test_raw_sql_creates_and_deletes_read_like_the_orm_ones(self) -> None:
        family = FamilyFactory()
        domain = DomainFactory(family=family)
        user = UserFactory()
        mark = _mark()
        with self._outside() as outside:
            (migration_id,) = outside.execute(
                "INSERT INTO domain_migrations (domain_id, direction, state, challenge_name, "
                "challenge_value, approvals_required, previous_state, error, created_at, "
                "updated_at) VALUES (%s, 'dns_to_pubky', 'pending', '', '', 0, '{}', '', now(), "
                "now()) RETURNING id",
                [domain.pk],
            ).fetchone()
            (guardian_id,) = outside.execute(
                "INSERT INTO federation_guardians (family_id, user_id, name, email, "
                "pubky_public_key, status, pubky_backup_status, pubky_backup_url, created_at, "
                "updated_at) "
                "VALUES (%s, %s, 'Rosa', '', '', 'active', 'none', '', now(), now()) RETURNING id",
                [family.pk, user.pk],
            ).fetchone()
        assert _since(mark) == []  # nothing until the bridge publishes
        db_changes_publish(limit=50)
        migration = DomainMigration.objects.get(pk=migration_id)
        guardian = FederationGuardian.objects.get(pk=guardian_id)
        family_events = _family_events(mark, family.pk)
        assert [t for t, _ in family_events] == [
            "domain_migration_created",
            "pubky_guardian_notification",
            "guardian_created",
        ]
        assert family_events[0][1] == _json(payloads.domain_migration_data(migration))
        assert family_events[2][1] == {
            **_json(payloads.guardian_data(guardian)),
            "familyId": family.pk,
        }
        mark = _mark()
        with self._outside() as outside:
            outside.execute("DELETE FROM domain_migrations WHERE id = %s", [migration_id])
            outside.execute("DELETE FROM federation_guardians WHERE id = %s", [guardian_id])
        db_changes_publish(limit=50)
        family_events = _family_events(mark, family.pk)
        assert [t for t, _ in family_events] == [
            "domain_migration_deleted",
            "pubky_guardian_notification",
            "guardian_deleted",
        ]
        assert family_events[1][1]["kind"] == "guardian_removed"
        assert family_events[2][1]["id"] == guardian_id
        assert family_events[0][1]["familyId"] == family.pk
        assert family_events[0][1]["state"] == "deleted"

    def test_a_raw_sql_pubky_domain_insert_is_announced(self) -> None:
        family = FamilyFactory()
        mark = _mark()
        with self._outside() as outside:
            (pubky_id,) = outside.execute(
                "INSERT INTO pubky_domains (name, family_id, public_key, key_custody, pubky_url, "
                "homeserver_url, visibility, status, created_at, updated_at) VALUES "
                "('raw.example', %s, %s, 'family', '', '', 'private', 'draft', now(), now()) "
                "RETURNING id",
                [family.pk, PUBLIC_KEY],
            ).fetchone()
        db_changes_publish(limit=50)
        pubky = PubkyDomain.objects.get(pk=pubky_id)
        assert _family_events(mark, family.pk) == [
            ("pubky_domain_created", _json(payloads.pubky_domain_data(pubky)))
        ]


@pytest.mark.django_db
class TestTopicHead:
    def test_the_head_is_the_newest_event_of_that_topic_only(self) -> None:
        assert topic_head("t.head") == 0
        first = emit(topic="t.head", type="x", payload={})
        emit(topic="t.elsewhere", type="x", payload={})
        assert topic_head("t.head") == first.event_id

    def test_resuming_from_an_empty_topic_survives_pruning_of_other_topics(self) -> None:
        old = emit(topic="t.noise", type="x", payload={})
        emit(topic="t.noise", type="x", payload={})
        OutboxEvent.objects.filter(pk=old.event_id).delete()  # pruned
        assert replay("t.quiet", 0).recovered is True
        later = emit(topic="t.quiet", type="x", payload={})
        result = replay("t.quiet", 0)
        assert result.recovered and [e[0] for e in result.events] == [later.event_id]

    def test_resuming_past_a_pruned_event_of_the_same_topic_admits_the_gap(self) -> None:
        first = emit(topic="t.gone", type="x", payload={})
        emit(topic="t.gone", type="x", payload={})
        OutboxEvent.objects.filter(pk=first.event_id).delete()
        assert replay("t.gone", 0).recovered is False
