"""Limits on what a request may carry, checked before anything reaches a view or the database.

* **Body size** — ``API_MAX_BODY_BYTES`` (default 1 MiB): a larger body answers **413**
  ``too_large``. Under ASGI :class:`pubkyproject.api.body_limit.BodyLimitMiddleware` refuses it
  before the body is buffered; the parsers refuse it again wherever the app is served.
* **JSON nesting** — ``API_MAX_JSON_DEPTH`` (default 32 levels of arrays/objects): a deeper
  body answers **400** ``parse_error``. The depth is measured by :func:`json_depth`, a scan
  without recursion, *before* the body is decoded, so ``[[[[…]]]]`` never reaches the
  (recursive) JSON decoder.
* **Characters** — no text in a body or a query string may contain control characters (NUL,
  the other C0 controls except tab, line feed and carriage return, DEL, the C1 controls) or
  unpaired UTF-16 surrogates (``"\\ud800"`` in JSON), which PostgreSQL cannot store:
  :func:`control_character_errors` names each offending field, and the API answers **400**
  with those field-level messages (``ApiView.parse`` and ``ApiView.query``).
* **Length** — every text field documents a ``maxLength``: single-line fields through their
  serializer, long text (descriptions, comments, record values) also through their model
  (``MaxLengthValidator`` and a database ``CHECK`` constraint).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import accumulate
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_JSON_DEPTH = 32

# What no text input may contain: C0 controls but tab/LF/CR, DEL, C1 controls, lone surrogates.
FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
CONTROL_CHARACTERS_MESSAGE = "Control characters (such as NUL) are not allowed."
CONTROL_CHARACTERS_CODE = "control_characters"


def max_body_bytes() -> int:
    return int(getattr(settings, "API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


def max_json_depth() -> int:
    return int(getattr(settings, "API_MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH))


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(detail=too_large_detail(limit))


def too_large_detail(limit: int) -> str:
    return f"The request body is larger than {limit} bytes."


# --- JSON nesting ------------------------------------------------------------------------------

# A complete JSON string (escapes included); what is left outside them is structure.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_DELTA = [0] * 256
_DELTA[ord("[")] = _DELTA[ord("{")] = 1
_DELTA[ord("]")] = _DELTA[ord("}")] = -1


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in the JSON document ``text`` (0 for a scalar).

    Exact for valid JSON; for invalid JSON (which the decoder refuses anyway) it may count
    brackets inside an unterminated string. Linear in ``len(text)``, with no recursion: the
    strings are cut out, the brackets left are turned into +1/-1 and summed in C.
    """
    structure = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    if not structure:
        return 0
    return max(0, max(accumulate(map(_DELTA.__getitem__, structure.encode("ascii")))))


# --- characters --------------------------------------------------------------------------------


def has_forbidden_characters(value: str) -> bool:
    return FORBIDDEN_CHARACTERS.search(value) is not None


def _error() -> list[ErrorDetail]:
    return [ErrorDetail(CONTROL_CHARACTERS_MESSAGE, code=CONTROL_CHARACTERS_CODE)]


def control_character_errors(data: Any) -> dict[str, Any]:
    """Field-level messages for every string in ``data`` with a forbidden character.

    ``data`` is a parsed body or query string (dicts, lists, ``QueryDict``). The messages
    follow DRF's shape: ``{"username": [msg]}``, ``{"records": {2: {"value": [msg]}}}`` for
    an item of a list; a bad *key* is reported under ``non_field_errors``. Empty when clean.
    The walk uses an explicit stack (no recursion), whatever the depth.
    """
    errors: dict[str, Any] = {}
    root: Any = {"": data}
    # (container to read, where its errors go)
    stack: list[tuple[Any, dict[Any, Any]]] = [(root, errors)]
    bad_key = False
    while stack:
        node, into = stack.pop()
        if hasattr(node, "lists") and callable(node.lists):
            # A QueryDict (query string, form body): a key is one field, whatever its values.
            for key, values in node.lists():
                if isinstance(key, str) and has_forbidden_characters(key):
                    bad_key = True
                elif any(isinstance(v, str) and has_forbidden_characters(v) for v in values):
                    into[key] = _error()
            continue
        items = node.items() if isinstance(node, Mapping) else enumerate(node)
        for key, value in items:
            if isinstance(key, str) and has_forbidden_characters(key):
                bad_key = True
                continue
            if isinstance(value, str):
                if has_forbidden_characters(value):
                    into[key] = _error()
            elif isinstance(value, (Mapping, list, tuple)):
                child: dict[Any, Any] = {}
                into[key] = child
                stack.append((value, child))
    _prune(errors)
    result: dict[str, Any] = errors.get("", {})
    if isinstance(result, list):  # the whole body is one bad string
        result = {"non_field_errors": result}
    if bad_key:
        result.setdefault("non_field_errors", []).append(
            ErrorDetail(
                "Field names may not contain control characters.", code=CONTROL_CHARACTERS_CODE
            )
        )
    return result


def _prune(errors: dict[Any, Any]) -> bool:
    """Drop empty branches (iteratively, deepest first); True when ``errors`` ends up empty."""
    order: list[dict[Any, Any]] = []
    stack = [errors]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(value for value in node.values() if isinstance(value, dict))
    for node in reversed(order):
        for key in [k for k, v in node.items() if isinstance(v, dict) and not v]:
            del node[key]
    return not errors
