"""Issue 15: a store's client_id is unique per store; idempotent answers are kept as their exact bytes.

- The stored answers of Idempotency-Keys move from a JSON column (PostgreSQL's jsonb reorders keys, so a
  replay was JSON-equal but not byte-identical) to the rendered bytes. Answers already stored are carried
  over as their JSON text, so their keys keep replaying (those are at most a day old).
- (store, client_id) becomes unique. Orders that already break it stop the migration with the list of
  them: which of two orders keeps a store's number is the operator's decision, not the migration's.
"""

from django.db import migrations, models

TABLE = "store_api_idempotency_keys"


def _bypass_rls(schema_editor) -> None:
    # Platform-wide data work inside the migration's transaction (see tenancy.rls).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET LOCAL app.bypass_rls = 'on'")


def carry_answers_over(apps, schema_editor) -> None:
    _bypass_rls(schema_editor)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"UPDATE {TABLE} SET response_content = convert_to(response_body::text, 'UTF8') "
                              "WHERE response_body IS NOT NULL")
    else:
        schema_editor.execute(f"UPDATE {TABLE} SET response_content = CAST(response_body AS BLOB) "
                              "WHERE response_body IS NOT NULL")


def refuse_duplicate_client_ids(apps, schema_editor) -> None:
    _bypass_rls(schema_editor)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT store_id, client_id, COUNT(*) FROM incoming_orders WHERE client_id IS NOT NULL "
                       "GROUP BY store_id, client_id HAVING COUNT(*) > 1 ORDER BY store_id, client_id LIMIT 20")
        clashes = cursor.fetchall()
    if clashes:
        listed = "; ".join(f"store {store} client_id {client!r} ×{count}" for store, client, count in clashes)
        raise RuntimeError(
            "client_id becomes unique per store, but some stores have several orders with one client_id "
            f"({listed}). Give those orders distinct client_ids (or clear them), then migrate again.")


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0004_execution_ledger'),
        ('tenancy', '0003_catalog'),
    ]

    operations = [
        migrations.AddField(
            model_name='idempotencykey',
            name='response_content',
            field=models.BinaryField(blank=True, help_text="The answer's body exactly as first sent, so a replay is byte-identical.", null=True),
        ),
        migrations.RunPython(carry_answers_over, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='idempotencykey',
            name='response_body',
        ),
        migrations.RunPython(refuse_duplicate_client_ids, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='incomingorder',
            constraint=models.UniqueConstraint(fields=('store', 'client_id'), name='incoming_orders_store_client_id_uniq', violation_error_message='This store already has an order with this client_id.'),
        ),
    ]
