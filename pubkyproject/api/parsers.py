"""Request parsers with limits (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``).

Each reads at most ``API_MAX_BODY_BYTES`` (413 ``too_large`` beyond), and the JSON parser
refuses a document nested deeper than ``API_MAX_JSON_DEPTH`` with 400 ``parse_error`` before
decoding it (see :mod:`pubkyproject.api.limits`): Python's JSON decoder recurses once per
level, so 50,000 levels of ``[[[…]]]`` would otherwise end in a ``RecursionError``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

from pubkyproject.api.limits import RequestTooLarge, json_depth, max_body_bytes, max_json_depth


def _declared_length(parser_context: Mapping[str, Any] | None) -> int | None:
    request = (parser_context or {}).get("request")
    meta = getattr(request, "META", None) or {}
    try:
        return int(meta.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        return None


def _text_encoding(parser_context: Mapping[str, Any]) -> str:
    """The request's charset, if it is a text encoding (as DRF's parsers check it)."""
    encoding = str(parser_context.get("encoding") or settings.DEFAULT_CHARSET)
    try:
        "".encode(encoding)  # refuses bytes-to-bytes codecs such as bz2_codec
    except (LookupError, UnicodeError):
        raise ParseError(
            f'Unsupported charset "{encoding}" in request Content-Type header.'
        ) from None
    return encoding


def read_bounded(stream: IO[bytes], parser_context: Mapping[str, Any] | None) -> bytes:
    """The whole body, or :class:`RequestTooLarge` once it passes ``API_MAX_BODY_BYTES``."""
    limit = max_body_bytes()
    declared = _declared_length(parser_context)
    if declared is not None and declared > limit:
        raise RequestTooLarge(limit)
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise RequestTooLarge(limit)
    return body


class BoundedJSONParser(parsers.JSONParser):
    """JSON with a size and a nesting limit."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        context = dict(parser_context or {})
        encoding = _text_encoding(context)
        body = read_bounded(stream, context)
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        limit = max_json_depth()
        if json_depth(text) > limit:
            raise ParseError(f"JSON parse error - nested deeper than {limit} levels.")
        parse_constant = json.strict_constant if self.strict else None
        try:
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


class BoundedFormParser(parsers.FormParser):
    """URL-encoded forms, at most ``API_MAX_BODY_BYTES``."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        body = read_bounded(stream, parser_context)
        return super().parse(io.BytesIO(body), media_type, parser_context)


class BoundedMultiPartParser(parsers.MultiPartParser):
    """Multipart forms, refused when their declared length passes ``API_MAX_BODY_BYTES``.

    (Django's multipart parser reads no more than ``CONTENT_LENGTH``, and the fields it keeps
    in memory are bounded by ``DATA_UPLOAD_MAX_MEMORY_SIZE``, set to the same limit.)
    """

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = max_body_bytes()
        declared = _declared_length(parser_context)
        if declared is not None and declared > limit:
            raise RequestTooLarge(limit)
        return super().parse(stream, media_type, parser_context)
