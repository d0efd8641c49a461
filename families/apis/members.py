"""A family's members and their roles."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from families.apis.common import MEMBER_ROLES, Action, active_users
from families.models import Family, FamilyMembership, FamilyRole
from families.selectors import family_members_list
from families.serializers import MembershipSerializer
from families.services.families import family_member_remove
from families.services.family_admin import family_member_invite, family_member_role_change
from pubkyproject.api.fields import UsernameField
from pubkyproject.api.filters import ordering_field
from pubkyproject.api.schema import LIST, READ, WRITE, errors
from pubkyproject.api.views import ApiView


class FamilyMemberListApi(ApiView):
    """The members of a family (readable with the family); administrators add members."""

    class FilterSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=FamilyRole.choices, required=False)
        ordering = ordering_field("username", "created_at", default="username")

    class InputSerializer(serializers.Serializer):
        username = UsernameField(queryset=active_users())
        role = serializers.ChoiceField(choices=MEMBER_ROLES, default=FamilyRole.MEMBER)

    OutputSerializer = MembershipSerializer

    @extend_schema(
        tags=["families"],
        operation_id="family_members_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST, 404)},
    )
    def get(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.all(), pk=family_id)
        filters = self.query(self.FilterSerializer)
        return self.page(self.OutputSerializer, family_members_list(family=family, **filters))

    @extend_schema(
        tags=["families"],
        operation_id="family_members_add",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.all(), pk=family_id)
        self.require(Action.ADMINISTER, family, "Only the family's administrators add members.")
        data = self.parse(self.InputSerializer)
        membership = family_member_invite(family=family, user=data["username"], role=data["role"])
        return self.output(self.OutputSerializer, membership, status=status.HTTP_201_CREATED)


class FamilyMemberDetailApi(ApiView):
    """One member: administrators change their role or remove them."""

    class InputSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=MEMBER_ROLES)

    OutputSerializer = MembershipSerializer

    def _membership(self, family_id: int, user_id: int) -> tuple[Family, FamilyMembership]:
        family = self.readable(Family.objects.all(), pk=family_id)
        membership = (
            FamilyMembership.objects.filter(family=family, user_id=user_id)
            .select_related("user")
            .first()
        )
        if membership is None:
            self.not_found("No such member.")
        return family, membership

    @extend_schema(
        tags=["families"],
        operation_id="family_members_retrieve",
        responses={200: OutputSerializer, **errors(*READ)},
    )
    def get(self, request: Request, family_id: int, user_id: int) -> Response:
        _, membership = self._membership(family_id, user_id)
        return self.output(self.OutputSerializer, membership)

    @extend_schema(
        tags=["families"],
        operation_id="family_members_update",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(*WRITE, 409)},
    )
    def patch(self, request: Request, family_id: int, user_id: int) -> Response:
        family, membership = self._membership(family_id, user_id)
        self.require(Action.ADMINISTER, family, "Only the family's administrators change roles.")
        data = self.parse(self.InputSerializer)
        updated = family_member_role_change(family=family, user=membership.user, role=data["role"])
        return self.output(self.OutputSerializer, updated)

    @extend_schema(
        tags=["families"],
        operation_id="family_members_remove",
        responses={204: None, **errors(*WRITE, 409)},
    )
    def delete(self, request: Request, family_id: int, user_id: int) -> Response:
        family, membership = self._membership(family_id, user_id)
        self.require(Action.ADMINISTER, family, "Only the family's administrators remove members.")
        family_member_remove(family=family, user=membership.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
