"""What the family's guardians were told, and marking it read."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from families.models import Family
from guardians.api_selectors import notifications_list
from guardians.models import GuardianNotification
from guardians.serializers import NotificationSerializer
from guardians.services import guardian_notification_mark_read
from pubkyproject.api.schema import LIST, WRITE, errors
from pubkyproject.api.views import ApiView


class NotificationListApi(ApiView):
    """What the family's guardians were told (approval requests, relay outages, …)."""

    class FilterSerializer(serializers.Serializer):
        unread = serializers.BooleanField(required=False)
        kind = serializers.CharField(required=False, max_length=64)

    OutputSerializer = NotificationSerializer

    @extend_schema(
        tags=["guardians"],
        operation_id="notifications_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **errors(*LIST, 404)},
    )
    def get(self, request: Request, family_id: int) -> Response:
        family = self.readable(Family.objects.all(), pk=family_id)
        filters = self.query(self.FilterSerializer)
        notifications = notifications_list(who=self.principal, family=family, **filters)
        return self.page(self.OutputSerializer, notifications)


class NotificationReadApi(ApiView):
    OutputSerializer = NotificationSerializer

    @extend_schema(
        tags=["guardians"],
        operation_id="notifications_mark_read",
        request=None,
        responses={200: OutputSerializer, **errors(*WRITE)},
    )
    def post(self, request: Request, notification_id: int) -> Response:
        notification = self.readable(GuardianNotification.objects.all(), pk=notification_id)
        notification = guardian_notification_mark_read(user=self.user, notification=notification)
        return self.output(self.OutputSerializer, notification)
