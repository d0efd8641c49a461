"""Routes of the realtime app's REST reads (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

import pubkyproject.api.converters  # noqa: F401  (registers <id:…>)
from realtime import apis

urlpatterns = [
    path(
        "domains/<id:domain_id>/activity/",
        apis.DomainActivityApi.as_view(),
        name="domain-activity",
    ),
]
