"""Admin actions through the changelist, as a logged-in staff user, against the real testnet.

The Pubky testnet, the loopback DNS server and the settings pointing at them are the domain
services' fixtures (``tests/domains/conftest.py``); ``admin`` adds staff users and a helper
that posts an action to a changelist and returns what the next page says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from families.models import User
from tests.domains.conftest import (  # noqa: F401 (fixtures)
    _dns_server,
    dns_server,
    make_testnet,
    pubky_settings,
    testnet,
    use_testnet,
)
from tests.factories import UserFactory

#: What a staff user may browse in these tests: Django's view permissions on the models the
#: actions live on (the family admin asks the access policy instead).
VIEW_PERMISSIONS = (
    "view_domainrecord",
    "view_pubkydomain",
    "view_domainmigration",
    "view_federationguardian",
)


def staff_user(username: str, *, superuser: bool = False) -> User:
    user = cast(User, UserFactory(username=username, is_staff=True, is_superuser=superuser))
    user.user_permissions.add(*Permission.objects.filter(codename__in=VIEW_PERMISSIONS))
    return user


@dataclass
class ActionResult:
    status_code: int
    messages: list[str]
    html: str

    def text(self) -> str:
        return "\n".join(self.messages)


class AdminBrowser:
    """A staff user's browser on the admin (a real session, logged in with a password)."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.client = Client()
        assert self.client.login(username=user.username, password="pw")

    def changelist(self, model: type[Model]) -> str:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    def act(
        self, action: str, objects: Iterable[Model], *, follow: bool = True, **fields: Any
    ) -> ActionResult:
        """POST ``action`` on ``objects`` to their changelist, as the action menu does."""
        objects = list(objects)
        assert objects
        data: dict[str, Any] = {
            "action": action,
            "_selected_action": [str(obj.pk) for obj in objects],
            **fields,
        }
        response = self.client.post(self.changelist(type(objects[0])), data, follow=follow)
        context = response.context
        messages = (
            [str(m) for m in context["messages"]] if context and "messages" in context else []
        )
        return ActionResult(response.status_code, messages, response.content.decode())

    def actions_offered(self, model: type[Model]) -> str:
        return self.client.get(self.changelist(model)).content.decode()


@pytest.fixture
def browse(db: None) -> Any:
    def login(user: User) -> AdminBrowser:
        return AdminBrowser(user)

    return login
