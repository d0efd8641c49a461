"""Output shapes shared by the domain APIs. No private key field, anywhere."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from domains.models import (
    SCORE_COMPONENTS,
    DnsRecord,
    DomainMigration,
    DomainRecord,
    PkarrRecord,
    PubkyDomain,
    RelayStatus,
    SovereigntyScore,
)
from families.serializers import JSONObjectField, ReadModelSerializer, UserSummarySerializer


class DomainRecordSerializer(ReadModelSerializer):
    owner = UserSummarySerializer(read_only=True, allow_null=True)
    pubky_domain_id = serializers.SerializerMethodField()

    class Meta:
        model = DomainRecord
        fields = (
            "id",
            "name",
            "family",
            "owner",
            "visibility",
            "status",
            "registrar",
            "dns_provider",
            "self_hosted_homeserver",
            "self_hosted_verified_at",
            "sovereignty_score",
            "pubky_enabled",
            "pubky_domain_id",
            "pubky_homeserver_url",
            "pubky_relay_url",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_pubky_domain_id(self, domain: DomainRecord) -> int | None:
        pubky = getattr(domain, "pubky_domain", None)
        return pubky.pk if pubky is not None else None


class DnsRecordSerializer(ReadModelSerializer):
    type = serializers.CharField(source="rtype", read_only=True)

    class Meta:
        model = DnsRecord
        fields = ("id", "domain", "name", "type", "value", "ttl", "created_at", "updated_at")
        read_only_fields = fields


class PubkyDomainSerializer(ReadModelSerializer):
    class Meta:
        model = PubkyDomain
        fields = (
            "id",
            "name",
            "family",
            "domain",
            "public_key",
            "key_custody",
            "key_verification",
            "key_proven_at",
            "suspended_reason",
            "pubky_url",
            "homeserver_url",
            "homeserver_key",
            "visibility",
            "status",
            "last_packet_timestamp",
            "last_published_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class PkarrRecordSerializer(ReadModelSerializer):
    class Meta:
        model = PkarrRecord
        fields = (
            "id",
            "pubky_domain",
            "relay_url",
            "status",
            "packet_timestamp",
            "packet_ttl",
            "http_status",
            "error",
            "latency_ms",
            "attempts",
            "last_attempt_at",
            "published_at",
            "expires_at",
            "served_timestamp",
            "verified_at",
        )
        read_only_fields = fields


class MigrationSerializer(ReadModelSerializer):
    created_by = UserSummarySerializer(read_only=True, allow_null=True)
    failed_step = serializers.CharField(
        read_only=True,
        help_text="The state a failed migration was in when it failed (where POST …/retry/ "
        "resumes); empty otherwise.",
    )
    approvals = serializers.SerializerMethodField(
        help_text="Decisions of the family's guardians so far."
    )

    class Meta:
        model = DomainMigration
        fields = (
            "id",
            "domain",
            "pubky_domain",
            "direction",
            "state",
            "challenge_name",
            "challenge_value",
            "verified_at",
            "approvals_required",
            "approvals",
            "error",
            "failed_step",
            "created_by",
            "created_at",
            "updated_at",
            "completed_at",
            "rolled_back_at",
        )
        read_only_fields = fields

    @extend_schema_field(
        serializers.ListField(child=serializers.DictField(child=serializers.CharField()))
    )
    def get_approvals(self, migration: DomainMigration) -> list[dict[str, Any]]:
        return [
            {"guardian": a.guardian_id, "decision": a.decision, "comment": a.comment}
            for a in migration.approvals.all()
        ]


class _IsoDateTimeField(serializers.DateTimeField):
    """A timestamp the score object already holds as ISO 8601 text, written as DRF writes
    datetimes (UTC as ``Z``)."""

    def to_representation(self, value: Any) -> Any:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return super().to_representation(value)


class CurrentScoreSerializer(serializers.Serializer):
    """The domain's score from its facts now: total, five components, each rule explained.

    The fields of the score object (``pubkyproject.event_types.SovereigntyScore``) that the
    WebSocket reply and the score events carry under the same names.
    """

    domain = serializers.IntegerField()
    total = serializers.IntegerField(min_value=0, max_value=100)
    components = serializers.DictField(child=serializers.IntegerField())
    explanation = JSONObjectField(
        help_text="Per component: points, maximum and each rule of the rubric with its points."
    )
    rubric_version = serializers.IntegerField()
    calculated_at = _IsoDateTimeField(
        allow_null=True, help_text="When the latest stored calculation was made."
    )


class ScoreHistorySerializer(ReadModelSerializer):
    class Meta:
        model = SovereigntyScore
        fields = ("id", "domain", "total", *SCORE_COMPONENTS, "reason", "calculated_at")
        read_only_fields = fields


class RelayStatusSerializer(ReadModelSerializer):
    class Meta:
        model = RelayStatus
        fields = (
            "url",
            "is_up",
            "latency_ms",
            "last_status_code",
            "last_error",
            "consecutive_failures",
            "last_checked_at",
            "last_changed_at",
        )
        read_only_fields = fields
