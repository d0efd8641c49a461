"""Families: the list, one family, its settings."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from families.apis.common import Action
from families.models import FAMILY_DESCRIPTION_MAX_LENGTH, Family, Visibility
from families.selectors import families_list
from families.serializers import FamilySerializer
from families.services.families import family_create
from families.services.family_admin import family_update
from pubkyproject.api.filters import ordering_field
from pubkyproject.api.schema import LIST, READ, WRITE, errors
from pubkyproject.api.views import ApiView


class FamilyListApi(ApiView):
    """Families the caller may read, and creating a family (the caller becomes its owner)."""

    class FilterSerializer(serializers.Serializer):
        search = serializers.CharField(required=False, max_length=200)
        visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
        pubky_enabled = serializers.BooleanField(required=False)
        ordering = ordering_field("name", "created_at", default="name")

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        slug = serializers.SlugField(max_length=100, required=False)
        description = serializers.CharField(
            required=False, allow_blank=True, max_length=FAMILY_DESCRIPTION_MAX_LENGTH
        )
        visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
        guardian_approval_required = serializers.BooleanField(required=False)
        guardian_threshold = serializers.IntegerField(min_value=1, max_value=100, required=False)

    OutputSerializer = FamilySerializer

    @extend_schema(
        tags=["families"],
        operation_id="families_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST)},
    )
    def get(self, request: Request) -> Response:
        filters = self.query(self.FilterSerializer)
        return self.page(self.OutputSerializer, families_list(who=self.principal, **filters))

    @extend_schema(
        tags=["families"],
        operation_id="families_create",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(400, 401, 409, 429)},
    )
    def post(self, request: Request) -> Response:
        data = self.parse(self.InputSerializer)
        family = family_create(owner=self.user, **data)
        del self.principal  # loaded before the caller became the owner (shows ``my_role``)
        return self.output(self.OutputSerializer, family, status=status.HTTP_201_CREATED)


class FamilyDetailApi(ApiView):
    """One family; its administrators change its settings."""

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        slug = serializers.SlugField(max_length=100, required=False)
        description = serializers.CharField(
            required=False, allow_blank=True, max_length=FAMILY_DESCRIPTION_MAX_LENGTH
        )
        visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
        guardian_approval_required = serializers.BooleanField(required=False)
        guardian_threshold = serializers.IntegerField(min_value=1, max_value=100, required=False)

    OutputSerializer = FamilySerializer

    @extend_schema(
        tags=["families"],
        operation_id="families_retrieve",
        responses={200: OutputSerializer, **errors(*READ)},
    )
    def get(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.select_related("owner"), pk=family_id)
        return self.output(self.OutputSerializer, family)

    @extend_schema(
        tags=["families"],
        operation_id="families_update",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(*WRITE, 409)},
    )
    def patch(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.select_related("owner"), pk=family_id)
        self.require(Action.CHANGE, family)
        data = self.parse(self.InputSerializer)
        return self.output(self.OutputSerializer, family_update(family=family, **data))
