"""The health of the PKARR relays."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from domains.api_selectors import relay_statuses
from domains.serializers import RelayStatusSerializer
from pubkyproject.api.schema import errors
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
