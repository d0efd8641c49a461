"""Properties of the request limits (hypothesis): the nesting scan, the parser, the text check.

No database: these check the functions every request goes through, over generated JSON
documents and arbitrary text.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError
from rest_framework.test import APIRequestFactory

from pubkyproject.api.limits import (
    FORBIDDEN_CHARACTERS,
    RequestTooLarge,
    control_character_errors,
    json_depth,
)
from pubkyproject.api.parsers import BoundedJSONParser

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=40,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    return 0


def _without_control_characters(value: Any) -> Any:
    if isinstance(value, str):
        return FORBIDDEN_CHARACTERS.sub("", value)
    if isinstance(value, list):
        return [_without_control_characters(item) for item in value]
    if isinstance(value, dict):
        return {
            _without_control_characters(key): _without_control_characters(item)
            for key, item in value.items()
        }
    return value


def _parse(body: bytes) -> Any:
    request = APIRequestFactory().post("/", body, content_type="application/json")
    context = {"request": request, "encoding": "utf-8"}
    return BoundedJSONParser().parse(io.BytesIO(body), "application/json", context)


@given(documents, st.booleans())
def test_the_nesting_scan_measures_what_the_decoder_would_build(value: Any, ascii: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii)
    assert json_depth(text) == _depth(value)


@given(documents)
def test_a_document_within_the_depth_limit_parses_to_itself(value: Any) -> None:
    body = json.dumps(value).encode()
    if _depth(value) <= 32:
        assert _parse(body) == value
    else:
        with pytest.raises(ParseError):
            _parse(body)


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from('[]{}",:\\ 0a\x00\ud800'), max_size=300))
def test_any_text_parses_or_is_a_parse_error_never_a_crash(text: str) -> None:
    try:
        _parse(text.encode("utf-8", "surrogatepass"))
    except ParseError:
        pass


@given(st.integers(min_value=33, max_value=100_000), st.sampled_from(["[", '{"a":']))
def test_any_depth_beyond_the_limit_is_a_parse_error(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    with pytest.raises(ParseError, match="nested deeper than 32 levels"):
        _parse((opener * depth + "1" + closer * depth).encode())


def test_a_body_past_the_size_limit_is_refused_while_reading(settings: Any) -> None:
    settings.API_MAX_BODY_BYTES = 2048
    with pytest.raises(RequestTooLarge):
        _parse(b'"' + b"x" * 4096 + b'"')


@given(documents)
def test_text_without_control_characters_has_no_errors(value: Any) -> None:
    clean = _without_control_characters(value)
    assert control_character_errors({"field": clean}) == {}


@given(
    st.text(max_size=20),
    st.characters(codec=None, categories=["Cc", "Cs"]).filter(lambda c: c not in "\t\n\r"),
    st.text(max_size=20),
    st.integers(min_value=0, max_value=5),
)
def test_a_control_character_at_any_depth_is_reported_on_its_path(
    before: str, bad: str, after: str, depth: int
) -> None:
    value: Any = before + bad + after
    expected: Any = ["Control characters (such as NUL) are not allowed."]
    for level in range(depth):
        if level % 2:
            value, expected = [value], {0: expected}
        else:
            value, expected = {"inner": value}, {"inner": expected}
    errors = control_character_errors({"field": value, "other": "fine"})
    assert errors == {"field": expected}
