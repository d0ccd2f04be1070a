"""The rule set's version token, and the triggers that change it (see RuleSetVersion).

PostgreSQL: one statement-level trigger per table, BEFORE the statement, so a writer waits for
the version row before it locks any row of its own (two writers cannot deadlock over it).
SQLite: row-level triggers (the only kind it has); its single writer rules out deadlocks.
Other databases get no triggers, and `rules.cached_rules` does not cache on them.
"""

from django.db import migrations, models

# Every table whose rows `rules.evaluation` reads for a checkout.
WATCHED_TABLES = (
    "rules_paymentrule",
    "rules_paymentrule_websites",
    "rules_paymentrule_customer_groups",
    "rules_paymentrulemethod",
    "rules_paymentruledestination",
    "integrations_paymentmethod",
    "integrations_integration",
)

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION rules_change_rule_set_version() RETURNS trigger AS $$
BEGIN
    INSERT INTO rules_rulesetversion (id, token) VALUES (1, md5(random()::text || clock_timestamp()::text))
    ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
POSTGRES_TRIGGER = """
CREATE TRIGGER {table}_changes_rule_set BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
FOR EACH STATEMENT EXECUTE FUNCTION rules_change_rule_set_version()
"""
# An outer statement's conflict clause overrides the trigger's own (Django adds rows to a rule's
# websites with INSERT OR IGNORE), so the token is changed by an UPDATE, which cannot conflict,
# and the row is inserted only when a flush removed it.
SQLITE_TRIGGER = """
CREATE TRIGGER {table}_{event}_changes_rule_set AFTER {event} ON {table}
BEGIN
    UPDATE rules_rulesetversion SET token = lower(hex(randomblob(16))) WHERE id = 1;
    INSERT OR IGNORE INTO rules_rulesetversion (id, token) VALUES (1, lower(hex(randomblob(16))));
END
"""
SQLITE_EVENTS = ("INSERT", "UPDATE", "DELETE")


def create_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FUNCTION)
        for table in WATCHED_TABLES:
            schema_editor.execute(POSTGRES_TRIGGER.format(table=table))
    elif vendor == "sqlite":
        for table in WATCHED_TABLES:
            for event in SQLITE_EVENTS:
                schema_editor.execute(SQLITE_TRIGGER.format(table=table, event=event))
    apps.get_model("rules", "RuleSetVersion").objects.update_or_create(
        pk=1, defaults={"token": "initial"}
    )


def drop_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in WATCHED_TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_changes_rule_set ON {table}")
        schema_editor.execute("DROP FUNCTION IF EXISTS rules_change_rule_set_version()")
    elif vendor == "sqlite":
        for table in WATCHED_TABLES:
            for event in SQLITE_EVENTS:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_{event}_changes_rule_set")


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0002_rule_conditions_and_destinations"),
        ("integrations", "0002_webhook_token"),
    ]

    operations = [
        migrations.CreateModel(
            name="RuleSetVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("token", models.CharField(max_length=32)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
