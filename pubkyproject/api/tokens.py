"""simplejwt's token serializers with the API's input limits (``SIMPLE_JWT["TOKEN_*_SERIALIZER"]``).

The token endpoints are simplejwt's views, which do not go through ``ApiView.parse``; these
serializers give them the same checks: a documented ``maxLength`` on every field and a 400 on
the field for control characters (a lone surrogate in a username would otherwise reach the
database driver, which cannot encode it).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework_simplejwt.serializers import (
    PasswordField,
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
    TokenVerifySerializer,
)

from pubkyproject.api.fields import USERNAME_MAX_LENGTH
from pubkyproject.api.limits import control_character_errors

# A token this service signs is a few hundred characters; this leaves room for any claim set.
TOKEN_MAX_LENGTH = 4096
PASSWORD_MAX_LENGTH = 4096


class _RefusesControlCharacters(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        errors = control_character_errors(data)
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class BoundedTokenObtainPairSerializer(_RefusesControlCharacters, TokenObtainPairSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = serializers.CharField(
            write_only=True, max_length=USERNAME_MAX_LENGTH
        )
        self.fields["password"] = PasswordField(max_length=PASSWORD_MAX_LENGTH)


class BoundedTokenRefreshSerializer(_RefusesControlCharacters, TokenRefreshSerializer):
    refresh = serializers.CharField(max_length=TOKEN_MAX_LENGTH)


class BoundedTokenVerifySerializer(_RefusesControlCharacters, TokenVerifySerializer):
    token = serializers.CharField(write_only=True, max_length=TOKEN_MAX_LENGTH)
