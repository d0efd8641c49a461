"""Pubky domains: register, read, prove the key, publish, resolve; their PKARR records."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from domains.api_selectors import pkarr_records_list, pubky_domain_resolve, pubky_domains_list
from domains.apis.common import NETWORK_THROTTLES, RecordFields
from domains.models import KeyCustody, PkarrPublishStatus, PubkyDomain, PubkyDomainStatus, UsageKind
from domains.serializers import PkarrRecordSerializer, PubkyDomainSerializer
from domains.services.key_claims import pubky_domain_key_prove
from domains.services.publishing import pubky_domain_publish
from domains.services.registration import DnsRecordSpec, register_pubky_domain
from domains.services.usage import pubky_domain_usage_record
from families.models import Family, Visibility
from pubkyproject import policy
from pubkyproject.api.filters import IdField, ordering_field
from pubkyproject.api.schema import LIST, READ, WRITE, errors
from pubkyproject.api.views import ApiView

Action = policy.Action


class PubkyDomainListApi(ApiView):
    """Pubky domains the caller may read; registering one signs and publishes its packet."""

    class FilterSerializer(serializers.Serializer):
        family = IdField(required=False)
        status = serializers.ChoiceField(choices=PubkyDomainStatus.choices, required=False)
        key_custody = serializers.ChoiceField(choices=KeyCustody.choices, required=False)
        search = serializers.CharField(required=False, max_length=253)
        ordering = ordering_field("name", "created_at", "last_published_at", default="name")

    class InputSerializer(serializers.Serializer):
        family = IdField()
        name = serializers.CharField(max_length=253)
        records = serializers.ListField(child=RecordFields(), max_length=100, default=list)
        visibility = serializers.ChoiceField(choices=Visibility.choices, default="private")
        key_custody = serializers.ChoiceField(choices=KeyCustody.choices, default="service")
        public_key = serializers.CharField(
            max_length=60, required=False, help_text="Self-custody only: the family's key."
        )
        key_proof = IdField(
            required=False,
            help_text="Self-custody only: the id of your proven key proof of public_key "
            "(POST /api/key-proofs/).",
        )

    OutputSerializer = PubkyDomainSerializer

    def get_throttles(self) -> list[Any]:
        if self.request.method == "POST":
            return [throttle() for throttle in NETWORK_THROTTLES]
        return super().get_throttles()

    @extend_schema(
        tags=["pubky"],
        operation_id="pubky_domains_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST)},
    )
    def get(self, request: Request) -> Response:
        filters = self.query(self.FilterSerializer)
        return self.page(self.OutputSerializer, pubky_domains_list(who=self.principal, **filters))

    @extend_schema(
        tags=["pubky"],
        operation_id="pubky_domains_register",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(*WRITE, 409, 502)},
    )
    def post(self, request: Request) -> Response:
        data = self.parse(self.InputSerializer)
        family = self.readable(Family.objects.all(), pk=data["family"])
        self.require(Action.CHANGE, PubkyDomain(family=family), "You may not register here.")
        pubky_domain = register_pubky_domain(
            name=data["name"],
            family=family,
            records=[
                DnsRecordSpec(r["name"], r["type"], r["value"], r["ttl"]) for r in data["records"]
            ],
            visibility=data["visibility"],
            key_custody=data["key_custody"],
            public_key=data.get("public_key"),
            owner=self.user,
            key_proof=data.get("key_proof"),
        )
        return self.output(self.OutputSerializer, pubky_domain, status=status.HTTP_201_CREATED)


class PubkyDomainDetailApi(ApiView):
    OutputSerializer = PubkyDomainSerializer

    @extend_schema(
        tags=["pubky"],
        operation_id="pubky_domains_retrieve",
        responses={200: OutputSerializer, **errors(*READ)},
    )
    def get(self, request: Request, pubky_domain_id: int) -> Response:
        pubky_domain = self.readable(PubkyDomain.objects.all(), pk=pubky_domain_id)
        return self.output(self.OutputSerializer, pubky_domain)


class PubkyDomainProveApi(ApiView):
    """Prove a self-custody domain's key: an unverified claim becomes proven (and earns its
    key-ownership points); any other unverified claim of the key is suspended."""

    class InputSerializer(serializers.Serializer):
        key_proof = IdField(help_text="The id of your proven key proof of the domain's key.")

    OutputSerializer = PubkyDomainSerializer

    @extend_schema(
        tags=["pubky"],
        operation_id="pubky_domains_prove",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(*WRITE, 409)},
    )
    def post(self, request: Request, pubky_domain_id: int) -> Response:
        pubky_domain = self.readable(PubkyDomain.objects.all(), pk=pubky_domain_id)
        self.require(Action.CHANGE, pubky_domain)
        data = self.parse(self.InputSerializer)
        proven = pubky_domain_key_prove(
            pubky_domain=pubky_domain, user=self.user, key_proof_id=data["key_proof"]
        )
        return self.output(self.OutputSerializer, proven)


class PubkyDomainPublishApi(ApiView):
    """Sign the domain's current DNS records and put the packet on every relay."""

    throttle_classes = NETWORK_THROTTLES

    class OutputSerializer(serializers.Serializer):
        pubky_domain = PubkyDomainSerializer()
        relays = PkarrRecordSerializer(many=True, help_text="Each relay's answer.")

    @extend_schema(
        tags=["pubky"],
        operation_id="pubky_domains_publish",
        request=None,
        responses={200: OutputSerializer, **errors(*WRITE, 409, 502)},
    )
    def post(self, request: Request, pubky_domain_id: int) -> Response:
        pubky_domain = self.readable(PubkyDomain.objects.all(), pk=pubky_domain_id)
        self.require(Action.CHANGE, pubky_domain)
        pubky_domain_publish(pubky_domain=pubky_domain)
        relays = pkarr_records_list(pubky_domain=pubky_domain)
        return self.output(self.OutputSerializer, {"pubky_domain": pubky_domain, "relays": relays})


