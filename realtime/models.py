"""The event outbox, live subscriptions and homeserver feed cursors."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class EventSource(models.TextChoices):
    ORM = "orm", "Django ORM"
    NOTIFY = "notify", "PostgreSQL NOTIFY bridge"
    WATCHER = "watcher", "Homeserver watcher"
    SERVICE = "service", "Service"


class OutboxEvent(models.Model):
    """One published event. ``id`` is the monotonic ``event_id`` clients resume from (``since``).

    ``seq`` numbers the events of one topic without gaps (1, 2, 3, …). Writers of a topic are
    serialised by the row lock on its :class:`TopicSequence`, so within a topic commit order,
    ``id`` order and ``seq`` order agree, and a web process that sees ``seq`` jump knows the
    missing events are already committed and can read them from here.
    """

    topic = models.CharField(max_length=255)
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    source = models.CharField(max_length=16, choices=EventSource.choices, default=EventSource.ORM)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "realtime_outbox"
        ordering = ["id"]
        indexes = [models.Index(fields=["topic", "id"], name="outbox_topic_id")]
        constraints = [
            models.UniqueConstraint(fields=["topic", "seq"], name="outbox_topic_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.type} on {self.topic}"


class TopicSequence(models.Model):
    """The last ``seq`` handed out per topic (its row lock serialises a topic's writers)."""

    topic = models.CharField(max_length=255, primary_key=True)
    seq = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "realtime_topic_sequences"

    def __str__(self) -> str:
        return f"{self.topic} @ {self.seq}"


class PubkySubscription(models.Model):
    """A live subscription to a ``pubky://`` URL, visible to ``watch_homeservers`` and every web
    process; rows are removed when the socket unsubscribes or disconnects, and expire otherwise."""

    url = models.CharField(max_length=1024)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pubky_subscriptions"
    )
    channel_name = models.CharField(max_length=255)
    server_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "pubky_subscriptions"
        constraints = [
            models.UniqueConstraint(
                fields=["channel_name", "url"], name="unique_subscription_per_socket"
            ),
        ]
        indexes = [models.Index(fields=["url"], name="subscription_url")]

    def __str__(self) -> str:
        return f"{self.url} for {self.user_id}"


class HomeserverCursor(models.Model):
    """Where ``watch_homeservers`` left off in a homeserver's ``/events/`` feed."""

    homeserver = models.CharField(max_length=512, unique=True)
    cursor = models.CharField(max_length=64, default="0")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "homeserver_cursors"

    def __str__(self) -> str:
        return f"{self.homeserver} @ {self.cursor}"


class DbChange(models.Model):
    """A row change made outside Django, queued by a PostgreSQL trigger for ``pubky_listen``.

    The trigger inserts here in the writer's transaction (so the change is durable exactly when
    the write is) and NOTIFYs ``pubky_changes`` to wake the listener, which claims rows with
    ``FOR UPDATE SKIP LOCKED`` and publishes their events in the same transaction that deletes
    them: each change is published exactly once, even across listener restarts.
    """

    table_name = models.CharField(max_length=63)
    op = models.CharField(max_length=8)
    row_id = models.BigIntegerField()
    old_row = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "realtime_db_changes"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.op} {self.table_name}#{self.row_id}"
