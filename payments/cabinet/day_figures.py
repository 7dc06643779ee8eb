"""The per-day figures behind the merchant's and the trader's dashboards: closed days read from their kept
rows (payments.models.figures), the open days counted live.

Every figure is counted on the UTC day its event happened: an order is received on its `created_at`, completed
on its `completed_at`; both are stamped with the time of the event, so a day's figures stop changing when the
day is over. A day counts as closed once CLOSE_MARGIN has passed after its end (a transaction that stamped an
event just before midnight has committed by then). The first view that needs a closed day without its row
computes every such day in one pass and keeps them (the rows are a cache: deleting them is always safe); each
view counts the open days live, an index range over their rows only.

`settings.DASHBOARD_DAY_FIGURES = False` counts every day live: the switch, for comparison, and what the tests
check the kept rows against. Data written straight into past days (a bulk load, a test) needs `forget()`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from payments.models import IncomingOrder, Merchant, MerchantDayFigures, OrderHistory, Trader, TraderDayFigures

CLOSE_MARGIN = timedelta(minutes=10)
ZERO = Decimal("0")
Completed = OrderHistory.Status.COMPLETED

# (day, currency codes…) → {figure: value}
Figures = dict[tuple, dict]


def enabled() -> bool:
    return getattr(settings, "DASHBOARD_DAY_FIGURES", True)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _seconds(duration) -> Decimal:
    return Decimal(str(round(duration.total_seconds(), 3))) if duration else ZERO


def _in_range(queryset, field: str, since: datetime, until: datetime | None):
    queryset = queryset.filter(**{f"{field}__gte": since})
    return queryset.filter(**{f"{field}__lt": until}) if until else queryset


def _merge(figures: Figures, key: tuple, names: tuple[str, ...], values: dict) -> None:
    slot = figures.setdefault(key, dict.fromkeys(names, 0))
    for name, value in values.items():
        slot[name] += value


def _merchant_counts(merchant: Merchant, since: datetime, until: datetime | None) -> Figures:
    """Orders received, and completions with their crypto and time to pay, per day and crypto code."""
    received = (_in_range(IncomingOrder.objects.filter(merchant=merchant), "created_at", since, until)
                .annotate(day=TruncDate("created_at", tzinfo=UTC), code=F("crypto_currency__code"))
                .values("day", "code").annotate(n=Count("id")).order_by())
    paid = Q(paid_at__isnull=False)
    to_pay = ExpressionWrapper(F("paid_at") - F("created_at"), output_field=DurationField())
    completed = (_in_range(OrderHistory.objects.filter(merchant=merchant, status=Completed), "completed_at", since,
                           until)
                 .annotate(day=TruncDate("completed_at", tzinfo=UTC), code=F("crypto_currency__code"))
                 .values("day", "code")
                 .annotate(n=Count("id"), crypto=Sum(Coalesce("confirmed_crypto", "amount_currency")),
                           paid=Count("id", filter=paid), to_pay=Sum(to_pay, filter=paid)).order_by())
    figures: Figures = {}
    for row in received:
        _merge(figures, (row["day"], row["code"]), MERCHANT.names, {"received": row["n"]})
    for row in completed:
        _merge(figures, (row["day"], row["code"]), MERCHANT.names, {
            "completed": row["n"], "turnover": row["crypto"] or ZERO, "paid": row["paid"],
            "seconds_to_pay": _seconds(row["to_pay"])})
    return figures


def _trader_counts(trader: Trader, since: datetime, until: datetime | None) -> Figures:
    """Completions, commissions and fiat confirmed per day and currency pair."""
    rows = (_in_range(OrderHistory.objects.filter(trader=trader, status=Completed), "completed_at", since, until)
            .annotate(day=TruncDate("completed_at", tzinfo=UTC), crypto=F("crypto_currency__code"),
                      fiat_code=F("fiat__code"))
            .values("day", "crypto", "fiat_code")
            .annotate(n=Count("id"), earned=Sum("trader_commission"),
                      volume=Sum(Coalesce("confirmed_fiat", "total_fiat"))).order_by())
    figures: Figures = {}
    for row in rows:
        _merge(figures, (row["day"], row["crypto"], row["fiat_code"]), TRADER.names, {
            "confirmed": row["n"], "earned": row["earned"] or ZERO, "volume": row["volume"] or ZERO})
    return figures


@dataclass(frozen=True)
class Kind:
    model: type
    owner_field: str
    codes: tuple[str, ...]
    names: tuple[str, ...]
    count: Callable[..., Figures]


MERCHANT = Kind(MerchantDayFigures, "merchant", ("crypto_code",),
                ("received", "completed", "turnover", "paid", "seconds_to_pay"), _merchant_counts)
TRADER = Kind(TraderDayFigures, "trader", ("crypto_code", "fiat_code"), ("confirmed", "earned", "volume"),
              _trader_counts)


def day_figures(kind: Kind, owner, first_day: date, *, now: datetime | None = None) -> Figures:
    """`owner`'s figures from `first_day` to today, by (day, codes…): at most three queries once the closed
    days are kept (the kept rows, and the open days' counts), whatever the number of orders."""
    now = now or timezone.now()
    open_from = max(first_day, (now - CLOSE_MARGIN).astimezone(UTC).date())
    if not enabled():
        return kind.count(owner, day_start(first_day), None)
    figures = _kept(kind, owner, first_day, open_from)
    figures.update(kind.count(owner, day_start(open_from), None))
    return figures


def _kept(kind: Kind, owner, first_day: date, open_from: date) -> Figures:
    """The closed days' figures from their rows, computing and keeping the days that have none yet."""
    closed = [first_day + timedelta(days=n) for n in range((open_from - first_day).days)]
    if not closed:
        return {}
    figures: Figures = {}
    have: set[date] = set()
    rows = kind.model.objects.filter(**{kind.owner_field: owner}, day__gte=first_day, day__lt=open_from)
    for row in rows.values("day", *kind.codes, *kind.names):
        have.add(row["day"])
        if any(row[code] for code in kind.codes):  # not the "nothing that day" row
            figures[(row["day"], *(row[code] for code in kind.codes))] = {name: row[name] for name in kind.names}
    missing = [day for day in closed if day not in have]
    if missing:
        counted = kind.count(owner, day_start(missing[0]), day_start(missing[-1] + timedelta(days=1)))
        wanted = set(missing)
        counted = {key: values for key, values in counted.items() if key[0] in wanted}
        _keep(kind, owner, missing, counted)
        figures.update(counted)
    return figures


def _keep(kind: Kind, owner, days: list[date], counted: Figures) -> None:
    by_day: dict[date, list] = {day: [] for day in days}
    for key, values in counted.items():
        by_day[key[0]].append(kind.model(tenant_id=owner.tenant_id, **{kind.owner_field: owner}, day=key[0],
                                         **dict(zip(kind.codes, key[1:], strict=True)), **values))
    rows = [row for day, day_rows in by_day.items()
            for row in day_rows or [kind.model(tenant_id=owner.tenant_id, **{kind.owner_field: owner}, day=day)]]
    # Two views of the same new day may race: the rows are equal, the second insert keeps the first's.
    kind.model.objects.bulk_create(rows, ignore_conflicts=True)


def forget(*, merchant: Merchant | None = None, trader: Trader | None = None) -> None:
    """Drop kept rows (all of the current tenant's when no owner is named), after data was written into past
    days directly; the next views count those days again."""
    if merchant is not None or trader is None:
        MERCHANT.model.objects.filter(**({"merchant": merchant} if merchant else {})).delete()
    if trader is not None or merchant is None:
        TRADER.model.objects.filter(**({"trader": trader} if trader else {})).delete()
