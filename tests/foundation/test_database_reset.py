"""After a test that commits, the tables are empty and the content types are the same rows."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.test import TransactionTestCase

from families.models import Family, User
from tests import database_reset
from tests.factories import DomainFactory


@pytest.mark.django_db(transaction=True)
def test_truncating_empties_every_table_but_content_types_and_permissions() -> None:
    types = dict(ContentType.objects.values_list("id", "model"))
    permissions = set(Permission.objects.values_list("id", flat=True))
    assert types and permissions  # made by the migrations
    DomainFactory()
    assert Family.objects.exists() and User.objects.exists() and LogEntry.objects.exists()

    database_reset.truncate_test_data("default")

    assert not Family.objects.exists()
    assert not User.objects.exists()
    assert not LogEntry.objects.exists()
    assert dict(ContentType.objects.values_list("id", "model")) == types
    assert set(Permission.objects.values_list("id", flat=True)) == permissions


def test_tests_that_commit_are_cleaned_up_this_way() -> None:
    teardown = TransactionTestCase._fixture_teardown
    assert teardown is database_reset._fixture_teardown  # type: ignore[comparison-overlap]
