"""One world per module: built once, in a transaction that stays open until the module is done.

Many tests start from the same rows (a family with one person per role, their domains, …). A
module marked ``shared_world`` builds them once inside a transaction; each test still runs in its
own savepoint inside it (pytest-django's ``db``) and gets a deep copy of the objects, so what a
test changes is gone before the next one starts, as if it had built its own world.

Only for modules whose tests never commit (the open transaction would swallow the commit) and do
not read PostgreSQL's clock: ``now()`` in SQL is the start of the open transaction, not of the
test.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.db import transaction

T = TypeVar("T")


def commits(item: pytest.Item) -> bool:
    """Whether the test ``item`` commits to the database (transactional, live server)."""
    marker = item.get_closest_marker("django_db")
    if marker is not None and (
        marker.kwargs.get("transaction") or marker.kwargs.get("serialized_rollback")
    ):
        return True
    names = getattr(item, "fixturenames", ())
    return bool({"transactional_db", "live_server", "django_db_reset_sequences"} & set(names))


def module_world(
    request: pytest.FixtureRequest, django_db_blocker: Any, build: Callable[[], T]
) -> Iterator[T | None]:
    """The body of a module-scoped, autouse fixture: ``build()`` once for a ``shared_world`` module.

    Autouse, so that its transaction opens before the first test's own (``db``) and encloses it,
    whichever test of the module comes first. Yields None in a module without the marker.
    """
    module = request.node
    if module.get_closest_marker("shared_world") is None:
        yield None
        return
    committing = [i.name for i in request.session.items if i.module is module.obj and commits(i)]
    if committing:
        raise pytest.UsageError(
            f"{module.name} is marked shared_world but {committing[0]} commits; the open "
            "transaction of the shared world would swallow its commits"
        )
    request.getfixturevalue("django_db_setup")
    with django_db_blocker.unblock(), transaction.atomic():
        yield build()
        transaction.set_rollback(True)


def world_for_test(shared: T | None, build: Callable[[], T]) -> T:
    """This test's world: a deep copy of the module's, or a new one where the module has none."""
    if shared is None:
        return build()
    return copy.deepcopy(shared)  # what a test sets on an object stays in its copy
