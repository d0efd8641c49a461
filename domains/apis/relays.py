"""The health of the PKARR relays."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from domains.api_selectors import relay_statuses
from domains.history_selectors import relay_history
from domains.serializers import RelayStatusSerializer
from pubkyproject.api.filters import HoursWindowFilter
from pubkyproject.api.schema import LIST, errors
from pubkyproject.api.views import ApiView


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

    FilterSerializer = HoursWindowFilter

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
