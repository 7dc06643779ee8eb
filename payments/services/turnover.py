"""Each requisite's turnover as its dynamic limits count it, kept on a narrow row (`requisite_turnover`).

The limits (`full_requisites_settings`: `turnover_day_max` per UTC day, `total_limit` over the requisite's
life) count the requisite's orders that are not cancelled, failed or expired, a confirmed amount instead
of the requested one. Summing `order_history` for every candidate of every order grows with the history;
this row holds the two sums instead, so the candidate search checks them with a plain predicate and the
re-check under the requisite's lock reads one row (payments.services.assignment).

It stays exact because every change of what counts goes through here, in the transaction of the change:
- assignment adds the new order's amount (`add`, with the requisite locked);
- a status change of an order (payments.services.execution: cancel, expiry, failure, completion, a late
  completion of an expired order, a confirmed amount other than the requested one) adds the difference
  between what the order counted before and after (`record_change`).
Updates are increments in one statement (`INSERT … ON CONFLICT DO UPDATE`), so two transactions never
lose each other's change. `day_total` is the turnover of `day` (the latest day with an order); on any later
day it counts as zero, so the UTC day rolls over by itself. A change to an order of an earlier day moves
the lifetime sum only.

The rolling window (`turnover_limit_minutes`) is not kept: a stored window sum goes stale as time passes.
The search lets every window through (safe: it only over-includes), and the re-check under the
requisite's lock sums the window's few orders exactly (index on requisite, created_at).

`mismatches` recomputes everything from `order_history` and lists the rows that differ (the tests and
bench/assignment.py check it is empty); `recount` rewrites rows from the recomputation (repair, tests that
write orders directly).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from django.db import connection
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from payments.models import OrderHistory, RequisiteTurnover

NOT_COUNTED = frozenset({OrderHistory.Status.CANCELLED, OrderHistory.Status.FAILED, OrderHistory.Status.EXPIRED})
ZERO = Decimal("0.00")

_ADD_SQL = """
INSERT INTO requisite_turnover AS v (requisite_id, tenant_id, total, day, day_total)
VALUES (%(requisite)s, %(tenant)s, %(amount)s, %(day)s, %(amount)s)
ON CONFLICT (requisite_id) DO UPDATE SET
    total = v.total + EXCLUDED.total,
    day_total = CASE WHEN v.day = EXCLUDED.day THEN v.day_total + EXCLUDED.day_total
                     WHEN v.day > EXCLUDED.day THEN v.day_total
                     ELSE EXCLUDED.day_total END,
    day = CASE WHEN v.day IS NULL OR v.day < EXCLUDED.day THEN EXCLUDED.day ELSE v.day END
"""


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def counted(status: str, total_fiat: Decimal, confirmed_fiat: Decimal | None) -> Decimal:
    """What one order adds to its requisite's turnover in `status`."""
    if status in NOT_COUNTED:
        return ZERO
    return confirmed_fiat if confirmed_fiat is not None else total_fiat


def add(*, tenant_id, requisite_id: int, created_at: datetime, amount: Decimal) -> None:
    """Add `amount` (negative: take it off) for an order of `requisite_id` created at `created_at`."""
    if not amount:
        return
    with connection.cursor() as cursor:
        cursor.execute(_ADD_SQL, {
            "requisite": requisite_id, "tenant": _tenant_param(tenant_id),
            "amount": connection.ops.adapt_decimalfield_value(amount, 20, 2),
            "day": connection.ops.adapt_datefield_value(utc_day(created_at))})


def record_change(order: OrderHistory, *, old_status: str, old_confirmed: Decimal | None) -> None:
    """`order` (as it is now) was `old_status` with `old_confirmed`: move its requisite's turnover by the change."""
    before = counted(old_status, order.total_fiat, old_confirmed)
    after = counted(order.status, order.total_fiat, order.confirmed_fiat)
    add(tenant_id=order.tenant_id, requisite_id=order.requisite_id, created_at=order.created_at,
        amount=after - before)


@dataclass(frozen=True)
class Turnover:
    total: Decimal
    day: date | None
    day_total: Decimal

    def on(self, day: date) -> Decimal | None:
        """The turnover of `day`: known when it is the row's day or later (zero), None for an earlier day."""
        if self.day is None or self.day < day:
            return ZERO
        if self.day == day:
            return self.day_total
        return None


def _recomputed(requisite_ids=None, *, today: date) -> dict[int, tuple]:
    day_start = datetime.combine(today, time.min, tzinfo=UTC)
    amount = Coalesce("confirmed_fiat", "total_fiat")
    rows = OrderHistory.objects.exclude(status__in=NOT_COUNTED)
    if requisite_ids is not None:
        rows = rows.filter(requisite_id__in=list(requisite_ids))
    rows = (rows.values("requisite_id", "tenant_id")
            .annotate(total=Sum(amount), day_total=Sum(amount, filter=Q(created_at__gte=day_start)))
            .order_by("requisite_id"))
    return {row["requisite_id"]: (row["tenant_id"], _fiat(row["total"]), _fiat(row["day_total"])) for row in rows}


def mismatches(*, today: date) -> list[dict]:
    """Requisites (of the current tenant) whose stored turnover differs from `order_history`'s, for `today`:
    lifetime sum, and today's (the stored day's sum when it is today, zero when it is earlier)."""
    expected = _recomputed(today=today)
    stored = {row.requisite_id: row for row in RequisiteTurnover.objects.all()}
    found = []
    for requisite_id in sorted(set(expected) | set(stored)):
        _, total, day_total = expected.get(requisite_id, (None, ZERO, ZERO))
        row = stored.get(requisite_id)
        kept = Turnover(_fiat(row.total), row.day, _fiat(row.day_total)) if row else Turnover(ZERO, None, ZERO)
        kept_day = kept.on(today)
        if kept.total != total or (kept_day is not None and kept_day != day_total):
            found.append({"requisite": requisite_id, "stored_total": kept.total, "total": total,
                          "stored_day": kept.day, "stored_day_total": kept.day_total, "day_total": day_total})
    return found


def recount(requisite_ids, *, today: date) -> None:
    """Rewrite the rows of `requisite_ids` (current tenant) from `order_history`, as of `today`.

    Lock the requisites first if assignment may run meanwhile (repair runs with the workers stopped)."""
    requisite_ids = list(requisite_ids)
    expected = _recomputed(requisite_ids, today=today)
    RequisiteTurnover.objects.filter(requisite_id__in=requisite_ids).delete()
    RequisiteTurnover.objects.bulk_create(
        RequisiteTurnover(requisite_id=requisite_id, tenant_id=tenant_id, total=total, day=today, day_total=day)
        for requisite_id, (tenant_id, total, day) in expected.items())


def _fiat(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _tenant_param(tenant_id):
    from tenancy.models import Tenant

    return Tenant._meta.pk.get_db_prep_value(tenant_id, connection)
