"""Migrations between registrar DNS and Pubky: open, read, advance, cancel, retry, roll back.

(Guardians decide on them through ``guardians.apis.decisions``.)
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from domains.api_selectors import migration_queryset, migrations_list
from domains.apis.common import NETWORK_THROTTLES
from domains.models import DomainMigration, DomainRecord, MigrationDirection, MigrationState
from domains.serializers import MigrationSerializer
from domains.services.migration import (
    create_domain_migration,
    domain_migration_advance,
    domain_migration_cancel,
    domain_migration_retry,
    domain_migration_rollback,
)
from pubkyproject import policy
from pubkyproject.api.filters import IdField, ordering_field
from pubkyproject.api.schema import LIST, READ, WRITE, errors
from pubkyproject.api.views import ApiView

Action = policy.Action


class MigrationListApi(ApiView):
    """Migrations the caller may read; members of the domain's family start one."""

    class FilterSerializer(serializers.Serializer):
        domain = IdField(required=False)
        family = IdField(required=False)
        state = serializers.ChoiceField(choices=MigrationState.choices, required=False)
        direction = serializers.ChoiceField(choices=MigrationDirection.choices, required=False)
        ordering = ordering_field("created_at", "updated_at", default="-created_at")

    class InputSerializer(serializers.Serializer):
        domain = IdField()
        direction = serializers.ChoiceField(choices=MigrationDirection.choices)

    OutputSerializer = MigrationSerializer

    @extend_schema(
        tags=["migrations"],
        operation_id="migrations_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST)},
    )
    def get(self, request: Request) -> Response:
        filters = self.query(self.FilterSerializer)
        return self.page(self.OutputSerializer, migrations_list(who=self.principal, **filters))

    @extend_schema(
        tags=["migrations"],
        operation_id="migrations_create",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request) -> Response:
        data = self.parse(self.InputSerializer)
        domain = self.readable(DomainRecord.objects.all(), pk=data["domain"])
        self.require(Action.CHANGE, DomainMigration(domain=domain))
        migration = create_domain_migration(
            domain=domain, direction=data["direction"], created_by=self.user
        )
        return self.output(
            self.OutputSerializer, migration_queryset().get(pk=migration.pk), status=201
        )


class _MigrationActionApi(ApiView):
    OutputSerializer = MigrationSerializer

    def _migration(self, migration_id: int) -> DomainMigration:
        return self.readable(migration_queryset(), pk=migration_id)

    def _changed(self, migration: DomainMigration) -> Response:
        return self.output(self.OutputSerializer, migration_queryset().get(pk=migration.pk))


class MigrationDetailApi(_MigrationActionApi):
    @extend_schema(
        tags=["migrations"],
        operation_id="migrations_retrieve",
        responses={200: MigrationSerializer, **errors(*READ)},
    )
    def get(self, request: Request, migration_id: int) -> Response:
        return self.output(self.OutputSerializer, self._migration(migration_id))


class MigrationAdvanceApi(_MigrationActionApi):
    """The next step: check the DNS challenge (pending/verifying), or carry out a verified
    (and, where required, guardian-approved) migration."""

    throttle_classes = NETWORK_THROTTLES

    @extend_schema(
        tags=["migrations"],
        operation_id="migrations_advance",
        request=None,
        responses={200: MigrationSerializer, **errors(*WRITE, 409, 502)},
    )
    def post(self, request: Request, migration_id: int) -> Response:
        migration = self._migration(migration_id)
        self.require(Action.CHANGE, migration)
        return self._changed(domain_migration_advance(migration=migration))


class MigrationCancelApi(_MigrationActionApi):
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=500, required=False, default="cancelled")

    @extend_schema(
        tags=["migrations"],
        operation_id="migrations_cancel",
        request=InputSerializer,
        responses={200: MigrationSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request, migration_id: int) -> Response:
        migration = self._migration(migration_id)
        self.require(Action.CHANGE, migration)
        data = self.parse(self.InputSerializer)
        return self._changed(domain_migration_cancel(migration=migration, reason=data["reason"]))


class MigrationRetryApi(_MigrationActionApi):
    """Reopen a failed migration at the step that failed (then ``advance`` it)."""

    @extend_schema(
        tags=["migrations"],
        operation_id="migrations_retry",
        request=None,
        responses={200: MigrationSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request, migration_id: int) -> Response:
        migration = self._migration(migration_id)
        self.require(Action.CHANGE, migration)
        return self._changed(domain_migration_retry(migration=migration))


class MigrationRollbackApi(_MigrationActionApi):
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=500, required=False, default="")

    @extend_schema(
        tags=["migrations"],
        operation_id="migrations_rollback",
        request=InputSerializer,
        responses={200: MigrationSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request, migration_id: int) -> Response:
        migration = self._migration(migration_id)
        self.require(Action.CHANGE, migration)
        data = self.parse(self.InputSerializer)
        return self._changed(domain_migration_rollback(migration=migration, reason=data["reason"]))
