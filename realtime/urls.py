"""The dashboard page (mounted at the site root by ``pubkyproject.urls``).

Its files under ``/static/dashboard/`` are served by WhiteNoise with the rest of the static files.
"""

from __future__ import annotations

from django.urls import path

from realtime.views import dashboard

urlpatterns = [
    path("", dashboard, name="dashboard"),
]
