"""Small, explicit query-parameter parsing for list endpoints.

Each list API nests a ``FilterSerializer``: its fields are the documented query parameters,
and invalid values answer 400 with field-level messages (never a 500 from the database:
``ApiView.query`` refuses control characters in any parameter, every text parameter has a
``max_length``, and :class:`IdField` stays in PostgreSQL's bigint range).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

MAX_ID = 2**63 - 1


class IdField(serializers.IntegerField):
    """A primary key: positive and within bigint range."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


def ordering_field(*names: str, default: str) -> serializers.ChoiceField:
    """``?ordering=name`` or ``?ordering=-name`` for each of ``names``."""
    choices = [choice for name in names for choice in (name, f"-{name}")]
    return serializers.ChoiceField(
        choices=choices,
        required=False,
        default=default,
        help_text="Sort by this field; prefix with `-` for descending order.",
    )


class HoursWindowFilter(serializers.Serializer):
    """``?hours=N``: a window of whole hours ending now (1 to 31 days; 24 by default), for the
    history endpoints."""

    hours = serializers.IntegerField(
        required=False,
        default=24,
        min_value=1,
        max_value=24 * 31,
        help_text="Length of the window ending now, in hours (default 24).",
    )
