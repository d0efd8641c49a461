"""The realtime building blocks, in process: protocol, publisher, hub ordering, NOTIFY queue."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import psycopg
import pytest
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from domains.models import RelayStatus
from families.models import Visibility
from pubkyproject.api.sessions import refused, socket_is_revoked
from pubkyproject.async_db import close_pool
from pubkyproject.sql import int_array
from realtime import protocol, topics
from realtime.events import WireEvent, dumps, emit
from realtime.hub import Hub
from realtime.limits import Admission
from realtime.models import DbChange, OutboxEvent
from realtime.selectors import replay
from realtime.services import db_changes_publish, outbox_prune
from realtime.transport import broadcast_sync
from tests.factories import FamilyFactory


class TestDumps:
    """``dumps`` (orjson) writes exactly what ``json.dumps`` with Django's encoder would."""

    @pytest.mark.parametrize(
        "value",
        [
            {"a": 1, "b": [1.5, None, True], "nested": {"x": "y"}},
            {"when": datetime(2026, 11, 22, 7, 0, 1, 123456, tzinfo=UTC)},
            {"day": date(2026, 11, 22), "time": time(7, 0, 1, 5000)},
            {"amount": Decimal("12.50"), "id": uuid.UUID(int=7)},
            {"name": 'Zoë 日本 \\ "quoted" \n tab\t'},
            {1: "integer keys become strings"},
            {"huge": 2**70},  # past orjson's 64 bits: the json fallback
            {"choice": Visibility.PRIVATE},
        ],
    )
    def test_it_matches_json_with_the_django_encoder(self, value: object) -> None:
        expected = json.dumps(
            value, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False
        )
        assert dumps(value) == expected

    def test_an_unserialisable_value_is_refused(self) -> None:
        with pytest.raises(TypeError):
            dumps({"x": object()})


@pytest.mark.django_db
def test_int_array_is_a_postgres_literal_of_integers_only() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::bigint[]", [int_array([3, 1, 2])])
        assert cursor.fetchone()[0] == [3, 1, 2]
    assert int_array([]) == "{}"
    with pytest.raises(ValueError):
        int_array(["1}; DROP TABLE x"])  # type: ignore[list-item]


class TestProtocol:
    def test_it_parses_a_message_and_echoes_its_id(self) -> None:
        message = protocol.parse('{"type": "ping", "id": "x1"}')
        assert (message.type, message.data, message.id) == ("ping", {}, "x1")

    @pytest.mark.parametrize(
        ("frame", "code"),
        [
            ("nope", "invalid_json"),
            ("[]", "invalid"),
            ('{"type": 3}', "invalid"),
            ('{"type": "fly"}', "unknown_type"),
            ('{"type": "ping", "data": []}', "invalid"),
            ('{"type": "ping", "id": {"a": 1}}', "invalid"),
            ('{"type": "ping", "id": true}', "invalid"),
        ],
    )
    def test_it_rejects_malformed_messages(self, frame: str, code: str) -> None:
        with pytest.raises(protocol.ProtocolError) as error:
            protocol.parse(frame)
        assert error.value.code == code

    @pytest.mark.parametrize(
        "data",
        [
            {},
            {"familyId": 1, "pubkyDomainId": 2},
            {"familyId": 0},
            {"familyId": -1},
            {"familyId": True},
            {"relays": "yes"},
            {"pubkyUrl": ""},
            {"familyId": 1, "since": -5},
            {"familyId": 1, "filter": "pubky_content_update"},
            {"familyId": 1, "filter": ["not_an_event"]},
            {"familyId": 2**63},  # past a bigint: refused here, not by the database
            {"familyId": 1, "since": 2**64},
            {"pubkyUrl": "pubky://" + "x" * 2000},
        ],
    )
    def test_it_rejects_bad_subscriptions(self, data: dict) -> None:
        message = protocol.ClientMessage("subscribe", data, 1)
        with pytest.raises(protocol.ProtocolError) as error:
            protocol.parse_subscribe(message)
        assert error.value.code == "invalid"
        assert error.value.request_id == 1

    def test_a_subscription_carries_since_and_filter(self) -> None:
        message = protocol.ClientMessage(
            "subscribe", {"familyId": 4, "since": 10, "filter": ["pubky_guardian_notification"]}
        )
        request = protocol.parse_subscribe(message)
        assert (request.key, request.value, request.since) == ("familyId", 4, 10)
        assert request.filter == frozenset({"pubky_guardian_notification"})


