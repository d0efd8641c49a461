"""Catch raw-SQL writes to domains and their DNS records too, and keep the old row of updates.

The bridge (``manage.py pubky_listen``) tells a family's guardians what changed (a DNS record
added, a domain edited, a Pubky domain suspended, …), which needs the row as it was before an
update as well as before a delete. Django's own writes are still skipped (WHEN clause): they
notify through their signal receivers.
"""

from django.db import migrations

OUTSIDE_DJANGO = "coalesce(current_setting('application_name', true), '') NOT LIKE 'pubky-django%'"

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
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO realtime_db_changes (table_name, op, row_id, old_row, created_at)
        VALUES (TG_TABLE_NAME, TG_OP, NEW.id, to_jsonb(OLD), now());
    ELSE
        INSERT INTO realtime_db_changes (table_name, op, row_id, old_row, created_at)
        VALUES (TG_TABLE_NAME, TG_OP, NEW.id, NULL, now());
    END IF;
    PERFORM pg_notify('pubky_changes', '');
    RETURN NULL;
END;
$$;
"""

PREVIOUS_FUNCTION = """
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

TABLES = ("domain_records", "dns_records")


def _create(table: str) -> str:
    return (
        f"CREATE TRIGGER pubky_queue_change AFTER INSERT OR UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW WHEN ({OUTSIDE_DJANGO}) EXECUTE FUNCTION pubky_queue_change();"
    )


def _drop(table: str) -> str:
    return f"DROP TRIGGER IF EXISTS pubky_queue_change ON {table};"


class Migration(migrations.Migration):
    dependencies = [("realtime", "0004_trigger_when")]

    operations = [
        migrations.RunSQL(FUNCTION, PREVIOUS_FUNCTION),
        *(migrations.RunSQL(_create(t), _drop(t)) for t in TABLES),
    ]
