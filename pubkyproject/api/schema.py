"""OpenAPI building blocks: the error bodies and the documented error responses of a view."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema_serializer
from rest_framework import serializers


@extend_schema_serializer(component_name="Error")
class ErrorSerializer(serializers.Serializer):
    """Every error except validation errors."""

    detail = serializers.CharField()
    code = serializers.CharField(required=False)


@extend_schema_serializer(component_name="ValidationError")
class ValidationErrorSerializer(serializers.Serializer):
    """400: one list of messages per invalid field (nested for lists of objects), errors not tied
    to a field under ``non_field_errors``; a body that is not valid JSON gets ``detail``."""

    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)
    detail = serializers.CharField(required=False)


_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input: field-level messages.",
    401: "Not authenticated, or the access token is invalid or expired.",
    403: "The caller may see this object but not do this to it.",
    404: "No such object, or the caller may not see it.",
    409: "The object's current state does not allow this (see `code`).",
    429: "Too many requests; retry after the `Retry-After` header's seconds.",
    502: "A Pubky relay, homeserver or DNS resolver failed (see `code`).",
    503: "A backing service (Redis) is unreachable; nothing was changed, retry.",
}

READ = (401, 404, 429)
LIST = (400, 401, 429)
WRITE = (400, 401, 403, 404, 429)


def errors(*codes: int) -> dict[int, Any]:
    """The documented error responses, e.g. ``responses={200: Out, **errors(*WRITE, 409)}``."""
    responses: dict[int, Any] = {}
    for code in sorted(set(codes)):
        body = ValidationErrorSerializer if code == 400 else ErrorSerializer
        responses[code] = OpenApiResponse(response=body, description=_DESCRIPTIONS[code])
    return responses
