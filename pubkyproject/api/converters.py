"""``<id:name>`` in API routes: a primary key within PostgreSQL's bigint range.

Larger numbers would reach the database and fail there; with this converter they simply do not
match a route (404).
"""

from __future__ import annotations

from django.urls import register_converter


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")
