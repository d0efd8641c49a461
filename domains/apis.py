"""Domains, DNS records, sovereignty scores, migrations, Pubky domains, PKARR state and relays.

Every view parses input, asks the one access policy (``ApiView.readable`` → 404,
``ApiView.require`` → 403), calls one service or selector, and shapes the output. Permission
to create something is asked of the object about to be created (``DnsRecord(domain=…)``), so
the policy's rules for that model decide, not a rule written here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from domains.api_selectors import (
    current_score,
    dns_records_list,
    domains_list,
    migration_queryset,
    migrations_list,
    pkarr_records_list,
    pubky_domain_resolve,
    pubky_domains_list,
    relay_statuses,
    score_history_list,
)
from domains.history_selectors import relay_history
from domains.models import (
    DNS_RECORD_VALUE_MAX_LENGTH,
    DnsRecord,
    DnsRecordType,
    DomainMigration,
    DomainRecord,
    DomainStatus,
    KeyCustody,
    MigrationDirection,
    MigrationState,
    PkarrPublishStatus,
    PubkyDomain,
    PubkyDomainStatus,
    UsageKind,
)
from domains.serializers import (
    CurrentScoreSerializer,
    DnsRecordSerializer,
    DomainRecordSerializer,
    MigrationSerializer,
    PkarrRecordSerializer,
    PubkyDomainSerializer,
    RelayStatusSerializer,
    ScoreHistorySerializer,
)
from domains.services.key_claims import pubky_domain_key_prove
from domains.services.migration import (
    domain_migration_cancel,
    domain_migration_create,
    domain_migration_retry,
    domain_migration_rollback,
)
from domains.services.migration_steps import domain_migration_advance
from domains.services.publishing import pubky_domain_publish
from domains.services.records import (
    dns_record_create,
    dns_record_delete,
    dns_record_update,
    domain_record_create,
    domain_record_delete,
    domain_record_update,
)
from domains.services.registration import DnsRecordSpec, pubky_domain_register
from domains.services.scoring import sovereignty_score_calculate
from domains.services.usage import pubky_domain_usage_record
from families.models import Family, Visibility
from pubkyproject import policy
from pubkyproject.api.filters import IdField, ordering_field
from pubkyproject.api.schema import LIST, READ, WRITE, errors
from pubkyproject.api.throttles import AnonThrottle, PubkyNetworkThrottle, UserThrottle
from pubkyproject.api.views import ApiView

Action = policy.Action
NETWORK_THROTTLES = (AnonThrottle, UserThrottle, PubkyNetworkThrottle)
MAX_TTL = 2_147_483_647


def _domains() -> Any:
    return DomainRecord.objects.select_related("owner", "pubky_domain")


class _RecordFields(serializers.Serializer):
    name = serializers.CharField(
        max_length=253, default="@", help_text="Relative to the domain; `@` is the apex."
    )
    type = serializers.ChoiceField(choices=DnsRecordType.choices)
    value = serializers.CharField(
        max_length=DNS_RECORD_VALUE_MAX_LENGTH, help_text="DNS presentation format."
    )
    ttl = serializers.IntegerField(min_value=0, max_value=MAX_TTL, default=3600)


# --- domains -----------------------------------------------------------------------------------

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
        return self.output(self.OutputSerializer, self.readable(_domains(), pk=domain_id))

    @extend_schema(
        tags=["domains"],
        operation_id="domains_update",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(*WRITE, 409)},
    )
    def patch(self, request: Request, domain_id: int) -> Response:
        domain = self.readable(_domains(), pk=domain_id)
        self.require(Action.CHANGE, domain)
        data = self.parse(self.InputSerializer)
        domain_record_update(domain=domain, **data)
        return self.output(self.OutputSerializer, _domains().get(pk=domain.pk))

    @extend_schema(
        tags=["domains"],
        operation_id="domains_destroy",
        responses={204: None, **errors(*WRITE, 409)},
    )
    def delete(self, request: Request, domain_id: int) -> Response:
        domain = self.readable(_domains(), pk=domain_id)
        self.require(Action.CHANGE, domain)
        domain_record_delete(domain=domain)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- DNS records -------------------------------------------------------------------------------


class DnsRecordListApi(ApiView):
    class FilterSerializer(serializers.Serializer):
        type = serializers.ChoiceField(choices=DnsRecordType.choices, required=False)
        name = serializers.CharField(required=False, max_length=253)
        ordering = ordering_field("name", "type", "ttl", "created_at", default="name")

    class InputSerializer(_RecordFields):
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


# --- sovereignty scores ------------------------------------------------------------------------


class DomainScoreApi(ApiView):
    """The domain's sovereignty score now, with its five components and each rule explained."""

    OutputSerializer = CurrentScoreSerializer

    @extend_schema(
        tags=["scores"],
        operation_id="domain_score_retrieve",
        responses={200: OutputSerializer, **errors(*READ)},
    )
    def get(self, request: Request, domain_id: int) -> Response:
        domain = self.readable(DomainRecord.objects.all(), pk=domain_id)
        return self.output(self.OutputSerializer, current_score(domain=domain))