class TestAdmission:
    def test_connection_attempts_are_limited_per_address(self) -> None:
        gate = Admission(rate=0.1, burst=3, per_address=10, total=10)
        assert [gate.attempt("10.0.0.1") for _ in range(4)] == [True, True, True, False]
        assert gate.attempt("10.0.0.2")  # another address has its own bucket

    def test_unauthenticated_sockets_are_capped_per_address_and_in_all(self) -> None:
        gate = Admission(rate=100, burst=100, per_address=2, total=3)
        assert gate.hold_unauthenticated("a") is None
        assert gate.hold_unauthenticated("a") is None
        assert "per address" in (gate.hold_unauthenticated("a") or "")
        assert gate.hold_unauthenticated("b") is None
        assert gate.hold_unauthenticated("c") == "at most 3 sockets may wait for authentication"
        gate.release_unauthenticated("a")
        assert gate.hold_unauthenticated("c") is None
        assert gate.pending == {"a": 1, "b": 1, "c": 1}

    def test_the_address_table_forgets_the_least_recent_address(self) -> None:
        gate = Admission(rate=1, burst=1, per_address=1, total=1)
        gate.MAX_TRACKED_ADDRESSES = 2
        for address in ("a", "b", "c"):
            gate.attempt(address)
        assert list(gate.buckets) == ["b", "c"]


class TestSessionRules:
    def test_a_token_with_a_session_is_refused_only_by_its_session_entry(self) -> None:
        claims = {"sid": "s1", "user_id": "4", "iat": 100}
        assert refused(claims, b"1", None)
        assert not refused(claims, None, b"200")  # the user cut-off is for tokens without one

    def test_a_token_without_a_session_is_refused_up_to_the_users_cut_off(self) -> None:
        assert refused({"user_id": "4", "iat": 100}, None, b"100.7")
        assert not refused({"user_id": "4", "iat": 101}, None, b"100.7")
        assert not refused({"user_id": "4", "iat": 100}, None, None)

    def test_a_revocation_event_ends_the_sockets_it_names(self) -> None:
        assert socket_is_revoked({"sessions": ["s1"]}, "s1", 10)
        assert not socket_is_revoked({"sessions": ["s1"]}, "s2", 10)
        assert not socket_is_revoked({"sessions": ["s1"]}, None, 10)
        assert socket_is_revoked({"all": True, "before": 20}, "s2", 10)
        assert not socket_is_revoked({"all": True, "before": 20}, "s3", 30)  # signed in after
        assert socket_is_revoked({"unnamed": True, "before": 20}, None, 10)
        assert not socket_is_revoked({"unnamed": True, "before": 20}, "s1", 10)


