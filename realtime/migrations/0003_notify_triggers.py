"""Triggers that catch writes to the Pubky tables made outside Django (README, "Live updates").

Writes whose session ``application_name`` starts with ``pubky-django`` (every Django process:
see DATABASE_APPLICATION_NAME) are skipped: Django publishes those itself through its signal
receivers, so a change made through Django is published once, never twice.
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

FUNCTION = """
CREATE OR REPLACE FUNCTION pubky_queue_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('application_name', true), '') LIKE 'pubky-django%' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO realtime_db_changes (table_name, op, row_id, old_row, created_at)
        VALUES (TG_TABLE_NAME, TG_OP, OLD.id, to_jsonb(OLD), now());
    ELSE
        INSERT INTO realtime_db_changes (table_name, op, row_id, old_row, created_at)
        VALUES (TG_TABLE_NAME, TG_OP, NEW.id, NULL, now());
    END IF;
    PERFORM pg_notify('pubky_changes', '');
    RETURN NULL;
END;
$$;
"""


def _create(table: str) -> str:
    return (
        f"CREATE TRIGGER pubky_queue_change AFTER INSERT OR UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION pubky_queue_change();"
    )


def _drop(table: str) -> str:
    return f"DROP TRIGGER IF EXISTS pubky_queue_change ON {table};"


class Migration(migrations.Migration):
    dependencies = [
        ("realtime", "0002_db_changes"),
        ("domains", "0002_initial"),
        ("guardians", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION IF EXISTS pubky_queue_change() CASCADE;"),
        *(migrations.RunSQL(_create(t), _drop(t)) for t in TABLES),
    ]
