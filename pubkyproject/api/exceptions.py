"""One error format for the whole API, and the security events errors leave behind.

Every error answer (4xx and 5xx) is a JSON object of one of two shapes:

* ``{"detail": "<message>", "code": "<stable code>"}`` — every error that is not about
  particular fields: 401, 403, 404, 405, 409, 413 (``too_large``), 415, 429, 502, 500, and a
  400 for a body that cannot be read (``parse_error``: not JSON, nested too deeply, …);
* ``{"<field>": ["<message>", …], …}`` — 400 for invalid input: one list of messages per
  field, nested for items of lists (``{"records": {"2": {"value": [...]}}}``), messages not tied
  to a field under ``non_field_errors``. A control character in any text answers this way.

Nothing answers with an HTML page, not even with ``DEBUG`` on: an unexpected exception in a
view is logged with its traceback (and signalled like Django does, so test clients re-raise
it) and answers 500 ``{"detail": "Server error.", "code": "server_error"}``.

* Validation errors (DRF's or Django's ``ValidationError`` raised by a service's
  ``full_clean()``) answer **400** with one list of messages per field
  (``non_field_errors`` for the rest).
* The services' typed errors (:class:`~pubkyproject.pubky_client.PubkyServiceError`) answer with
  their stable ``code``: **400** for bad input, **502** when a relay, homeserver or DNS resolver
  failed, **409** for everything else (a state that does not allow the step).
* A database constraint lost to a concurrent request answers **409** rather than 500.
* Every 403 is recorded as an ``access_denied`` security event and every 429 as
  ``rate_limited``, with the caller, their address and the request.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import got_request_exception
from django.db import IntegrityError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from pubkyproject import security_port
from pubkyproject.api.client import client_ip
from pubkyproject.api.limits import RequestTooLarge, max_body_bytes
from pubkyproject.pubky_client import InvalidPubkyKey, PubkyNetworkError, PubkyServiceError

logger = logging.getLogger("pubkyproject.api")

BAD_INPUT_CODES = frozenset({"packet_too_large", "invalid_dns_record", "invalid_public_key"})
UPSTREAM_CODES = frozenset({"dns_lookup_failed"})


class ServiceError(exceptions.APIException):
    """A service's typed error, shown with its stable code."""

    def __init__(self, exc: PubkyServiceError) -> None:
        if isinstance(exc, InvalidPubkyKey) or exc.code in BAD_INPUT_CODES:
            self.status_code = status.HTTP_400_BAD_REQUEST
        elif isinstance(exc, PubkyNetworkError) or exc.code in UPSTREAM_CODES:
            self.status_code = status.HTTP_502_BAD_GATEWAY
        else:
            self.status_code = status.HTTP_409_CONFLICT
        super().__init__(detail=str(exc), code=exc.code)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state; try again."
    default_code = "conflict"


def _validation_detail(exc: DjangoValidationError) -> Any:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": exc.messages}


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(_validation_detail(exc))
    if isinstance(exc, PubkyServiceError):
        return ServiceError(exc)
    if isinstance(exc, IntegrityError):
        return Conflict()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    # Django's own request limits, met while a form body is parsed (too many fields, …).
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge(max_body_bytes())
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError(str(exc))
    return exc


def _record(kind: str, context: dict[str, Any], detail: dict[str, Any], username: str = "") -> None:
    request = context.get("request")
    if request is None:
        return
    user = getattr(request, "user", None)
    view = context.get("view")
    security_port.record(
        kind=kind,
        user=user if isinstance(user, AbstractBaseUser) else None,
        username=username,
        ip_address=client_ip(request),
        target=f"{request.method} {request.path}",
        detail={"view": type(view).__name__ if view is not None else "", **detail},
    )


def _reason(exc: exceptions.APIException) -> str:
    detail = exc.detail
    if isinstance(detail, dict):
        return str(detail.get("detail", ""))
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, after translating service errors and recording security events."""
    exc = _translate(exc)
    if isinstance(exc, exceptions.PermissionDenied):
        _record(security_port.ACCESS_DENIED, context, {"reason": str(exc.detail)})
    elif isinstance(exc, exceptions.Throttled):
        _record(security_port.RATE_LIMITED, context, {"wait": getattr(exc, "wait", None)})
    elif isinstance(exc, exceptions.AuthenticationFailed):
        # The token endpoint says what the caller claimed to be; elsewhere a bad bearer token.
        view = context.get("view")
        claimed = getattr(view, "claimed_username", lambda: "")()
        kind = security_port.LOGIN_FAILED if claimed else security_port.TOKEN_INVALID
        _record(kind, context, {"reason": _reason(exc)}, username=claimed)
    response = drf_exception_handler(exc, context)
    if response is None:
        return _server_error(exc, context)
    if isinstance(response.data, list):  # ValidationError("message"): not tied to a field
        response.data = {"non_field_errors": response.data}
    if isinstance(response.data, dict) and "detail" in response.data:
        code = getattr(exc, "get_codes", lambda: None)()
        if not isinstance(code, str):
            code = str(response.data.get("code") or getattr(exc, "default_code", "error"))
        response.data["code"] = code
    return response


def _server_error(exc: Exception, context: dict[str, Any]) -> Response:
    """500 in the error format (never Django's debug page), logged like Django logs one."""
    request = context.get("request")
    django_request = getattr(request, "_request", request)
    logger.error(
        "Internal Server Error: %s",
        getattr(django_request, "path", "?"),
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    got_request_exception.send(sender=None, request=django_request)
    return Response(
        {"detail": "Server error.", "code": "server_error"},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
