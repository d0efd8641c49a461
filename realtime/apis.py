"""The realtime app's REST reads: a domain's activity over time (events, resolves, publishes)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from domains.models import DomainRecord
from pubkyproject.api.filters import HoursWindowFilter
from pubkyproject.api.schema import LIST, errors
from pubkyproject.api.views import ApiView
from realtime.activity import domain_activity


class DomainActivityBucketSerializer(serializers.Serializer):
    """One bucket of :class:`DomainActivityApi`."""

    start = serializers.DateTimeField()
    events = serializers.IntegerField()
    resolves = serializers.IntegerField()
    publishes = serializers.IntegerField()
    republishes = serializers.IntegerField()
    failures = serializers.IntegerField()


class DomainActivityApi(ApiView):
    """What happened to a domain over the last hours, in about 24 buckets of whole hours.

    ``events`` counts the live events of the domain's own topics (score, Pubky domain,
    migrations) and reaches back only to ``events_since`` (how long the outbox keeps them);
    ``resolves``, ``publishes`` and ``republishes`` (the hourly keep-alive) are the uses of its
    Pubky domain, ``failures`` those of them that found or stored nothing. Buckets without
    activity are left out. Readable by whoever may read the domain.
    """

    FilterSerializer = HoursWindowFilter

    class OutputSerializer(serializers.Serializer):
        domain_id = serializers.IntegerField()
        since = serializers.DateTimeField()
        until = serializers.DateTimeField()
        bucket_seconds = serializers.IntegerField()
        events_since = serializers.DateTimeField(
            help_text="Events older than this are no longer kept (the counts start here)."
        )
        totals = serializers.DictField(child=serializers.IntegerField())
        buckets = DomainActivityBucketSerializer(many=True)

    @extend_schema(
        tags=["scores"],
        operation_id="domain_activity",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer, **errors(*LIST, 404)},
    )
    def get(self, request: Request, domain_id: int) -> Response:
        domain = self.readable(DomainRecord.objects.all(), pk=domain_id)
        hours = self.query(self.FilterSerializer)["hours"]
        return self.output(self.OutputSerializer, domain_activity(domain=domain, hours=hours))
