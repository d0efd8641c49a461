"""A family's guardians: the roster (administrators add and change guardians) and the key
backups guardians report (through ``guardians.services``, which asks the policy itself)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from families.models import Family, User
from families.validators import validate_public_key
from guardians.api_selectors import guardians_list
from guardians.models import BackupStatus, FederationGuardian, GuardianStatus
from guardians.serializers import GuardianSerializer
from guardians.services import guardian_backup_status_record, guardian_create, guardian_update
from pubkyproject import policy
from pubkyproject.api.fields import UsernameField
from pubkyproject.api.filters import ordering_field
from pubkyproject.api.schema import LIST, READ, WRITE, errors
from pubkyproject.api.views import ApiView

Action = policy.Action


def _guardians() -> QuerySet[FederationGuardian]:
    return FederationGuardian.objects.select_related("user")


class GuardianListApi(ApiView):
    """A family's guardians; its administrators add guardians."""

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=GuardianStatus.choices, required=False)
        backup_status = serializers.ChoiceField(choices=BackupStatus.choices, required=False)
        ordering = ordering_field("name", "created_at", default="name")

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        username = UsernameField(
            queryset=User.objects.filter(is_active=True),
            required=False,
            allow_null=True,
            help_text="The guardian's account, if they have one here.",
        )
        email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
        pubky_public_key = serializers.CharField(
            max_length=52, required=False, allow_blank=True, validators=[validate_public_key]
        )
        status = serializers.ChoiceField(choices=GuardianStatus.choices, default="invited")

    OutputSerializer = GuardianSerializer

    @extend_schema(
        tags=["guardians"],
        operation_id="guardians_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST, 404)},
    )
    def get(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.all(), pk=family_id)
        filters = self.query(self.FilterSerializer)
        guardians = guardians_list(who=self.principal, family=family, **filters)
        return self.page(self.OutputSerializer, guardians.select_related("user"))

    @extend_schema(
        tags=["guardians"],
        operation_id="guardians_create",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.all(), pk=family_id)
        self.require(Action.CHANGE, FederationGuardian(family=family), "Only administrators.")
        data = self.parse(self.InputSerializer)
        guardian = guardian_create(family=family, user=data.pop("username", None), **data)
        return self.output(self.OutputSerializer, guardian, status=status.HTTP_201_CREATED)


class GuardianDetailApi(ApiView):
    """One guardian; the family's administrators change their details or status."""

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
        pubky_public_key = serializers.CharField(
            max_length=52, required=False, allow_blank=True, validators=[validate_public_key]
        )
        status = serializers.ChoiceField(choices=GuardianStatus.choices, required=False)

    OutputSerializer = GuardianSerializer

    @extend_schema(
        tags=["guardians"],
        operation_id="guardians_retrieve",
        responses={200: OutputSerializer, **errors(*READ)},
    )
    def get(self, request: Request, guardian_id: int) -> Response:
        return self.output(self.OutputSerializer, self.readable(_guardians(), pk=guardian_id))

    @extend_schema(
        tags=["guardians"],
        operation_id="guardians_update",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(*WRITE, 409)},
    )
    def patch(self, request: Request, guardian_id: int) -> Response:
        guardian = self.readable(_guardians(), pk=guardian_id)
        self.require(Action.CHANGE, guardian)
        data = self.parse(self.InputSerializer)
        guardian = guardian_update(guardian=guardian, **data)
        return self.output(self.OutputSerializer, _guardians().get(pk=guardian.pk))


class GuardianBackupStatusApi(ApiView):
    """A guardian reports the state of the key backup they hold (or an administrator does)."""

    class InputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=BackupStatus.choices)
        url = serializers.CharField(
            max_length=512,
            required=False,
            default="",
            allow_blank=True,
            help_text="Where the backup is kept (required for `current` the first time).",
        )

    OutputSerializer = GuardianSerializer

    @extend_schema(
        tags=["guardians"],
        operation_id="guardians_backup_status",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(*WRITE)},
    )
    def post(self, request: Request, guardian_id: int) -> Response:
        guardian = self.readable(_guardians(), pk=guardian_id)
        data = self.parse(self.InputSerializer)
        guardian = guardian_backup_status_record(
            user=self.user, guardian=guardian, status=data["status"], url=data["url"]
        )
        return self.output(self.OutputSerializer, _guardians().get(pk=guardian.pk))
