"""Long text columns with a maximum length, kept in the model and in the database.

A free-text column (a family's description, a DNS record's value, a guardian's comment) stays
a PostgreSQL ``text`` column, so adding a limit never rewrites or truncates a stored value. The
limit is held three times: the API's serializers (``maxLength`` in the schema), the model
(``MaxLengthValidator``, so every service's ``full_clean()`` and the admin refuse a longer
value with a field error) and a ``CHECK`` constraint, so no other writer can store one.

:class:`AddLengthConstraint` adds that constraint without ever failing or losing data: when
rows stored before the limit are longer, it adds the constraint ``NOT VALID`` (PostgreSQL then
checks every new or changed row but leaves those rows as they are), prints them, and leaves
them for their owners to shorten; once they are, ``ALTER TABLE … VALIDATE CONSTRAINT …``
makes the constraint whole. Such a row keeps being readable; saving it again needs a value
within the limit (a 400 on that field through the API).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import migrations, models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils.deconstruct import deconstructible


def bounded_text_field(
    max_length: int, *, validators: Sequence[Callable[[Any], None]] = (), **kwargs: Any
) -> models.TextField:
    """A ``TextField`` of at most ``max_length`` characters (validated, and in forms/the API)."""
    return models.TextField(
        max_length=max_length,
        validators=[MaxLengthValidator(max_length), *validators],
        **kwargs,
    )


@deconstructible
class MaxBytesValidator:
    """At most ``limit`` bytes of UTF-8: for a value that is part of a unique index (a B-tree
    entry holds about 2,700 bytes; four-byte characters would pass a character limit)."""

    code = "max_bytes"

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, value: Any) -> None:
        size = len(str(value).encode("utf-8", "surrogatepass"))
        if size > self.limit:
            raise ValidationError(
                f"Ensure this value has at most {self.limit} bytes in UTF-8 (it has {size}).",
                code=self.code,
            )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MaxBytesValidator) and other.limit == self.limit

    def __hash__(self) -> int:
        return hash(self.limit)


def text_length_constraint(field: str, max_length: int, name: str) -> models.CheckConstraint:
    """``CHECK (char_length(field) <= max_length)``; add it with :class:`AddLengthConstraint`."""
    return models.CheckConstraint(
        condition=LessThanOrEqual(Length(field), max_length),
        name=name,
        violation_error_message=f"Ensure {field} has at most {max_length} characters.",
    )


class AddLengthConstraint(migrations.AddConstraint):
    """``AddConstraint`` for a length ``CHECK`` that keeps rows stored before the limit."""

    model_name: str
    constraint: models.CheckConstraint

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        condition = self.constraint.condition
        longer = list(
            model._default_manager.using(schema_editor.connection.alias)
            .exclude(condition)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not longer:
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        check = self.constraint._get_check_sql(model, schema_editor)  # type: ignore[attr-defined]
        table = schema_editor.quote_name(model._meta.db_table)
        name = schema_editor.quote_name(self.constraint.name)
        schema_editor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check}) NOT VALID"
        )
        ids = ", ".join(str(pk) for pk in longer[:50]) + (" …" if len(longer) > 50 else "")
        sys.stdout.write(
            f"\n  {model._meta.label}: {len(longer)} row(s) stored before the limit are longer "
            f"({self.constraint.name}); kept unchanged, constraint added NOT VALID. ids: {ids}\n"
        )

    def describe(self) -> str:
        return f"Add length constraint {self.constraint.name} on model {self.model_name}"
