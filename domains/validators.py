"""Domain name and DNS record validation, shared by models, services and the API."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain_name(value: str) -> str:
    """Lower-case, strip one trailing dot, and convert Unicode labels to IDNA (punycode)."""
    name = (value or "").strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii") if name else name
    except UnicodeError:
        raise ValidationError(
            "%(value)s is not a valid domain name.", code="invalid_domain", params={"value": value}
        ) from None


def validate_domain_name(value: str) -> None:
    """A registrable DNS name: 2+ labels of a-z, 0-9 and inner hyphens, at most 253 chars."""
    name = value or ""
    labels = name.split(".")
    if (
        not name
        or name != name.lower()
        or len(name) > 253
        or len(labels) < 2
        or not all(_LABEL_RE.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ValidationError(
            "%(value)s is not a valid domain name (lower-case labels of a-z, 0-9 and inner "
            "hyphens, at least two labels, at most 253 characters).",
            code="invalid_domain",
            params={"value": value},
        )


def validate_record_name(value: str) -> None:
    """A record name relative to its domain: '@' for the apex, else labels (``*`` first allowed)."""
    if value == "@":
        return
    labels = (value or "").split(".")
    for index, label in enumerate(labels):
        if label == "*" and index == 0:
            continue
        if not re.match(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$", label):
            raise ValidationError(
                "%(value)s is not a valid record name ('@' for the apex, or lower-case labels).",
                code="invalid_record_name",
                params={"value": value},
            )
