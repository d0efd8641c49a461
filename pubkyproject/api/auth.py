"""JWT endpoints: obtain (throttled, failures audited), refresh (rotating), verify, logout.

Access tokens are short-lived (``SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]``); refreshing returns a
new refresh token and blacklists the old one. Each sign-in is a session (its id, the ``sid``
claim, is in every token rotated or minted from it: ``pubkyproject.api.sessions``); logout ends
it: the refresh token is blacklisted, the session's access tokens are refused from then on and
its open WebSockets are closed with 4401. The WebSocket API accepts the same access tokens.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, Token
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView, TokenVerifyView

from pubkyproject import security_port
from pubkyproject.api.client import client_ip
from pubkyproject.api.exceptions import exception_handler
from pubkyproject.api.schema import errors
from pubkyproject.api.sessions import (
    SESSION_CLAIM,
    RevocationUnavailable,
    end_session,
    new_session_id,
    session_of,
)
from pubkyproject.api.throttles import AnonThrottle, LoginThrottle
from pubkyproject.api.tokens import TOKEN_MAX_LENGTH, BoundedTokenObtainPairSerializer
from pubkyproject.api.views import ApiView


@extend_schema_serializer(component_name="TokenPair")
class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Short-lived access token: `Authorization: Bearer …`")
    refresh = serializers.CharField(help_text="Refresh token (rotates on every refresh).")


@extend_schema_serializer(component_name="RefreshTokenInput")
class RefreshTokenSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=TOKEN_MAX_LENGTH)


@extend_schema_serializer(component_name="TokenVerified")
class EmptySerializer(serializers.Serializer):
    pass


class SessionTokenObtainSerializer(BoundedTokenObtainPairSerializer):
    """Username and password in (bounded, no control characters), a token pair out: the start
    of a new session."""

    @classmethod
    def get_token(cls, user: Any) -> Token:
        token = super().get_token(user)
        token[SESSION_CLAIM] = new_session_id()
        # simplejwt recorded the outstanding refresh token before the session id was added:
        # store the token as issued (ending every session of a user reads the id from here).
        OutstandingToken.objects.filter(jti=token["jti"]).update(token=str(token))
        return token


class ServiceUnavailable(drf_exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The session could not be ended right now; try again."
    default_code = "unavailable"


class _TokenViewMixin:
    def get_exception_handler(self) -> Any:
        return exception_handler


class TokenObtainApi(_TokenViewMixin, TokenObtainPairView):
    """Exchange a username and password for an access and a refresh token."""

    throttle_classes = (LoginThrottle,)
    serializer_class = SessionTokenObtainSerializer

    def claimed_username(self) -> str:
        """Who the failed attempt claimed to be, for the ``login_failed`` security event."""
        data: Any = getattr(self.request, "data", None)
        value = data.get("username", "") if hasattr(data, "get") else ""
        return str(value)[:150] if value else "?"

    @extend_schema(
        tags=["auth"],
        operation_id="auth_token_obtain",
        auth=[],
        responses={200: TokenPairSerializer, **errors(400, 401, 429)},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        user = getattr(serializer, "user", None)
        security_port.record(
            kind=security_port.LOGIN_SUCCEEDED,
            user=user if isinstance(user, AbstractBaseUser) else None,
            ip_address=client_ip(request),
            target=f"{request.method} {request.path}",
            detail={"method": "password"},
        )
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


class TokenRefreshApi(_TokenViewMixin, TokenRefreshView):
    """A new access token (and a new refresh token: the old one is blacklisted)."""

    throttle_classes = (AnonThrottle,)

    @extend_schema(
        tags=["auth"],
        operation_id="auth_token_refresh",
        auth=[],
        request=RefreshTokenSerializer,
        responses={200: TokenPairSerializer, **errors(400, 401, 429)},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class TokenVerifyApi(_TokenViewMixin, TokenVerifyView):
    """Check that a token is valid (signature, expiry, not blacklisted)."""

    throttle_classes = (AnonThrottle,)

    @extend_schema(
        tags=["auth"],
        operation_id="auth_token_verify",
        auth=[],
        responses={200: EmptySerializer, **errors(400, 401, 429)},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class LogoutApi(ApiView):
    """End the session of a refresh token: it can no longer be refreshed, the session's access
    tokens are refused from now on and its WebSockets are closed (4401).

    No access token is needed (it may already have expired): the refresh token is the proof.
    Answers 503 (and ends nothing) if the session denylist cannot be written; retry.
    """

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = (AnonThrottle,)

    InputSerializer = RefreshTokenSerializer

    def get_authenticate_header(self, request: Request) -> str:
        # Without authenticators DRF would turn a refused token into 403; it is a 401.
        return 'Bearer realm="api"'

    @extend_schema(
        tags=["auth"],
        operation_id="auth_logout",
        auth=[],
        request=RefreshTokenSerializer,
        responses={204: None, **errors(400, 401, 429, 503)},
    )
    def post(self, request: Request) -> Response:
        data = self.parse(self.InputSerializer)
        try:
            refresh = RefreshToken(data["refresh"])
            user_id = int(refresh["user_id"])
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidToken("the token names no user") from exc
        try:
            # Denylist first: if Redis is unreachable nothing ends, and the client can retry
            # with the same (not yet blacklisted) refresh token.
            end_session(user_id=user_id, session_id=session_of(refresh.payload))
        except RevocationUnavailable as exc:
            raise ServiceUnavailable() from exc
        security_port.record(
            kind=security_port.LOGOUT,
            user=get_user_model()._default_manager.filter(pk=user_id).first(),
            ip_address=client_ip(request),
            target=f"{request.method} {request.path}",
            detail={"refresh_token_jti": str(refresh.payload.get("jti", ""))},
        )
        try:
            refresh.blacklist()
        except TokenError as exc:  # pragma: no cover - checked when the token was read
            raise InvalidToken(exc.args[0]) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)
