"""Every API route lives under /api/; each app contributes its own urls module."""

from __future__ import annotations

from django.urls import include, path

from pubkyproject.api.auth import LogoutApi, TokenObtainApi, TokenRefreshApi, TokenVerifyApi

urlpatterns = [
    path("auth/token/", TokenObtainApi.as_view(), name="token_obtain_pair"),
    path("auth/token/refresh/", TokenRefreshApi.as_view(), name="token_refresh"),
    path("auth/token/verify/", TokenVerifyApi.as_view(), name="token_verify"),
    path("auth/logout/", LogoutApi.as_view(), name="logout"),
    path("", include("families.urls")),
    path("", include("domains.urls")),
    path("", include("guardians.urls")),
]
