"""Who a log line is about: the request id, user id and socket id of what is running.

Each HTTP request gets an id (the proxy's ``X-Request-ID`` when it sent a sane one, else a new
one), answered in the ``X-Request-ID`` response header; each WebSocket connection gets a socket
id. Both live in context variables, so every log line written while the request or socket is
handled carries them, including lines from tasks the socket started. ``LOG_FORMAT=json``
(production's default) writes one JSON object per line; the plain format appends the ids.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from pubkyproject import heap, metrics

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[int | None] = ContextVar("user_id", default=None)
socket_id_var: ContextVar[str | None] = ContextVar("socket_id", default=None)
_request_var: ContextVar[HttpRequest | None] = ContextVar("request", default=None)

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# Attributes every LogRecord has; anything else a caller passed with ``extra=`` is logged too.
_RECORD_FIELDS = frozenset(
    set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)
    | {"message", "asctime", "context", "request_id", "user_id", "socket_id"}
)


def _user_id_of(request: HttpRequest | None) -> int | None:
    """The authenticated user's id, only if authentication already ran (never triggers it)."""
    if request is None:
        return None
    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)  # SimpleLazyObject from AuthenticationMiddleware
    if wrapped is None or type(wrapped).__name__ == "object":  # not evaluated yet
        return None
    if not getattr(wrapped, "is_authenticated", False):
        return None
    pk = getattr(wrapped, "pk", None)
    return pk if isinstance(pk, int) else None


def current_context() -> dict[str, Any]:
    """The ids of the request or socket being handled (only those that are set)."""
    user_id = user_id_var.get()
    if user_id is None:
        user_id = _user_id_of(_request_var.get())
    context = {
        "request_id": request_id_var.get(),
        "user_id": user_id,
        "socket_id": socket_id_var.get(),
    }
    return {key: value for key, value in context.items() if value is not None}


class ContextFilter(logging.Filter):
    """Puts the ids on every record (as attributes, and as `` key=value`` text for plain logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_context()
        for key, value in context.items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        record.context = "".join(f" {key}={value}" for key, value in context.items())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "user_id", "socket_id"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


def _request_id_from(request: HttpRequest) -> str:
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    return given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _route_of(request: HttpRequest) -> str:
    """The URL pattern that served the request (bounded label values), not the raw path."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        static = "/" + str(settings.STATIC_URL).lstrip("/")
        return "static" if request.path_info.startswith(static) else "unmatched"
    return "/" + str(match.route).lstrip("^").rstrip("$") if match.route else match.view_name


class RequestContextMiddleware:
    """Sets the request id for the logs, answers it in ``X-Request-ID`` and times the request."""

    sync_capable = True
    async_capable = True

    def __init__(
        self, get_response: Callable[[HttpRequest], Any]
    ) -> None:  # sync or async callable
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        request_id = _request_id_from(request)
        tokens = (request_id_var.set(request_id), _request_var.set(request))
        started = time.perf_counter()
        try:
            response: HttpResponseBase = self.get_response(request)
        finally:
            request_id_var.reset(tokens[0])
            _request_var.reset(tokens[1])
        self._finish(request, response, request_id, started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        request_id = _request_id_from(request)
        tokens = (request_id_var.set(request_id), _request_var.set(request))
        started = time.perf_counter()
        try:
            get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
            response = await get_response(request)
        finally:
            request_id_var.reset(tokens[0])
            _request_var.reset(tokens[1])
        self._finish(request, response, request_id, started)
        return response

    @staticmethod
    def _finish(
        request: HttpRequest, response: HttpResponseBase, request_id: str, started: float
    ) -> None:
        response["X-Request-ID"] = request_id
        metrics.observe_request(
            method=request.method or "GET",
            route=_route_of(request),
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )


@contextlib.contextmanager
def socket_context(scope: dict[str, Any]) -> Iterator[None]:
    """For one WebSocket connection: a socket id for the logs (also set as
    ``scope["socket_id"]``; the caller owns ``scope``), the user id once the token was checked
    (``scope["identity"]``), and the open-sockets gauge."""
    socket_id = uuid.uuid4().hex
    scope["socket_id"] = socket_id
    user = getattr(scope.get("identity"), "user", None)
    tokens = (socket_id_var.set(socket_id), user_id_var.set(getattr(user, "pk", None)))
    metrics.SOCKETS_OPEN.inc()
    metrics.SOCKETS_OPENED.inc()
    heap.sockets.opened += 1
    try:
        yield
    finally:
        heap.sockets.closed += 1
        metrics.SOCKETS_OPEN.dec()
        socket_id_var.reset(tokens[0])
        user_id_var.reset(tokens[1])
