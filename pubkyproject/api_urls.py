"""Every API route lives under /api/; each app contributes its own urls module."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt

from pubkyproject.api.auth import LogoutApi, TokenObtainApi, TokenRefreshApi, TokenVerifyApi


@csrf_exempt  # a POST to an unknown route is a 404, not a CSRF failure
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Unknown API routes (and ids that are not numbers) answer 404 in the API's error format."""
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


urlpatterns = [
    path("auth/token/", TokenObtainApi.as_view(), name="token_obtain_pair"),
    path("auth/token/refresh/", TokenRefreshApi.as_view(), name="token_refresh"),
    path("auth/token/verify/", TokenVerifyApi.as_view(), name="token_verify"),
    path("auth/logout/", LogoutApi.as_view(), name="logout"),
    path("", include("families.urls")),
    path("", include("domains.urls")),
    path("", include("guardians.urls")),
    path("", include("realtime.api_urls")),
    re_path(r"^(?P<path>.*)$", not_found),
]
