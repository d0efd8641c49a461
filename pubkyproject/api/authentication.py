"""REST authentication: simplejwt's bearer tokens, minus those of sessions that were ended."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication as _JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.tokens import Token

from pubkyproject.api.sessions import is_revoked


class JWTAuthentication(_JWTAuthentication):
    """A valid access token whose session was ended (logout, password change, deactivation)
    is refused like an expired one: 401 ``token_not_valid``."""

    def get_validated_token(self, raw_token: bytes) -> Token:
        token = super().get_validated_token(raw_token)
        if is_revoked(token.payload):
            raise InvalidToken("the session of this token has ended")
        return token


class SessionJWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme (``jwtAuth``, bearer) for the class above."""

    target_class = "pubkyproject.api.authentication.JWTAuthentication"
