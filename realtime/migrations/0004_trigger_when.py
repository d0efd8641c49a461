"""Skip Django's own writes in the trigger's WHEN clause instead of inside the function.

An AFTER ROW trigger whose function returns early still queues an event per row and calls
PL/pgSQL for it at the end of the statement; a WHEN clause is evaluated as the row is written
and queues nothing when it is false. Bulk writes from Django (``COPY`` of 100,000 scores) no
longer pay for a trigger call per row. The function keeps its own check as a second guard.
"""

from django.db import migrations

TABLES = (
    "pubky_domains",
    "pkarr_records",
    "domain_migrations",
    "sovereignty_scores",
    "relay_statuses",
    "federation_guardians",
    "guardian_notifications",
)

OUTSIDE_DJANGO = "coalesce(current_setting('application_name', true), '') NOT LIKE 'pubky-django%'"


def _create(table: str, *, when: bool) -> str:
    condition = f"WHEN ({OUTSIDE_DJANGO}) " if when else ""
    return (
        f"DROP TRIGGER IF EXISTS pubky_queue_change ON {table}; "
        f"CREATE TRIGGER pubky_queue_change AFTER INSERT OR UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW {condition}EXECUTE FUNCTION pubky_queue_change();"
    )


class Migration(migrations.Migration):
    dependencies = [("realtime", "0003_notify_triggers")]

    operations = [migrations.RunSQL(_create(t, when=True), _create(t, when=False)) for t in TABLES]
