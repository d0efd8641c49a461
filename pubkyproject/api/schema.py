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
    to a field under ``non_field_errors``; a body that cannot be read (not JSON, nested deeper
    than ``API_MAX_JSON_DEPTH``) gets ``detail`` and ``code`` (``parse_error``)."""

    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)
    detail = serializers.CharField(required=False)
    code = serializers.CharField(required=False)


_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input: field-level messages.",
    401: "Not authenticated, or the access token is invalid or expired.",
    403: "The caller may see this object but not do this to it.",
    404: "No such object, or the caller may not see it.",
    409: "The object's current state does not allow this (see `code`).",
    413: "The request body is larger than `API_MAX_BODY_BYTES` (`code`: `too_large`).",
    429: "Too many requests; retry after the `Retry-After` header's seconds.",
    502: "A Pubky relay, homeserver or DNS resolver failed (see `code`).",
    503: "A backing service (Redis) is unreachable; nothing was changed, retry.",
}

READ = (401, 404, 429)
LIST = (400, 401, 429)
WRITE = (400, 401, 403, 404, 429)


def errors(*codes: int) -> dict[int, Any]:
    """The documented error responses, e.g. ``responses={200: Out, **errors(*WRITE, 409)}``.

    Wherever input is validated (400), a body over the size limit (413) is documented too.
    """
    responses: dict[int, Any] = {}
    wanted = set(codes) | ({413} if 400 in codes else set())
    for code in sorted(wanted):
        body = ValidationErrorSerializer if code == 400 else ErrorSerializer
        responses[code] = OpenApiResponse(response=body, description=_DESCRIPTIONS[code])
    return responses
