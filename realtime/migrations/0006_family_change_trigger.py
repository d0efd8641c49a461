"""Catch raw-SQL writes to families too: a family's own key rotated or proven outside Django
reaches its guardians through the bridge, as the same change made through the ORM does."""

from django.db import migrations

OUTSIDE_DJANGO = "coalesce(current_setting('application_name', true), '') NOT LIKE 'pubky-django%'"

CREATE = (
    "CREATE TRIGGER pubky_queue_change AFTER UPDATE ON families "
    f"FOR EACH ROW WHEN ({OUTSIDE_DJANGO}) EXECUTE FUNCTION pubky_queue_change();"
)
DROP = "DROP TRIGGER IF EXISTS pubky_queue_change ON families;"


class Migration(migrations.Migration):
    dependencies = [
        ("realtime", "0005_domain_change_triggers"),
        ("families", "0003_key_proofs_and_verified_identities"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
