"""Realtime write operations: the NOTIFY bridge's claim-and-publish, the rows that tell the
homeserver watcher which URLs sockets follow, outbox pruning."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import BinaryField, JSONField, Model
from django.utils import timezone

from guardians.domain_changes import WATCHED_TABLES
from guardians.receivers import row_of
from guardians.services import guardian_domain_changes_notify
from pubkyproject.leader import take_turn
from realtime.events import emit_many
from realtime.lifecycle import lifecycle_changes
from realtime.models import EventSource, OutboxEvent, PubkySubscription
from realtime.payloads import changes_for

# The tables the NOTIFY triggers watch (realtime/migrations/0003, 0005, 0006) and their models.
_TABLE_MODELS = {
    "domain_records": ("domains", "DomainRecord"),
    "dns_records": ("domains", "DnsRecord"),
    "pubky_domains": ("domains", "PubkyDomain"),
    "pkarr_records": ("domains", "PkarrRecord"),
    "domain_migrations": ("domains", "DomainMigration"),
    "sovereignty_scores": ("domains", "SovereigntyScore"),
    "relay_statuses": ("domains", "RelayStatus"),
    "federation_guardians": ("guardians", "FederationGuardian"),
    "guardian_notifications": ("guardians", "GuardianNotification"),
    "families": ("families", "Family"),  # updates only: the guardians hear of key changes
}

_CURRENT: dict[str, Any] = {}  # marker: the row as it is now

_CLAIM = """
DELETE FROM realtime_db_changes
 WHERE id IN (SELECT id FROM realtime_db_changes ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
RETURNING id, table_name, op, row_id, old_row::text
"""


def _model(table: str) -> type[Model]:
    return apps.get_model(*_TABLE_MODELS[table])


def _instance_from_old_row(model: type[Model], old_row: str) -> Model:
    values = json.loads(old_row)
    fields = {f.attname: _python(f, values.get(f.column)) for f in model._meta.concrete_fields}
    return model(**fields)


def _python(field: Any, value: Any) -> Any:
    """A JSON value of ``to_jsonb(OLD)`` as the field's Python value (timestamps are text)."""
    if value is None or isinstance(field, (BinaryField, JSONField)):
        return value
    try:
        return field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return value


@dataclass(frozen=True)
class ClaimResult:
    claimed: int
    published: int


@transaction.atomic
def db_changes_publish(*, limit: int = 500) -> ClaimResult:
    """Claim up to ``limit`` queued database changes and publish their events.

    Claiming deletes the queue rows in the same transaction that writes the outbox events, so
    each change is published exactly once. Copies of the listener take turns: two claims in
    parallel could read a row at different moments and commit in the other order, leaving
    subscribers with the older state last.
    """
    take_turn("pubky_listen")
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM, [limit])
        claimed = sorted(cursor.fetchall())
    if not claimed:
        return ClaimResult(0, 0)
    wanted: dict[str, set[int]] = {}
    for _, table, op, row_id, _old in claimed:
        if op != "DELETE":
            wanted.setdefault(table, set()).add(row_id)
    loaded = {
        table: _model(table).objects.in_bulk(list(ids))  # type: ignore[attr-defined]
        for table, ids in wanted.items()
    }
    # Each change's row after it: the row before the next change of the same row in this claim,
    # else the row as it is now (so a burst of updates reads as its steps, not as each step
    # compared with the end result).
    after: dict[int, dict[str, Any] | None] = {}
    following: dict[tuple[str, int], dict[str, Any] | None] = {}
    for change_id, table, op, row_id, old_row in reversed(claimed):
        if table in WATCHED_TABLES and op != "DELETE":
            after[change_id] = following.get((table, row_id), _CURRENT)
        following[(table, row_id)] = json.loads(old_row) if old_row is not None else None
    events = []
    for change_id, table, op, row_id, old_row in claimed:
        model = _model(table)
        if op == "DELETE":
            if old_row is None:
                continue
            instance = _instance_from_old_row(model, old_row)
            deleted = True
        else:
            instance = loaded[table].get(row_id)
            if instance is None:  # deleted again since; its DELETE is queued too
                continue
            deleted = False
        events.extend(changes_for(instance, deleted=deleted))
        # Raw-SQL inserts and deletes announce themselves on the family topic as ORM ones do.
        events.extend(lifecycle_changes(instance, created=op == "INSERT", deleted=deleted))
        if table in WATCHED_TABLES:
            # Guardians hear about domain changes whoever made them (their notification is
            # saved through the ORM, so it is published like any other).
            new = None if deleted else after.get(change_id, _CURRENT)
            guardian_domain_changes_notify(
                table=table,
                old=json.loads(old_row) if old_row is not None else None,
                new=row_of(instance) if new is _CURRENT else new,
            )
    # One batch of outbox rows and one broadcast for the whole claim, not one per change.
    emit_many(events, source=EventSource.NOTIFY)
    return ClaimResult(len(claimed), len(events))


def url_subscription_remember(*, url: str, user_id: int, connection_id: str) -> None:
    """A socket follows ``url``: the homeserver watcher watches it while the row lives."""
    PubkySubscription.objects.get_or_create(
        channel_name=connection_id, url=url, defaults={"user_id": user_id}
    )


def url_subscriptions_touch(*, connection_ids: Sequence[str]) -> int:
    """These sockets are still open: keep their rows (those of sockets that died with their
    process stop being refreshed and are pruned by :func:`stale_subscriptions_prune`)."""
    return PubkySubscription.objects.filter(channel_name__in=list(connection_ids)).update(
        last_seen_at=timezone.now()
    )


def url_subscriptions_forget(*, connection_id: str, url: str | None = None) -> None:
    """The socket stopped following ``url`` (or closed: every URL of it)."""
    rows = PubkySubscription.objects.filter(channel_name=connection_id)
    if url is not None:
        rows = rows.filter(url=url)
    rows.delete()


def stale_subscriptions_prune(*, older_than: timedelta) -> int:
    """Forget pubkyUrl subscriptions no socket refreshed lately (their process died), so the
    homeserver watcher stops following URLs nobody listens to."""
    cutoff = timezone.now() - older_than
    deleted, _ = PubkySubscription.objects.filter(last_seen_at__lt=cutoff).delete()
    return deleted


def outbox_prune(*, older_than: timedelta, batch_size: int = 10_000) -> int:
    """Delete outbox events older than ``older_than``, in batches (clients past it get
    ``recovered: false`` and refetch)."""
    cutoff = timezone.now() - older_than
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                OutboxEvent.objects.filter(created_at__lt=cutoff)
                .order_by("id")
                .values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                return total
            OutboxEvent.objects.filter(id__in=ids).delete()
        total += len(ids)
