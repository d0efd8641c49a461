"""The length limits of long text hold in PostgreSQL, and adding them never loses a row.

The migrations that added the limits run here again, on real PostgreSQL, over a table that
already holds a longer value: the value stays as it was, the constraint is added ``NOT
VALID`` (so it holds for every new or changed row) and the rows are reported.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.loader import MigrationLoader

from domains.models import DNS_RECORD_VALUE_MAX_LENGTH, DnsRecord
from families.models import FAMILY_DESCRIPTION_MAX_LENGTH, Family
from guardians.models import APPROVAL_COMMENT_MAX_LENGTH, GuardianApproval
from pubkyproject.text_limits import AddLengthConstraint
from tests.api.conftest import client_for
from tests.factories import DnsRecordFactory, DomainFactory, FamilyFactory

pytestmark = pytest.mark.django_db

LIMITS = [
    (Family, "description", FAMILY_DESCRIPTION_MAX_LENGTH, "family_description_length"),
    (DnsRecord, "value", DNS_RECORD_VALUE_MAX_LENGTH, "dns_value_length"),
    (GuardianApproval, "comment", APPROVAL_COMMENT_MAX_LENGTH, "approval_comment_length"),
]


def _operation(app_label: str, name: str) -> tuple[Any, AddLengthConstraint]:
    """The migration (on disk, whatever its number) that adds constraint ``name``."""
    loader = MigrationLoader(connection)
    for (label, _), migration in loader.disk_migrations.items():
        for operation in migration.operations:
            if (
                label == app_label
                and isinstance(operation, AddLengthConstraint)
                and operation.constraint.name == name
            ):
                return loader, (migration, operation)  # type: ignore[return-value]
    raise AssertionError(f"no migration adds {name}")


def _run_again(app_label: str, name: str) -> None:
    """Drop constraint ``name`` (if there) and run the operation that adds it, as ``migrate``
    would."""
    loader, (migration, operation) = _operation(app_label, name)
    table = {"families": "families", "domains": "dns_records"}[app_label]
    with connection.cursor() as cursor:
        # Rows this test inserted leave deferred foreign-key checks pending; run them first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{name}"')
    to_state = loader.project_state((app_label, migration.name))
    from_state = to_state.clone()
    from_state.models[app_label, operation.model_name].options["constraints"] = [
        c
        for c in from_state.models[app_label, operation.model_name].options["constraints"]
        if c.name != name
    ]
    with connection.schema_editor(atomic=True) as editor:
        operation.database_forwards(app_label, editor, from_state, to_state)


def _constraint_is_valid(name: str) -> bool | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT convalidated FROM pg_constraint WHERE conname = %s", [name])
        row = cursor.fetchone()
    return None if row is None else bool(row[0])


@pytest.mark.parametrize(("model", "field", "limit", "name"), LIMITS)
def test_each_limit_is_a_valid_check_constraint_in_postgresql(
    model: Any, field: str, limit: int, name: str
) -> None:
    assert _constraint_is_valid(name) is True
    assert model._meta.get_field(field).max_length == limit


def test_postgresql_refuses_an_over_long_value_written_around_the_model() -> None:
    family = FamilyFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Family.objects.filter(pk=family.pk).update(
            description="x" * (FAMILY_DESCRIPTION_MAX_LENGTH + 1)
        )
    record = DnsRecordFactory(domain=DomainFactory(family=family), rtype="TXT", value="v")
    with pytest.raises(IntegrityError), transaction.atomic():
        DnsRecord.objects.filter(pk=record.pk).update(value="v" * (DNS_RECORD_VALUE_MAX_LENGTH + 1))


def test_the_model_refuses_an_over_long_value_with_a_field_error() -> None:
    family = FamilyFactory()
    family.description = "x" * (FAMILY_DESCRIPTION_MAX_LENGTH + 1)
    with pytest.raises(ValidationError) as refused:
        family.full_clean()
    assert set(refused.value.message_dict) == {"description"}


def test_the_migration_keeps_longer_rows_and_adds_the_constraint_not_valid(capsys) -> None:
    old = FamilyFactory(name="Old")
    fine = FamilyFactory(name="Fine", description="short")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute('ALTER TABLE "families" DROP CONSTRAINT "family_description_length"')
    long_text = "ancient " * 1000  # 8,000 characters, stored before the limit existed
    Family.objects.filter(pk=old.pk).update(description=long_text)

    _run_again("families", "family_description_length")

    old.refresh_from_db()
    assert old.description == long_text  # nothing truncated, nothing lost
    assert _constraint_is_valid("family_description_length") is False
    report = capsys.readouterr().out
    assert "families.Family: 1 row(s)" in report
    assert f"ids: {old.pk}" in report
    # The constraint holds for every new or changed row all the same.
    with pytest.raises(IntegrityError), transaction.atomic():
        Family.objects.filter(pk=fine.pk).update(description=long_text)
    fine.refresh_from_db()
    assert fine.description == "short"
    # Changing such a row through the API asks for a shorter description, it does not fail.
    owner = client_for(old.owner)
    renamed = owner.patch(f"/api/families/{old.pk}/", {"name": "Renamed"}, format="json")
    assert renamed.status_code == 400
    assert list(renamed.json()) == ["description"]
    shortened = owner.patch(
        f"/api/families/{old.pk}/", {"description": long_text[:100]}, format="json"
    )
    assert shortened.status_code == 200


def test_the_migration_adds_a_valid_constraint_when_every_row_fits() -> None:
    FamilyFactory(description="d" * FAMILY_DESCRIPTION_MAX_LENGTH)
    _run_again("families", "family_description_length")
    assert _constraint_is_valid("family_description_length") is True
