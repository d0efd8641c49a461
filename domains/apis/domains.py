"""Domains: list, add, read, change, delete (a family's members add domains)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from domains.api_selectors import domains_list
from domains.apis.common import domains_queryset
from domains.models import DomainRecord, DomainStatus
from domains.serializers import DomainRecordSerializer
from domains.services.records import (
    domain_record_create,
    domain_record_delete,
    domain_record_update,
)
from families.models import Family, Visibility
from pubkyproject import policy
from pubkyproject.api.filters import IdField, ordering_field
from pubkyproject.api.schema import LIST, READ, WRITE, errors
from pubkyproject.api.views import ApiView

Action = policy.Action

SELF_HOSTING_IS_VERIFIED = (
    "self_hosted_homeserver is verified, not declared: attach your homeserver's key with a "
    "proof (PUT /api/families/<id>/homeserver/ with public_key and key_proof) and point the "
    "domain's _pubky record at it; the service checks the domain's packet and sets it."
)


def _refuse_declared_facts(serializer: serializers.Serializer, attrs: dict[str, Any]) -> Any:
    """A field the score trusts only when verified is refused (400), never silently dropped."""
    initial: Any = getattr(serializer, "initial_data", None)
    if isinstance(initial, Mapping) and "self_hosted_homeserver" in initial:
        raise serializers.ValidationError({"self_hosted_homeserver": [SELF_HOSTING_IS_VERIFIED]})
    return attrs


class DomainListApi(ApiView):
    """Domains the caller may read; family members (and write-grant holders) add domains."""

    class FilterSerializer(serializers.Serializer):
        family = IdField(required=False)
        status = serializers.ChoiceField(choices=DomainStatus.choices, required=False)
        visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
        pubky_enabled = serializers.BooleanField(required=False)
        search = serializers.CharField(required=False, max_length=253)
        ordering = ordering_field("name", "created_at", "sovereignty_score", default="name")

    class InputSerializer(serializers.Serializer):
        family = IdField()
        name = serializers.CharField(max_length=253)
        visibility = serializers.ChoiceField(choices=Visibility.choices, default="private")
        registrar = serializers.CharField(max_length=200, required=False, allow_blank=True)
        dns_provider = serializers.CharField(max_length=200, required=False, allow_blank=True)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            return _refuse_declared_facts(self, attrs)

    OutputSerializer = DomainRecordSerializer

    @extend_schema(
        tags=["domains"],
        operation_id="domains_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST)},
    )
    def get(self, request: Request) -> Response:
        filters = self.query(self.FilterSerializer)
        return self.page(self.OutputSerializer, domains_list(who=self.principal, **filters))

    @extend_schema(
        tags=["domains"],
        operation_id="domains_create",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request) -> Response:
        data = self.parse(self.InputSerializer)
        family = self.readable(Family.objects.all(), pk=data.pop("family"))
        self.require(Action.CHANGE, DomainRecord(family=family), "You may not add domains here.")
        domain = domain_record_create(family=family, owner=self.user, **data)
        return self.output(self.OutputSerializer, domain, status=status.HTTP_201_CREATED)


class DomainDetailApi(ApiView):
    class InputSerializer(serializers.Serializer):
        visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
        registrar = serializers.CharField(max_length=200, required=False, allow_blank=True)
        dns_provider = serializers.CharField(max_length=200, required=False, allow_blank=True)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            return _refuse_declared_facts(self, attrs)

    OutputSerializer = DomainRecordSerializer

    @extend_schema(
        tags=["domains"],
        operation_id="domains_retrieve",
        responses={200: OutputSerializer, **errors(*READ)},
    )
    def get(self, request: Request, domain_id: int) -> Response:
        return self.output(self.OutputSerializer, self.readable(domains_queryset(), pk=domain_id))

    @extend_schema(
        tags=["domains"],
        operation_id="domains_update",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(*WRITE, 409)},
    )
    def patch(self, request: Request, domain_id: int) -> Response:
        domain = self.readable(domains_queryset(), pk=domain_id)
        self.require(Action.CHANGE, domain)
        data = self.parse(self.InputSerializer)
        domain_record_update(domain=domain, **data)
        return self.output(self.OutputSerializer, domains_queryset().get(pk=domain.pk))

    @extend_schema(
        tags=["domains"],
        operation_id="domains_destroy",
        responses={204: None, **errors(*WRITE, 409)},
    )
    def delete(self, request: Request, domain_id: int) -> Response:
        domain = self.readable(domains_queryset(), pk=domain_id)
        self.require(Action.CHANGE, domain)
        domain_record_delete(domain=domain)
        return Response(status=status.HTTP_204_NO_CONTENT)
