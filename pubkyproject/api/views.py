"""The base of every API view: caller's principal, audit actor, 404/403 from the policy, pages.

* ``principal`` — what the policy knows about the caller, loaded once per request.
* After DRF authenticated the request (JWT or session), the caller becomes django-auditlog's
  actor for every change the request makes: ``AuditlogMiddleware`` runs before DRF
  authentication, so on its own it sees an anonymous user for bearer-token calls.
* :meth:`ApiView.readable` fetches an object through ``policy.scope``: a missing object and
  one the caller may not read answer the same 404, so nobody learns what exists in other
  families. :meth:`ApiView.require` answers 403 (recorded as ``access_denied``) when the caller
  may read the object but not act on it.
* Nested ``InputSerializer``/``OutputSerializer``/``FilterSerializer`` classes get OpenAPI
  component names from their view (``FamilyListApi`` → ``FamilyListOutput``), so the many
  nested classes of the same name never collide in the schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from auditlog.context import set_actor
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from pubkyproject import policy, security_port
from pubkyproject.api.client import client_ip
from pubkyproject.api.exceptions import exception_handler
from pubkyproject.api.limits import control_character_errors
from pubkyproject.api.pagination import Pagination
from pubkyproject.api.permissions import ReadOrAuthenticated
from pubkyproject.api.throttles import AnonThrottle, UserThrottle

if TYPE_CHECKING:
    # The configured user model (AUTH_USER_MODEL) as the type checker sees it; no app imported.
    from django.contrib.auth.models import _User

M = TypeVar("M", bound=Model)

_NESTED = {"InputSerializer": "Input", "OutputSerializer": "Output"}


def refuse_control_characters(data: Any) -> None:
    """400 naming every field of ``data`` (a body or query string) with a control character."""
    errors = control_character_errors(data)
    if errors:
        raise ValidationError(errors)


class ApiView(APIView):
    permission_classes: Sequence[type[BasePermission]] = (ReadOrAuthenticated,)
    throttle_classes: Sequence[type[BaseThrottle]] = (AnonThrottle, UserThrottle)
    pagination_class = Pagination

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        base = cls.__name__.removesuffix("Api")
        for attr, suffix in _NESTED.items():
            nested = cls.__dict__.get(attr)
            # Only classes written inside this view: shared serializers keep their own names.
            if nested is not None and nested.__qualname__ == f"{cls.__qualname__}.{attr}":
                extend_schema_serializer(component_name=f"{base}{suffix}")(nested)

    def get_exception_handler(self) -> Any:
        return exception_handler

    # --- request lifecycle ---

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with ExitStack() as stack:
            self._request_context = stack
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        user = request.user
        if isinstance(user, AbstractBaseUser) and user.is_authenticated:
            self._request_context.enter_context(set_actor(user, remote_addr=client_ip(request)))
            # Security events written deep inside services (a key opened to sign) name the user.
            self._request_context.enter_context(security_port.acting_as(user))

    @cached_property
    def principal(self) -> policy.Principal:
        return policy.principal_for(self.request.user)

    @property
    def user(self) -> _User:
        """The authenticated caller (only for views that require authentication)."""
        user = self.request.user
        assert isinstance(user, get_user_model())
        return user

    # --- the policy ---

    def readable(self, queryset: QuerySet[M], **lookup: Any) -> M:
        """The object matching ``lookup`` if it exists and the caller may read it, else 404."""
        try:
            return policy.scope(self.principal, queryset).get(**lookup)
        except ObjectDoesNotExist:
            name = queryset.model._meta.verbose_name
            raise NotFound(f"No {name} matches the given query.") from None

    def require(self, action: policy.Action, obj: Model, message: str = "") -> None:
        """403 (401 for anonymous callers) unless the policy lets the caller do ``action``."""
        if not policy.can(self.principal, action, obj):
            name = obj._meta.verbose_name
            self.permission_denied(
                self.request, message=message or f"You may not {action.value} this {name}."
            )

    def not_found(self, message: str) -> NoReturn:
        raise NotFound(message)

    # --- input and output ---

    def serializer_context(self) -> dict[str, Any]:
        return {"request": self.request, "view": self, "principal": self.principal}

    def parse(self, serializer_class: type[serializers.Serializer], **kwargs: Any) -> Any:
        """Validated request body (400 with field-level messages otherwise).

        Text with control characters is refused before any field sees it
        (:func:`~pubkyproject.api.limits.control_character_errors`): no serializer field, not
        even a lookup by username, passes such a value to the database.
        """
        refuse_control_characters(self.request.data)
        serializer = serializer_class(
            data=self.request.data, context=self.serializer_context(), **kwargs
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def query(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        """Validated query parameters (400 with field-level messages otherwise)."""
        refuse_control_characters(self.request.query_params)
        # A plain dict: with a QueryDict DRF would read an absent boolean as false (HTML forms).
        serializer = serializer_class(data=self.request.query_params.dict())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def output(
        self, serializer_class: type[serializers.Serializer], instance: Any, status: int = 200
    ) -> Response:
        data = serializer_class(instance, context=self.serializer_context()).data
        return Response(data, status=status)

    def page(
        self,
        serializer_class: type[serializers.Serializer],
        queryset: QuerySet[Any] | Sequence[Any],
    ) -> Response:
        """One page of ``queryset`` (``limit``/``offset``), with ``count``/``next``/``previous``."""
        paginator = self.pagination_class()
        # Lists paginate as well as querysets (DRF's stubs only name querysets).
        rows = paginator.paginate_queryset(queryset, self.request, view=self)  # type: ignore[arg-type]
        data = serializer_class(rows, many=True, context=self.serializer_context()).data
        return paginator.get_paginated_response(data)
