"""Sovereignty scores: the score now (explained) and every stored calculation."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from domains.api_selectors import current_score, score_history_list
from domains.models import DomainRecord
from domains.serializers import CurrentScoreSerializer, ScoreHistorySerializer
from domains.services.scoring import calculate_sovereignty_score
from pubkyproject import policy
from pubkyproject.api.schema import LIST, READ, WRITE, errors
from pubkyproject.api.views import ApiView


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
        self.require(policy.Action.CHANGE, domain, "You may not recalculate this domain's score.")
        calculate_sovereignty_score(domain=domain, reason="recalculated on request")
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
