"""Pagination for every list: ``limit``/``offset`` with a hard cap."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.settings import api_settings


class Pagination(LimitOffsetPagination):
    """``?limit=&offset=``; the default page is ``PAGE_SIZE`` (settings), at most 200 rows."""

    max_limit = 200

    @property
    def default_limit(self) -> int | None:  # type: ignore[override]
        # Read at request time so settings overrides (tests, environments) take effect.
        return api_settings.PAGE_SIZE
