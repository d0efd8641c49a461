"""Guardians' decisions on migrations (approve, reject).

``guardians.services`` asks the policy itself (``can_decide_migration``): a refusal there is
the same 403, recorded as ``access_denied``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from domains.api_selectors import migration_queryset
from domains.serializers import MigrationSerializer
from guardians.models import APPROVAL_COMMENT_MAX_LENGTH
from guardians.services import guardian_migration_approve, guardian_migration_reject
from pubkyproject.api.schema import WRITE, errors
from pubkyproject.api.views import ApiView


class MigrationDecisionApi(ApiView):
    class InputSerializer(serializers.Serializer):
        comment = serializers.CharField(
            required=False, default="", allow_blank=True, max_length=APPROVAL_COMMENT_MAX_LENGTH
        )

    OutputSerializer = MigrationSerializer

    decide: Any = None

    def post(self, request: Request, migration_id: int) -> Response:
        migration = self.readable(migration_queryset(), pk=migration_id)
        data = self.parse(self.InputSerializer)
        self.decide(user=self.user, migration=migration, comment=data["comment"])
        return self.output(self.OutputSerializer, migration_queryset().get(pk=migration.pk))


class MigrationApproveApi(MigrationDecisionApi):
    """An active guardian of the domain's family approves the migration."""

    decide = staticmethod(guardian_migration_approve)

    @extend_schema(
        tags=["migrations"],
        operation_id="migrations_approve",
        request=MigrationDecisionApi.InputSerializer,
        responses={200: MigrationSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request, migration_id: int) -> Response:
        return super().post(request, migration_id)


class MigrationRejectApi(MigrationDecisionApi):
    """An active guardian of the domain's family rejects the migration, which fails it."""

    decide = staticmethod(guardian_migration_reject)

    @extend_schema(
        tags=["migrations"],
        operation_id="migrations_reject",
        request=MigrationDecisionApi.InputSerializer,
        responses={200: MigrationSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request, migration_id: int) -> Response:
        return super().post(request, migration_id)