@pytest.mark.django_db
class TestPublisher:
    def test_events_are_numbered_per_topic_and_sent_after_commit(
        self, django_capture_on_commit_callbacks
    ) -> None:
        with django_capture_on_commit_callbacks() as callbacks:
            a = emit(topic="t.one", type="x", payload={"n": 1})
            b = emit(topic="t.one", type="x", payload={"n": 2})
            c = emit(topic="t.two", type="x", payload={"n": 3})
        assert (a.seq, b.seq, c.seq) == (1, 2, 1)
        assert a.event_id < b.event_id < c.event_id
        assert len(callbacks) == 3
        assert json.loads(a.frame) == {
            "type": "x",
            "event_id": a.event_id,
            "topic": "t.one",
            "data": {"n": 1},
        }

    def test_bulk_publishing_numbers_each_topic_without_gaps(
        self, django_capture_on_commit_callbacks
    ) -> None:
        from realtime.events import emit_many

        emit(topic="t.bulk.a", type="x", payload={"n": 0})
        with django_capture_on_commit_callbacks() as callbacks:
            events = emit_many(
                [("t.bulk.a", "x", {"n": 1}), ("t.bulk.b", "y", {"n": 2}), ("t.bulk.a", "x", {})]
            )
        assert [(e.topic, e.seq) for e in events] == [
            ("t.bulk.a", 2),
            ("t.bulk.b", 1),
            ("t.bulk.a", 3),
        ]
        assert [e.event_id for e in events] == sorted(e.event_id for e in events)
        stored = OutboxEvent.objects.filter(topic__startswith="t.bulk.").order_by("id")
        assert [(o.topic, o.seq, o.payload) for o in stored][1:] == [
            ("t.bulk.a", 2, {"n": 1}),
            ("t.bulk.b", 1, {"n": 2}),
            ("t.bulk.a", 3, {}),
        ]
        assert json.loads(events[1].frame)["data"] == {"n": 2}
        assert len(callbacks) == 1  # one broadcast for the whole batch

    def test_a_rolled_back_event_is_neither_stored_nor_sent(
        self, django_capture_on_commit_callbacks
    ) -> None:
        with (
            django_capture_on_commit_callbacks() as callbacks,
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            emit(topic="t.rb", type="x", payload={})
            raise RuntimeError
        assert callbacks == []
        assert not OutboxEvent.objects.filter(topic="t.rb").exists()

    def test_model_changes_publish_through_the_receivers(self) -> None:
        family = FamilyFactory()
        from guardians.models import GuardianNotification

        GuardianNotification.objects.create(family=family, kind="k", title="Hello")
        event = OutboxEvent.objects.filter(topic=topics.family(family.pk)).latest("id")
        assert event.type == "pubky_guardian_notification"
        assert event.payload["title"] == "Hello"

    def test_replay_returns_missed_events_or_admits_a_gap(self) -> None:
        first = emit(topic="t.r", type="x", payload={"n": 1})
        second = emit(topic="t.r", type="x", payload={"n": 2})
        emit(topic="t.other", type="x", payload={})
        result = replay("t.r", first.event_id - 1)
        assert result.recovered
        assert [e[0] for e in result.events] == [first.event_id, second.event_id]
        assert replay("t.r", second.event_id).events == []
        OutboxEvent.objects.filter(pk=first.event_id).delete()  # pruned past `since`
        assert replay("t.r", first.event_id - 1).recovered is False

    def test_pruning_forgets_subscriptions_of_dead_sockets(self) -> None:
        from django.core.management import call_command

        from realtime.models import PubkySubscription
        from tests.factories import UserFactory

        user = UserFactory()
        live = PubkySubscription.objects.create(url="pubky://a/pub/", user=user, channel_name="1")
        dead = PubkySubscription.objects.create(url="pubky://b/pub/", user=user, channel_name="2")
        PubkySubscription.objects.filter(pk=dead.pk).update(
            last_seen_at=timezone.now() - timedelta(hours=1)
        )
        out = __import__("io").StringIO()
        call_command("prune_outbox", stdout=out)
        assert "forgot 1 subscription" in out.getvalue()
        assert list(PubkySubscription.objects.all()) == [live]

    def test_pruning_removes_only_old_events(self) -> None:
        old = emit(topic="t.p", type="x", payload={})
        OutboxEvent.objects.filter(pk=old.event_id).update(
            created_at=timezone.now() - timedelta(days=3)
        )
        fresh = emit(topic="t.p", type="x", payload={})
        assert outbox_prune(older_than=timedelta(days=1)) == 1
        assert list(OutboxEvent.objects.values_list("pk", flat=True)) == [fresh.event_id]


class _Collector:
    def __init__(self) -> None:
        self.got: list[int] = []

    def deliver(self, topic: str, event_id: int, event_type: str, frame: str) -> None:
        self.got.append(event_id)


def _message(event: WireEvent) -> dict:
    return event.as_message()


@pytest.fixture
async def _own_pool():
    """The hub's outbox checks open an asyncio pool on this test's loop: close it with the test."""
    yield
    await close_pool()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_own_pool")
class TestHubOrdering:
    async def test_it_delivers_in_order_drops_duplicates_and_fills_gaps(self) -> None:
        from asgiref.sync import sync_to_async

        events = [
            await sync_to_async(emit)(topic="t.hub", type="x", payload={"n": n}) for n in range(5)
        ]
        hub = Hub()
        collector = _Collector()
        hub.subscribers["t.hub"].add(collector)
        hub.dispatch(_message(events[0]))
        hub.dispatch(_message(events[0]))  # duplicate
        hub.dispatch(_message(events[3]))  # 1 and 2 lost in transit: filled from the outbox
        hub.dispatch(_message(events[2]))  # arrives late, already filled
        hub.dispatch(_message(events[4]))
        for _ in range(50):
            if len(collector.got) == 5:
                break
            await asyncio.sleep(0.05)
        assert collector.got == [e.event_id for e in events]
        assert hub.gaps_filled == 1

    async def test_a_lost_tail_is_caught_up_from_the_outbox_without_a_later_event(self) -> None:
        """The last events of a burst never reach this process (the Redis connection dropped):
        no later event reveals the gap, so the periodic check against the outbox must."""
        from asgiref.sync import sync_to_async

        events = [
            await sync_to_async(emit)(topic="t.tail", type="x", payload={"n": n}) for n in range(4)
        ]
        hub = Hub()
        collector = _Collector()
        hub.subscribers["t.tail"].add(collector)
        hub.subscribers["t.quiet"].add(_Collector())  # joined, nothing published yet
        hub.dispatch(_message(events[0]))  # 1..3 lost in transit, and nothing follows
        behind = await hub.catch_up({})
        assert behind == {"t.tail": 4}  # behind, but maybe only in flight: not filled yet
        assert collector.got == [events[0].event_id]
        behind = await hub.catch_up(behind)  # still behind at the next check: filled
        for _ in range(50):
            if len(collector.got) == 4:
                break
            await asyncio.sleep(0.05)
        assert collector.got == [e.event_id for e in events]
        assert await hub.catch_up(behind) == {}  # caught up: nothing more to do

    async def test_the_check_reads_back_only_topics_past_what_the_hub_delivered(self) -> None:
        """With thousands of topics and nothing lost, the periodic check's answer is empty."""
        from asgiref.sync import sync_to_async

        from realtime.selectors import atopic_heads_ahead

        odd = 't."quoted"\\é'  # the topics travel as JSON: escaping must round-trip
        for topic, count in (("t.a", 3), ("t.b", 2), ("t.c", 1), (odd, 2)):
            for _ in range(count):
                await sync_to_async(emit)(topic=topic, type="x", payload={})
        heads = await atopic_heads_ahead(
            {"t.a": 2, "t.b": 2, "t.c": None, "t.never": None, "t.ahead": 7, odd: 1}
        )
        # behind, or not counted yet; at the head: absent
        assert heads == {"t.a": 3, "t.c": 1, odd: 2}
        many = {f"t.many.{n}": n for n in range(5000)}
        assert await atopic_heads_ahead({**many, "t.a": 0}) == {"t.a": 3}
        assert await atopic_heads_ahead({}) == {}

    async def test_events_in_flight_are_not_fetched_twice(self) -> None:
        from asgiref.sync import sync_to_async

        first = await sync_to_async(emit)(topic="t.flight", type="x", payload={})
        hub = Hub()
        collector = _Collector()
        hub.subscribers["t.flight"].add(collector)
        assert await hub.catch_up({}) == {}  # nothing delivered yet: starts at the head
        second = await sync_to_async(emit)(topic="t.flight", type="x", payload={})
        behind = await hub.catch_up({})  # the check sees seq 2 before its message arrives
        hub.dispatch(_message(second))  # ... which then does
        assert await hub.catch_up(behind) == {}
        await asyncio.sleep(0.1)
        assert collector.got == [second.event_id]  # once, live; the first predates the join
        assert hub.gaps_filled == 0
        assert first.seq == 1


@pytest.mark.django_db(transaction=True)
async def test_the_sync_publisher_speaks_the_channel_layers_format() -> None:
    """A PUBLISH from transport.broadcast_sync arrives through layer.receive like group_send."""
    from asgiref.sync import sync_to_async

    layer = get_channel_layer()
    channel = await layer.new_channel("test.")
    await layer.group_add("t.compat", channel)
    event = WireEvent(event_id=7, topic="t.compat", seq=1, type="x", frame='{"type":"x"}')
    # The layer subscribes to Redis in the background: publish until the subscription is there
    # (a PUBLISH before it reaches nobody), then the message must be the group_send format.
    message = None
    for _ in range(20):
        await sync_to_async(broadcast_sync)([event])
        try:
            message = await asyncio.wait_for(layer.receive(channel), 0.5)
            break
        except TimeoutError:
            continue
    assert message == event.as_message()
    await layer.group_discard("t.compat", channel)


@pytest.mark.django_db(transaction=True)
async def test_a_batch_past_one_script_call_arrives_whole_and_in_order_after_a_script_flush() -> (
    None
):
    """Batches are cut at MAX_PER_CALL events per script call, and a server that forgot the
    publishing script (restarted, a new primary) is given it again."""
    from asgiref.sync import sync_to_async

    from pubkyproject.redis_clients import sync_client
    from realtime import transport

    layer = get_channel_layer()
    channel = await layer.new_channel("test.")
    await layer.group_add("t.batch", channel)
    probe = WireEvent(event_id=0, topic="t.batch", seq=0, type="x", frame="{}")
    for _ in range(20):  # until the layer's subscription is in place
        await sync_to_async(broadcast_sync)([probe])
        try:
            await asyncio.wait_for(layer.receive(channel), 0.5)
            break
        except TimeoutError:
            continue
    redis = sync_client()
    redis.script_flush()
    redis.close()
    count = transport.MAX_PER_CALL * 2 + 7
    events = [
        WireEvent(event_id=n, topic="t.batch", seq=n, type="x", frame=f'{{"n":{n}}}')
        for n in range(1, count + 1)
    ]
    await sync_to_async(broadcast_sync)(events)
    seqs: list[int] = []
    while len(seqs) < count:
        message = await asyncio.wait_for(layer.receive(channel), 5)
        if message["seq"]:  # not a late probe
            seqs.append(message["seq"])
    assert seqs == list(range(1, count + 1))
    await layer.group_discard("t.batch", channel)


@pytest.mark.django_db(transaction=True)
def test_writes_outside_django_are_queued_and_published_once() -> None:
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
    ) as outside:
        outside.execute(
            "INSERT INTO relay_statuses (url, is_up, latency_ms, last_error, "
            "consecutive_failures) VALUES ('http://127.0.0.1:1', true, 1, '', 0)"
        )
        outside.execute("UPDATE relay_statuses SET latency_ms = 2 WHERE url = 'http://127.0.0.1:1'")
        outside.execute("DELETE FROM relay_statuses WHERE url = 'http://127.0.0.1:1'")
    assert DbChange.objects.count() == 3
    # The app's own writes are not queued: Django publishes them itself.
    RelayStatus.objects.create(url="http://127.0.0.1:2", is_up=True)
    assert DbChange.objects.count() == 3
    before = OutboxEvent.objects.filter(source="notify").count()
    result = db_changes_publish(limit=10)
    assert result.claimed == 3
    # The insert and update both resolve to the row (gone by now: its DELETE says so).
    events = list(OutboxEvent.objects.filter(source="notify").order_by("id"))
    assert len(events) - before == 1
    assert events[-1].payload["relays"][0]["isUp"] is None
    assert db_changes_publish(limit=10).claimed == 0
