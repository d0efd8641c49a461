"""The DNS records of a domain."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from domains.api_selectors import dns_records_list
from domains.apis.common import MAX_TTL, RecordFields
from domains.models import DNS_RECORD_VALUE_MAX_LENGTH, DnsRecord, DnsRecordType, DomainRecord
from domains.serializers import DnsRecordSerializer
from domains.services.records import dns_record_create, dns_record_delete, dns_record_update
from pubkyproject import policy
from pubkyproject.api.filters import ordering_field
from pubkyproject.api.schema import LIST, READ, WRITE, errors
from pubkyproject.api.views import ApiView

Action = policy.Action


class DnsRecordListApi(ApiView):
    class FilterSerializer(serializers.Serializer):
        type = serializers.ChoiceField(choices=DnsRecordType.choices, required=False)
        name = serializers.CharField(required=False, max_length=253)
        ordering = ordering_field("name", "type", "ttl", "created_at", default="name")

    class InputSerializer(RecordFields):
        pass

    OutputSerializer = DnsRecordSerializer

    @extend_schema(
        tags=["domains"],
        operation_id="dns_records_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST, 404)},
    )
    def get(self, request: Request, domain_id: int) -> Response:
        domain = self.readable(DomainRecord.objects.all(), pk=domain_id)
        filters = self.query(self.FilterSerializer)
        return self.page(self.OutputSerializer, dns_records_list(domain=domain, **filters))

    @extend_schema(
        tags=["domains"],
        operation_id="dns_records_create",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request, domain_id: int) -> Response:
        domain = self.readable(DomainRecord.objects.all(), pk=domain_id)
        self.require(Action.CHANGE, DnsRecord(domain=domain))
        data = self.parse(self.InputSerializer)
        record = dns_record_create(
            domain=domain,
            name=data["name"],
            rtype=data["type"],
            value=data["value"],
            ttl=data["ttl"],
        )
        return self.output(self.OutputSerializer, record, status=status.HTTP_201_CREATED)


class DnsRecordDetailApi(ApiView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=253, required=False)
        type = serializers.ChoiceField(choices=DnsRecordType.choices, required=False)
        value = serializers.CharField(max_length=DNS_RECORD_VALUE_MAX_LENGTH, required=False)
        ttl = serializers.IntegerField(min_value=0, max_value=MAX_TTL, required=False)

    OutputSerializer = DnsRecordSerializer

    def _record(self, domain_id: int, record_id: int) -> DnsRecord:
        records = DnsRecord.objects.select_related("domain")
        return self.readable(records, pk=record_id, domain_id=domain_id)

    @extend_schema(
        tags=["domains"],
        operation_id="dns_records_retrieve",
        responses={200: OutputSerializer, **errors(*READ)},
    )
    def get(self, request: Request, domain_id: int, record_id: int) -> Response:
        return self.output(self.OutputSerializer, self._record(domain_id, record_id))

    @extend_schema(
        tags=["domains"],
        operation_id="dns_records_update",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(*WRITE, 409)},
    )
    def patch(self, request: Request, domain_id: int, record_id: int) -> Response:
        record = self._record(domain_id, record_id)
        self.require(Action.CHANGE, record)
        data = self.parse(self.InputSerializer)
        if "type" in data:
            data["rtype"] = data.pop("type")
        return self.output(self.OutputSerializer, dns_record_update(record=record, **data))

    @extend_schema(
        tags=["domains"],
        operation_id="dns_records_destroy",
        responses={204: None, **errors(*WRITE)},
    )
    def delete(self, request: Request, domain_id: int, record_id: int) -> Response:
        record = self._record(domain_id, record_id)
        self.require(Action.CHANGE, record)
        dns_record_delete(record=record)
        return Response(status=status.HTTP_204_NO_CONTENT)
