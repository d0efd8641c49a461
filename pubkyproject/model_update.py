"""One way to change a model's editable fields from a service.

Every "update" service (a family's settings, a domain, a DNS record, a guardian) does the same
thing: refuse fields that are not editable, lock the row, set the values, validate, save the
row. It lives here once; the services add what is particular to them
(rescoring, dropping votes, ...) around it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


class NotEditable(ValueError):
    """The caller asked to change a field the service does not allow to change."""


def model_update(
    *,
    instance: M,
    fields: Iterable[str],
    data: Mapping[str, Any],
    clean: Callable[[M], object] | None = None,
) -> tuple[M, bool]:
    """Apply ``data`` to a locked copy of ``instance``; return it and whether anything changed.

    Must run inside a transaction (the row is locked with ``SELECT ... FOR UPDATE``). Fields
    outside ``fields`` raise :class:`NotEditable` before anything is read. ``clean`` replaces
    ``full_clean()`` when the model needs more checking than its own validators (whatever it
    returns is ignored).
    """
    editable = set(fields)
    unknown = set(data) - editable
    if unknown:
        raise NotEditable(f"not editable: {', '.join(sorted(unknown))}")
    manager = type(instance)._default_manager
    locked: M = manager.select_for_update().get(pk=instance.pk)
    changed = [name for name, value in data.items() if getattr(locked, name) != value]
    for name in changed:
        setattr(locked, name, data[name])
    if clean is not None:
        clean(locked)
    else:
        locked.full_clean()
    # A whole-row save, even when nothing changed: auto_now columns move and the post_save
    # receivers (live events, guardian notices) see every field, as for any other save.
    locked.save()
    return locked, bool(changed)
