"""How a test that commits leaves the database: empty, except what migrations made for good.

Django empties the database after each test that commits (``TransactionTestCase``) with the
``flush`` command: it truncates every table, content types and permissions included, then sends
``post_migrate`` so that every app creates its content types and permissions again. That second
half was most of the cost of such a test's teardown (about 0.17 s of 0.25). Here the tables are
truncated in one statement as before, except the content types and permissions: migrations made
those, no test changes them, and their ids then stay the same for the whole run (so the content
type cache never points at a row that was deleted and made again under another id).
"""

from __future__ import annotations

from django.core.management.color import no_style
from django.db import connections, transaction
from django.test import TransactionTestCase

#: Rows that migrations create and tests only read.
KEPT_TABLES = frozenset({"django_content_type", "auth_permission"})


def truncate_test_data(using: str) -> None:
    """Empty every model table of the database ``using`` but :data:`KEPT_TABLES`."""
    connection = connections[using]
    tables = [
        table
        for table in connection.introspection.django_table_names(
            only_existing=True, include_views=False
        )
        if table not in KEPT_TABLES
    ]
    statements = connection.ops.sql_flush(no_style(), tables, reset_sequences=False)
    atomic = transaction.atomic(using=using, savepoint=connection.features.can_rollback_ddl)
    with atomic, connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _fixture_teardown(self: TransactionTestCase) -> None:
    for db_name in self._databases_names(include_mirrors=False):
        truncate_test_data(db_name)


def install() -> None:
    """Use :func:`truncate_test_data` after every test that commits (from ``tests/conftest.py``)."""
    TransactionTestCase._fixture_teardown = _fixture_teardown  # type: ignore[method-assign]
