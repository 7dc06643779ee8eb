"""Issue 21: assignment at scale — the candidate search walks one index and checks the limits on a narrow row.

- `req_traders.trader_priority`: the trader's traffic priority, kept on each requisite so that the index
  `ix_req_traders_rotation` (tenant, currency, priority, last_used_at NULLS FIRST, id; approved and not
  excluded) is in the seed's order.
- `requisite_turnover`: each requisite's lifetime turnover and its latest day's (UTC), counted as the
  limits count them, kept up to date with the orders (payments.services.turnover). Filled here from
  order_history: the lifetime sum and today's. Run it with the assignment workers stopped (as any deploy
  that changes the schema they use).
"""

from datetime import UTC, datetime, time

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

import payments.models.fields
from tenancy.rls import EnableTenantRLS

NOT_COUNTED = ["cancelled", "failed", "expired"]


def _bypass_rls(schema_editor) -> None:
    # Platform-wide data work inside the migration's transaction (see tenancy.rls).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET LOCAL app.bypass_rls = 'on'")


ROTATION_INDEX = ('CREATE INDEX "ix_req_traders_rotation" ON "req_traders" ("tenant_id", "fiat_id", '
                  '"trader_priority", "last_used_at"{nulls}, "id") '
                  'WHERE (NOT "is_excluded_from_distribution" AND "status" = \'approve\')')


def create_rotation_index(apps, schema_editor) -> None:
    nulls = " ASC NULLS FIRST" if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(ROTATION_INDEX.format(nulls=nulls))


def drop_rotation_index(apps, schema_editor) -> None:
    schema_editor.execute('DROP INDEX "ix_req_traders_rotation"')


def fill(apps, schema_editor) -> None:
    _bypass_rls(schema_editor)
    schema_editor.execute("UPDATE req_traders SET trader_priority = "
                          "(SELECT t.trafic_priority FROM traders t WHERE t.id = req_traders.trader_id)")
    OrderHistory = apps.get_model("payments", "OrderHistory")
    RequisiteTurnover = apps.get_model("payments", "RequisiteTurnover")
    today = datetime.now(UTC).date()
    day_start = datetime.combine(today, time.min, tzinfo=UTC)
    amount = Coalesce("confirmed_fiat", "total_fiat")
    rows = (OrderHistory.objects.exclude(status__in=NOT_COUNTED).values("requisite_id", "tenant_id")
            .annotate(total=Sum(amount), day_total=Sum(amount, filter=Q(created_at__gte=day_start)))
            .order_by("requisite_id"))
    batch = []
    for row in rows.iterator(chunk_size=2000):
        batch.append(RequisiteTurnover(requisite_id=row["requisite_id"], tenant_id=row["tenant_id"],
                                       total=row["total"], day=today, day_total=row["day_total"] or 0))
        if len(batch) >= 2000:
            RequisiteTurnover.objects.bulk_create(batch)
            batch = []
    RequisiteTurnover.objects.bulk_create(batch)


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0006_admin_labels'),
        ('tenancy', '0003_catalog'),
    ]

    operations = [
        migrations.CreateModel(
            name='RequisiteTurnover',
            fields=[
                ('requisite', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='turnover', serialize=False, to='payments.reqtrader')),
                ('total', payments.models.fields.FiatAmountField(default=0)),
                ('day', models.DateField(blank=True, null=True)),
                ('day_total', payments.models.fields.FiatAmountField(default=0)),
            ],
            options={
                'verbose_name': 'requisite turnover',
                'verbose_name_plural': 'requisite turnovers',
                'db_table': 'requisite_turnover',
            },
        ),
        migrations.AddField(
            model_name='reqtrader',
            name='trader_priority',
            field=models.PositiveSmallIntegerField(default=5, editable=False),
        ),
        # SQLite takes no NULLS FIRST in an index: there (the demo) the index is on the same columns in
        # their plain order; PostgreSQL gets the one the search walks.
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.AddIndex(
                model_name='reqtrader',
                index=models.Index(models.F('tenant'), models.F('fiat'), models.F('trader_priority'), models.OrderBy(models.F('last_used_at'), nulls_first=True), models.F('id'), condition=models.Q(('is_excluded_from_distribution', False), ('status', 'approve')), name='ix_req_traders_rotation'),
            ),
            ],
            database_operations=[migrations.RunPython(create_rotation_index, drop_rotation_index)],
        ),
        migrations.AddField(
            model_name='requisiteturnover',
            name='tenant',
            field=models.ForeignKey(editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.tenant'),
        ),
        EnableTenantRLS("requisite_turnover"),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
