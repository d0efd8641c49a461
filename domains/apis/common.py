"""What the domains API modules share: the record fields, throttles and base querysets."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from domains.models import DNS_RECORD_VALUE_MAX_LENGTH, DnsRecordType, DomainRecord
from pubkyproject.api.throttles import AnonThrottle, PubkyNetworkThrottle, UserThrottle

__all__ = ["MAX_TTL", "NETWORK_THROTTLES", "RecordFields", "domains_queryset"]

NETWORK_THROTTLES = (AnonThrottle, UserThrottle, PubkyNetworkThrottle)
MAX_TTL = 2_147_483_647


def domains_queryset() -> QuerySet[DomainRecord]:
    """Domains with what their output shows."""
    return DomainRecord.objects.select_related("owner", "pubky_domain")


# One DNS record as the API takes it (``type`` rather than ``rtype``). No docstring: it would
# become the schema's description. The schema has always named this component "_RecordFields";
# clients generated from it keep that name.
@extend_schema_serializer(component_name="_RecordFields")
class RecordFields(serializers.Serializer):
    name = serializers.CharField(
        max_length=253, default="@", help_text="Relative to the domain; `@` is the apex."
    )
    type = serializers.ChoiceField(choices=DnsRecordType.choices)
    value = serializers.CharField(
        max_length=DNS_RECORD_VALUE_MAX_LENGTH, help_text="DNS presentation format."
    )
    ttl = serializers.IntegerField(min_value=0, max_value=MAX_TTL, default=3600)