class DomainScoreRecalculateApi(ApiView):
    """Score the domain again from its stored facts now (those who may change it).

    A new history row is stored only when the result differs from the last one; the answer is
    the current, explained score either way, and a changed score is pushed live as usual.
    """

    OutputSerializer = CurrentScoreSerializer

    @extend_schema(
        tags=["scores"],
        operation_id="domain_score_recalculate",
        request=None,
        responses={200: OutputSerializer, **errors(*WRITE)},
    )
    def post(self, request: Request, domain_id: int) -> Response:
        domain = self.readable(DomainRecord.objects.all(), pk=domain_id)
        self.require(Action.CHANGE, domain, "You may not recalculate this domain's score.")
        sovereignty_score_calculate(domain=domain, reason="recalculated on request")
        return self.output(self.OutputSerializer, current_score(domain=domain))


class DomainScoreHistoryApi(ApiView):
    """Every stored calculation of the domain's score, newest first."""

    class FilterSerializer(serializers.Serializer):
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)

    OutputSerializer = ScoreHistorySerializer

    @extend_schema(
        tags=["scores"],
        operation_id="domain_score_history",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST, 404)},
    )
    def get(self, request: Request, domain_id: int) -> Response:
        domain = self.readable(DomainRecord.objects.all(), pk=domain_id)
        filters = self.query(self.FilterSerializer)
        return self.page(self.OutputSerializer, score_history_list(domain=domain, **filters))


# --- migrations --------------------------------------------------------------------------------


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
        migration = domain_migration_create(
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


# --- Pubky domains -----------------------------------------------------------------------------


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
        records = serializers.ListField(child=_RecordFields(), max_length=100, default=list)
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
        pubky_domain = pubky_domain_register(
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


class RelayStatusListApi(ApiView):
    """Health of every PKARR relay (as last checked by ``manage.py check_relays``)."""

    OutputSerializer = RelayStatusSerializer

    @extend_schema(
        tags=["pubky"],
        operation_id="relays_list",
        responses={200: OutputSerializer(many=True), **errors(401, 429)},
    )
    def get(self, request: Request) -> Response:
        return self.page(self.OutputSerializer, relay_statuses())


class RelayHistoryBucketSerializer(serializers.Serializer):
    """One bucket of :class:`RelayHistoryApi`: its probes and their latency percentiles."""

    start = serializers.DateTimeField()
    checks = serializers.IntegerField()
    up = serializers.IntegerField()
    uptime_percent = serializers.FloatField(allow_null=True)
    p50_ms = serializers.FloatField(allow_null=True)
    p95_ms = serializers.FloatField(allow_null=True)


class RelayHistoryRelaySerializer(serializers.Serializer):
    """One relay over the window of :class:`RelayHistoryApi`."""

    url = serializers.CharField()
    checks = serializers.IntegerField(help_text="Probes in the window.")
    up = serializers.IntegerField(help_text="Probes that found the relay up.")
    uptime_percent = serializers.FloatField(
        allow_null=True, help_text="100 * up / checks; null without probes."
    )
    p50_ms = serializers.FloatField(allow_null=True, help_text="Median latency (ms).")
    p95_ms = serializers.FloatField(allow_null=True, help_text="95th percentile (ms).")
    buckets = RelayHistoryBucketSerializer(many=True)


class RelayHistoryApi(ApiView):
    """Uptime and latency of every configured PKARR relay over the last hours.

    Uptime is the share of ``check_relays`` probes that found the relay up; p50/p95 are the
    latency percentiles of the successful probes. The window is cut into 24 buckets (oldest
    first; a bucket without probes is left out). Probes are kept ``PUBKY_RELAY_HISTORY_DAYS``.
    Readable by the same callers as the relay list.
    """

    class FilterSerializer(serializers.Serializer):
        hours = serializers.IntegerField(
            required=False,
            default=24,
            min_value=1,
            max_value=24 * 31,
            help_text="Length of the window ending now, in hours (default 24).",
        )

    class OutputSerializer(serializers.Serializer):
        since = serializers.DateTimeField()
        until = serializers.DateTimeField()
        bucket_seconds = serializers.IntegerField()
        relays = RelayHistoryRelaySerializer(many=True)

    @extend_schema(
        tags=["pubky"],
        operation_id="relays_history",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer, **errors(*LIST)},
    )
    def get(self, request: Request) -> Response:
        hours = self.query(self.FilterSerializer)["hours"]
        until = timezone.now()
        since = until - timedelta(hours=hours)
        bucket = timedelta(hours=hours) / 24
        relays = relay_history(since=since, until=until, bucket=bucket)
        body = {
            "since": since,
            "until": until,
            "bucket_seconds": int(bucket.total_seconds()),
            "relays": relays,
        }
        return self.output(self.OutputSerializer, body)
