"""Serializer fields shared by the APIs' input serializers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

USERNAME_MAX_LENGTH = 150  # django.contrib.auth's username column


@extend_schema_field({"type": "string", "maxLength": USERNAME_MAX_LENGTH})
class UsernameField(serializers.SlugRelatedField):
    """An active user, named by username; a name longer than any username is refused as such
    (before a lookup), so the schema documents its ``maxLength`` like every text field."""

    default_error_messages = {
        **serializers.SlugRelatedField.default_error_messages,
        "max_length": f"Ensure this field has no more than {USERNAME_MAX_LENGTH} characters.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("slug_field", "username")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and len(data) > USERNAME_MAX_LENGTH:
            self.fail("max_length")
        return super().to_internal_value(data)