class PubkyDomainResolveApi(ApiView):
    """The records the relays serve for the domain's key right now (newest valid packet)."""

    throttle_classes = NETWORK_THROTTLES

    class OutputSerializer(serializers.Serializer):
        class RecordSerializer(serializers.Serializer):
            name = serializers.CharField()
            type = serializers.CharField()
            value = serializers.CharField()
            ttl = serializers.IntegerField()

        class RelaySerializer(serializers.Serializer):
            relay_url = serializers.CharField()
            ok = serializers.BooleanField()
            status = serializers.IntegerField(allow_null=True)
            latency_ms = serializers.FloatField()
            error = serializers.CharField(allow_blank=True)
            packet_timestamp = serializers.IntegerField(allow_null=True)

        public_key = serializers.CharField()
        found = serializers.BooleanField()
        timestamp = serializers.IntegerField(allow_null=True, help_text="Packet time (µs).")
        records = RecordSerializer(many=True)
        relays = RelaySerializer(many=True)

    @extend_schema(
        tags=["pubky"],
        operation_id="pubky_domains_resolve",
        responses={200: OutputSerializer, **errors(*READ, 502)},
    )
    def get(self, request: Request, pubky_domain_id: int) -> Response:
        pubky_domain = self.readable(PubkyDomain.objects.all(), pk=pubky_domain_id)
        resolution = pubky_domain_resolve(pubky_domain=pubky_domain)
        pubky_domain_usage_record(
            pubky_domain=pubky_domain, kind=UsageKind.RESOLVE, ok=resolution.found
        )
        return self.output(self.OutputSerializer, resolution)


class PkarrRecordListApi(ApiView):
    """Where the domain's packet is published: one row per relay with its last answer."""

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=PkarrPublishStatus.choices, required=False)

    OutputSerializer = PkarrRecordSerializer

    @extend_schema(
        tags=["pubky"],
        operation_id="pkarr_records_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST, 404)},
    )
    def get(self, request: Request, pubky_domain_id: int) -> Response:
        pubky_domain = self.readable(PubkyDomain.objects.all(), pk=pubky_domain_id)
        filters = self.query(self.FilterSerializer)
        records = pkarr_records_list(pubky_domain=pubky_domain, **filters)
        return self.page(self.OutputSerializer, records)
