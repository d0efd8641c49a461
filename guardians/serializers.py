"""Output shapes shared by the guardian APIs."""

from __future__ import annotations

from families.serializers import JSONObjectField, ReadModelSerializer, UserSummarySerializer
from guardians.models import FederationGuardian, GuardianNotification


class GuardianSerializer(ReadModelSerializer):
    user = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = FederationGuardian
        fields = (
            "id",
            "family",
            "user",
            "name",
            "email",
            "pubky_public_key",
            "status",
            "pubky_backup_status",
            "pubky_backup_url",
            "pubky_backup_last_updated",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class NotificationSerializer(ReadModelSerializer):
    payload = JSONObjectField(read_only=True)

    class Meta:
        model = GuardianNotification
        fields = (
            "id",
            "family",
            "guardian",
            "kind",
            "title",
            "message",
            "payload",
            "created_at",
            "read_at",
        )
        read_only_fields = fields
