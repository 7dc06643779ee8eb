"""What the merchant and trader dashboards show: per-day figures from one aggregate query each.

Every function here runs a fixed number of queries whatever the number of orders
(the tests count them for small and larger data); the days come back complete,
a day without orders as zeros, oldest first, ready for the charts.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, DurationField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from payments.models import IncomingOrder, Merchant, OrderHistory, ReqTrader, Trader

ZERO = Decimal("0")
RANGES = (7, 30)
_MONEY = DecimalField(max_digits=30, decimal_places=8)
Completed = OrderHistory.Status.COMPLETED


def days_param(raw) -> int:
    try:
        days = int(raw)
    except (TypeError, ValueError):
        return RANGES[0]
    return days if days in RANGES else RANGES[0]


def _days(days: int) -> tuple[list[date], datetime]:
    today = timezone.now().astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    return [first + timedelta(days=i) for i in range(days)], datetime.combine(first, time.min, tzinfo=UTC)


@dataclass
class MerchantStats:
    days: list[date]
    orders: list[int]
    completed: list[int]
    turnover: list[Decimal]
    seconds_to_pay: list[float | None]
    crypto_code: str
    totals: dict = field(default_factory=dict)

    def chart_data(self) -> dict:
        return {
            "labels": [day.isoformat() for day in self.days],
            "orders": self.orders,
            "completed": self.completed,
            "turnover": [float(value) for value in self.turnover],
            "success_rate": [round(100 * done / total, 1) if total else None
                             for done, total in zip(self.completed, self.orders, strict=True)],
            "minutes_to_pay": [round(s / 60, 1) if s is not None else None for s in self.seconds_to_pay],
            "currency": self.crypto_code,
        }


def merchant_stats(merchant: Merchant, days: int) -> MerchantStats:
    """Orders, completed orders, turnover (settled crypto) and the customers' average time to pay, per day.

    One query: the merchant's orders since the first day grouped by their UTC day.
    """
    day_list, since = _days(days)
    assigned = "assigned_order"
    done = Q(**{f"{assigned}__status": Completed})
    paid = Q(**{f"{assigned}__paid_at__isnull": False})
    rows = (IncomingOrder.objects.filter(merchant=merchant, created_at__gte=since)
            .annotate(day=TruncDate("created_at", tzinfo=UTC)).values("day", "crypto_currency__code")
            .annotate(orders=Count("id"), completed=Count("id", filter=done),
                      turnover=Coalesce(Sum(Coalesce(f"{assigned}__confirmed_crypto", "amount_currency"),
                                            filter=done), Value(ZERO), output_field=_MONEY),
                      paid=Count("id", filter=paid),
                      to_pay=Sum(ExpressionWrapper(F(f"{assigned}__paid_at") - F("created_at"),
                                                   output_field=DurationField()), filter=paid)))
    by_day: dict[date, dict] = {}
    codes: dict[str, int] = {}
    for row in rows:
        slot = by_day.setdefault(row["day"], {"orders": 0, "completed": 0, "turnover": ZERO, "to_pay": []})
        slot["orders"] += row["orders"]
        slot["completed"] += row["completed"]
        slot["turnover"] += row["turnover"] or ZERO
        if row["paid"]:
            slot["to_pay"].append((row["to_pay"].total_seconds(), row["paid"]))
        codes[row["crypto_currency__code"]] = codes.get(row["crypto_currency__code"], 0) + row["orders"]
    stats = MerchantStats(days=day_list, orders=[], completed=[], turnover=[], seconds_to_pay=[],
                          crypto_code=max(codes, key=codes.get) if codes else "USDT")
    weighted = []
    for day in day_list:
        slot = by_day.get(day, {"orders": 0, "completed": 0, "turnover": ZERO, "to_pay": []})
        stats.orders.append(slot["orders"])
        stats.completed.append(slot["completed"])
        stats.turnover.append(slot["turnover"])
        paid_count = sum(n for _, n in slot["to_pay"])
        stats.seconds_to_pay.append(sum(s for s, _ in slot["to_pay"]) / paid_count if paid_count else None)
        weighted += slot["to_pay"]
    total_orders, total_done = sum(stats.orders), sum(stats.completed)
    stats.totals = {
        "orders": total_orders,
        "completed": total_done,
        "turnover": sum(stats.turnover, ZERO),
        "success_rate": round(100 * total_done / total_orders, 1) if total_orders else None,
        "minutes_to_pay": (round(sum(s for s, _ in weighted) / sum(n for _, n in weighted) / 60, 1)
                           if weighted else None),
    }
    return stats


@dataclass
class TraderStats:
    days: list[date]
    earnings: list[Decimal]
    confirmed: list[int]
    volume: list[Decimal]
    crypto_code: str
    fiat_code: str
    totals: dict = field(default_factory=dict)

    def chart_data(self) -> dict:
        return {
            "labels": [day.isoformat() for day in self.days],
            "earnings": [float(value) for value in self.earnings],
            "confirmed": self.confirmed,
            "volume": [float(value) for value in self.volume],
            "currency": self.crypto_code,
            "fiat": self.fiat_code,
        }


def trader_stats(trader: Trader, days: int) -> TraderStats:
    """Commissions earned, orders confirmed and fiat volume confirmed per day (one query)."""
    day_list, since = _days(days)
    rows = (OrderHistory.objects.filter(trader=trader, status=Completed, completed_at__gte=since)
            .annotate(day=TruncDate("completed_at", tzinfo=UTC)).values("day", "crypto_currency__code", "fiat__code")
            .annotate(earned=Sum("trader_commission"), count=Count("id"),
                      volume=Sum(Coalesce("confirmed_fiat", "total_fiat"))))
    by_day: dict[date, list] = {}
    crypto_codes: dict[str, int] = {}
    fiat_codes: dict[str, int] = {}
    for row in rows:
        slot = by_day.setdefault(row["day"], [ZERO, 0, ZERO])
        slot[0] += row["earned"] or ZERO
        slot[1] += row["count"]
        slot[2] += row["volume"] or ZERO
        crypto_codes[row["crypto_currency__code"]] = crypto_codes.get(row["crypto_currency__code"], 0) + row["count"]
        fiat_codes[row["fiat__code"]] = fiat_codes.get(row["fiat__code"], 0) + row["count"]
    stats = TraderStats(days=day_list, earnings=[], confirmed=[], volume=[],
                        crypto_code=max(crypto_codes, key=crypto_codes.get) if crypto_codes else "USDT",
                        fiat_code=max(fiat_codes, key=fiat_codes.get) if fiat_codes else "")
    for day in day_list:
        earned, count, volume = by_day.get(day, [ZERO, 0, ZERO])
        stats.earnings.append(earned)
        stats.confirmed.append(count)
        stats.volume.append(volume)
    stats.totals = {"earnings": sum(stats.earnings, ZERO), "confirmed": sum(stats.confirmed),
                    "volume": sum(stats.volume, ZERO)}
    return stats


def requisite_usage(trader: Trader) -> list[dict]:
    """Each requisite's fiat volume confirmed today (UTC) against its day cap, and in all against its total cap
    (one query)."""
    today = datetime.combine(timezone.now().astimezone(UTC).date(), time.min, tzinfo=UTC)
    done = Q(order_histories__status=Completed)
    volume = Coalesce("order_histories__confirmed_fiat", "order_histories__total_fiat")
    rows = (ReqTrader.objects.filter(trader=trader).select_related("fiat", "bank", "method", "settings")
            .defer("req_number")
            .annotate(today=Coalesce(Sum(volume, filter=done & Q(order_histories__completed_at__gte=today)),
                                     Value(ZERO), output_field=_MONEY),
                      all_time=Coalesce(Sum(volume, filter=done), Value(ZERO), output_field=_MONEY))
            .order_by("id"))
    usage = []
    for requisite in rows:
        settings = getattr(requisite, "settings", None)
        day_max = settings.turnover_day_max if settings else None
        total = settings.total_limit if settings else None
        usage.append({
            "requisite": requisite, "today": requisite.today, "day_max": day_max, "all_time": requisite.all_time,
            "total_limit": total,
            "day_percent": min(100, round(100 * requisite.today / day_max)) if day_max else None,
            "total_percent": min(100, round(100 * requisite.all_time / total)) if total else None,
        })
    return usage
