"""Output shapes shared by several family APIs (each API nests its own input serializer).

No serializer here (or anywhere in the API) has a private-key field: keypairs are shown through
``access_rules.keypair_public_fields()``, the one list of what may be shown of a keypair.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from families import access_rules
from families.models import AccessGrant, Family, FamilyMembership, FamilyRole, PubkyKeypair, User
from pubkyproject import policy


class ReadModelSerializer(serializers.ModelSerializer):
    """Output of a model: URL and email columns that may be blank are plain strings (an empty
    string is not a valid ``format: uri``/``email`` in the schema)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.URLField: serializers.CharField,
        models.EmailField: serializers.CharField,
    }


class UserSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ("id", "username")
        ref_name = "UserSummary"


class FamilySerializer(ReadModelSerializer):
    owner = UserSummarySerializer(read_only=True)
    my_role = serializers.SerializerMethodField(
        help_text="The caller's role in this family (null when not a member)."
    )
    is_guardian = serializers.SerializerMethodField(
        help_text="Whether the caller is an active guardian of this family (and so decides "
        "on its migrations)."
    )

    class Meta:
        model = Family
        fields = (
            "id",
            "name",
            "slug",
            "description",
            "owner",
            "visibility",
            "my_role",
            "is_guardian",
            "guardian_approval_required",
            "guardian_threshold",
            "pubky_enabled",
            "pubky_public_key",
            "pubky_key_verification",
            "pubky_url",
            "pubky_homeserver_url",
            "pubky_relay_url",
            "homeserver_public_key",
            "homeserver_proven_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=FamilyRole.choices, allow_null=True))
    def get_my_role(self, family: Family) -> str | None:
        principal = self.context.get("principal")
        if not isinstance(principal, policy.Principal):
            return None
        return principal.roles.get(family.pk)

    @extend_schema_field(serializers.BooleanField())
    def get_is_guardian(self, family: Family) -> bool:
        principal = self.context.get("principal")
        return isinstance(principal, policy.Principal) and family.pk in principal.guardian_of


class MembershipSerializer(ReadModelSerializer):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = FamilyMembership
        fields = ("user", "role", "created_at")
        read_only_fields = fields


class KeypairSerializer(ReadModelSerializer):
    """The public parts of a family keypair (``access_rules.keypair_public_fields``)."""

    class Meta:
        model = PubkyKeypair
        fields = access_rules.keypair_public_fields()
        read_only_fields = fields


GRANT_TARGETS = policy.SCOPE_KINDS


class AccessGrantSerializer(ReadModelSerializer):
    grantee = UserSummarySerializer(read_only=True)
    granted_by = UserSummarySerializer(read_only=True, allow_null=True)
    target_type = serializers.SerializerMethodField()
    target_id = serializers.IntegerField(source="object_id", read_only=True)
    is_current = serializers.BooleanField(read_only=True)

    class Meta:
        model = AccessGrant
        fields = (
            "id",
            "grantee",
            "granted_by",
            "target_type",
            "target_id",
            "permission",
            "expires_at",
            "revoked_at",
            "is_current",
            "created_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=GRANT_TARGETS))
    def get_target_type(self, grant: AccessGrant) -> str:
        content_type = grant.content_type
        label = f"{content_type.app_label}.{content_type.model}"
        return policy.grant_kind(label) or content_type.model


@extend_schema_field(OpenApiTypes.OBJECT)
class JSONObjectField(serializers.JSONField):
    """A JSON object (documented as such rather than as any value)."""

    def to_representation(self, value: Any) -> Any:
        return value
