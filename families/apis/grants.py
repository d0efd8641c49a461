"""Access grants on single objects."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from families.apis.common import Action, active_users
from families.models import AccessGrant, GrantPermission
from families.selectors import access_grants_list
from families.serializers import GRANT_TARGETS, AccessGrantSerializer
from families.services.grants import access_grant_create, access_grant_revoke
from pubkyproject import policy
from pubkyproject.api.fields import UsernameField
from pubkyproject.api.filters import IdField
from pubkyproject.api.schema import LIST, READ, WRITE, errors
from pubkyproject.api.views import ApiView


class AccessGrantListApi(ApiView):
    """Grants the caller received, gave or administers; administrators of a target grant."""

    class FilterSerializer(serializers.Serializer):
        target_type = serializers.ChoiceField(choices=GRANT_TARGETS, required=False)
        target_id = IdField(required=False)
        grantee = IdField(required=False, help_text="The grantee's user id.")
        current = serializers.BooleanField(
            required=False, help_text="Only grants in force (true) or only ended ones (false)."
        )

    class InputSerializer(serializers.Serializer):
        grantee = UsernameField(queryset=active_users(), help_text="The grantee's username.")
        target_type = serializers.ChoiceField(choices=GRANT_TARGETS)
        target_id = IdField()
        permission = serializers.ChoiceField(
            choices=GrantPermission.choices, default=GrantPermission.READ
        )
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

    OutputSerializer = AccessGrantSerializer

    @extend_schema(
        tags=["grants"],
        operation_id="grants_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST)},
    )
    def get(self, request: Request) -> Response:
        filters = self.query(self.FilterSerializer)
        grants = access_grants_list(
            who=self.principal,
            target_type=filters.get("target_type"),
            target_id=filters.get("target_id"),
            grantee_id=filters.get("grantee"),
            current=filters.get("current"),
        )
        return self.page(self.OutputSerializer, grants)

    @extend_schema(
        tags=["grants"],
        operation_id="grants_create",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request) -> Response:
        data = self.parse(self.InputSerializer)
        model = policy.grant_target_model(data["target_type"])
        target = self.readable(model._default_manager.all(), pk=data["target_id"])
        self.require(Action.ADMINISTER, target, "Only the target's administrators grant access.")
        grant = access_grant_create(
            grantee=data["grantee"],
            target=target,
            permission=data["permission"],
            expires_at=data.get("expires_at"),
            granted_by=self.user,
        )
        return self.output(self.OutputSerializer, grant, status=status.HTTP_201_CREATED)


def _grants() -> Any:
    return AccessGrant.objects.select_related("grantee", "granted_by", "content_type")


class AccessGrantDetailApi(ApiView):
    OutputSerializer = AccessGrantSerializer

    @extend_schema(
        tags=["grants"],
        operation_id="grants_retrieve",
        responses={200: OutputSerializer, **errors(*READ)},
    )
    def get(self, request: Request, grant_id: int) -> Response:
        return self.output(self.OutputSerializer, self.readable(_grants(), pk=grant_id))


class AccessGrantRevokeApi(ApiView):
    """Revoke a grant (administrators of its target; the grantee may give it up)."""

    OutputSerializer = AccessGrantSerializer

    @extend_schema(
        tags=["grants"],
        operation_id="grants_revoke",
        request=None,
        responses={200: OutputSerializer, **errors(*WRITE)},
    )
    def post(self, request: Request, grant_id: int) -> Response:
        grant = self.readable(_grants(), pk=grant_id)
        if grant.grantee_id != self.principal.user_id:
            self.require(Action.CHANGE, grant, "Only the target's administrators revoke grants.")
        return self.output(self.OutputSerializer, access_grant_revoke(grant=grant))
