"""Scores follow their facts: a durable rescore queue filled by triggers on every fact table.

(Also: migrations can be cancelled and remember the step that failed, so it can be retried;
a Pubky domain records the homeserver its key has an account on.)

Unlike the NOTIFY bridge's triggers (realtime/migrations), these fire for Django's own writes
too: a bulk ``update()`` bypasses ``post_save``, so the database is the one place that sees
every change. ``domains.services.rescoring`` documents which domains each table queues and how
the queue is drained. Whole-row comparisons (``to_jsonb(OLD) - 'column'``) leave out the
columns a rescore itself writes, so a rescore never queues another, and name no column a
later migration could drop.
"""

import django.db.models.functions.datetime
from django.db import migrations, models

import families.validators

STATES = [
    ("pending", "Pending"),
    ("verifying", "Verifying ownership"),
    ("verified", "Verified"),
    ("publishing", "Publishing"),
    ("completed", "Completed"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("rolled_back", "Rolled back"),
]

REQUEST_FUNCTION = """
CREATE OR REPLACE FUNCTION pubky_rescore_request(domain_ids bigint[], why text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF domain_ids IS NULL OR cardinality(domain_ids) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO domain_rescore_queue (domain_id, reason, requested_at)
    SELECT DISTINCT d, left(coalesce(why, ''), 63), now()
      FROM unnest(domain_ids) AS d
     WHERE d IS NOT NULL;
    PERFORM pg_notify('pubky_rescore', '');
END;
$$;
"""

# TG_ARGV[0] says how a row of the table maps to domains.
TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION pubky_rescore_on_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    kind text := TG_ARGV[0];
    changed jsonb[] := ARRAY[]::jsonb[];
    ids bigint[];
BEGIN
    IF TG_OP <> 'DELETE' THEN
        changed := changed || to_jsonb(NEW);
    END IF;
    IF TG_OP <> 'INSERT' THEN
        changed := changed || to_jsonb(OLD);
    END IF;
    IF kind = 'domain' THEN
        SELECT array_agg(DISTINCT (r ->> 'id')::bigint) INTO ids FROM unnest(changed) AS r;
    ELSIF kind = 'domain_id' THEN
        SELECT array_agg(DISTINCT (r ->> 'domain_id')::bigint) INTO ids FROM unnest(changed) AS r;
    ELSIF kind = 'pubky_domain_id' THEN
        SELECT array_agg(DISTINCT p.domain_id) INTO ids
          FROM pubky_domains p
         WHERE p.id IN (SELECT (r ->> 'pubky_domain_id')::bigint FROM unnest(changed) AS r);
    ELSIF kind = 'family_id' THEN
        SELECT array_agg(d.id) INTO ids
          FROM domain_records d
         WHERE d.family_id IN (SELECT (r ->> 'family_id')::bigint FROM unnest(changed) AS r);
    ELSIF kind = 'family' THEN
        SELECT array_agg(d.id) INTO ids
          FROM domain_records d
         WHERE d.family_id IN (SELECT (r ->> 'id')::bigint FROM unnest(changed) AS r);
    ELSIF kind = 'relay_url' THEN
        SELECT array_agg(DISTINCT p.domain_id) INTO ids
          FROM pkarr_records k JOIN pubky_domains p ON p.id = k.pubky_domain_id
         WHERE k.relay_url IN (SELECT r ->> 'url' FROM unnest(changed) AS r);
    ELSE
        RAISE EXCEPTION 'pubky_rescore_on_change: unknown mapping %', kind;
    END IF;
    PERFORM pubky_rescore_request(ids, TG_TABLE_NAME);
    RETURN NULL;
END;
$$;
"""


def _differs(ignored: tuple[str, ...]) -> str:
    """A WHEN condition: the row changed in a column other than ``ignored``."""
    drop = "".join(f" - '{column}'" for column in ignored)
    return f"(to_jsonb(OLD){drop}) IS DISTINCT FROM (to_jsonb(NEW){drop})"


# table: (mapping, columns whose change alone is no fact change, row-level insert/delete too)
TABLES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "domain_records": ("domain", ("sovereignty_score", "updated_at"), True),
    "dns_records": ("domain_id", ("updated_at",), True),
    "pubky_domains": ("domain_id", ("updated_at",), True),
    "pkarr_records": ("pubky_domain_id", (), True),
    "domain_migrations": ("domain_id", ("updated_at",), True),
    "federation_guardians": ("family_id", ("updated_at",), True),
    "families": ("family", ("updated_at",), False),
    # Only whether a relay is up is a fact; its latency changes on every check.
    "relay_statuses": ("relay_url", (), False),
}


def _create(table: str) -> str:
    kind, ignored, inserts_and_deletes = TABLES[table]
    when = _differs(ignored)
    if table == "relay_statuses":
        when = "(to_jsonb(OLD) -> 'is_up') IS DISTINCT FROM (to_jsonb(NEW) -> 'is_up')"
    sql = (
        f"CREATE TRIGGER pubky_rescore_update AFTER UPDATE ON {table} FOR EACH ROW "
        f"WHEN ({when}) EXECUTE FUNCTION pubky_rescore_on_change('{kind}');"
    )
    if inserts_and_deletes:
        sql += (
            f" CREATE TRIGGER pubky_rescore_insert_delete AFTER INSERT OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION pubky_rescore_on_change('{kind}');"
        )
    return sql


def _drop(table: str) -> str:
    return (
        f"DROP TRIGGER IF EXISTS pubky_rescore_update ON {table}; "
        f"DROP TRIGGER IF EXISTS pubky_rescore_insert_delete ON {table};"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0006_verified_keys_and_facts"),
        ("families", "0003_key_proofs_and_verified_identities"),
        ("guardians", "0003_verified_backups"),
    ]

    operations = [
        migrations.CreateModel(
            name="RescoreRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("domain_id", models.BigIntegerField()),
                ("reason", models.CharField(blank=True, db_default="", max_length=63)),
                (
                    "requested_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
            ],
            options={
                "db_table": "domain_rescore_queue",
                "ordering": ["id"],
                "indexes": [
                    models.Index(fields=["domain_id"], name="rescore_queue_domain"),
                    models.Index(fields=["requested_at"], name="rescore_queue_due"),
                ],
            },
        ),
        migrations.AddField(
            model_name="pubkydomain",
            name="homeserver_key",
            field=models.CharField(
                blank=True,
                db_default="",
                help_text="The homeserver the domain's key has its account on; its packet's "
                "_pubky record points there, so pubky://<key>/… resolves.",
                max_length=52,
                validators=[families.validators.validate_public_key],
            ),
        ),
        migrations.AddField(
            model_name="domainmigration",
            name="failed_step",
            field=models.CharField(
                blank=True,
                db_default="",
                choices=STATES,
                help_text="The state the migration was in when it failed (where a retry resumes).",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="domainmigration",
            name="state",
            field=models.CharField(choices=STATES, default="pending", max_length=16),
        ),
        migrations.RunSQL(REQUEST_FUNCTION, "DROP FUNCTION IF EXISTS pubky_rescore_request;"),
        migrations.RunSQL(
            TRIGGER_FUNCTION, "DROP FUNCTION IF EXISTS pubky_rescore_on_change() CASCADE;"
        ),
        *(migrations.RunSQL(_create(table), _drop(table)) for table in TABLES),
    ]
