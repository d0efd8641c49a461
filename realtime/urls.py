"""The dashboard page and its own files (mounted at the site root by ``pubkyproject.urls``)."""

from __future__ import annotations

from django.urls import path, re_path

from realtime.views import dashboard, dashboard_asset

urlpatterns = [
    path("", dashboard, name="dashboard"),
    # The same URLs as `{% static "dashboard/…" %}`: served here when no proxy serves /static/.
    re_path(r"^static/dashboard/(?P<name>[A-Za-z0-9_-]+\.[a-z]+)$", dashboard_asset),
]
