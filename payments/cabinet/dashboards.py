"""What the merchant and trader dashboards show: per-day figures (payments.cabinet.day_figures: the closed days
kept, the open day counted), each requisite against its limits.

Every function here runs a fixed number of queries whatever the number of orders
(the tests count them for small and larger data); the days come back complete,
a day without orders as zeros, oldest first, ready for the charts.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from payments.models import Merchant, OrderHistory, ReqTrader, Trader

from . import day_figures

ZERO = Decimal("0")
RANGES = (7, 30)
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
    """Orders received, orders completed, turnover (settled crypto) and the customers' average time to pay, per
    day: each counted on the day it happened (day_figures: closed days kept, the open day counted live)."""
    day_list, _ = _days(days)
    by_day: dict[date, dict] = {}
    codes: dict[str, int] = {}
    for (day, code), values in day_figures.day_figures(day_figures.MERCHANT, merchant, day_list[0]).items():
        slot = by_day.setdefault(day, dict.fromkeys(day_figures.MERCHANT.names, 0))
        for name, value in values.items():
            slot[name] += value
        codes[code] = codes.get(code, 0) + values["received"] + values["completed"]
    stats = MerchantStats(days=day_list, orders=[], completed=[], turnover=[], seconds_to_pay=[],
                          crypto_code=max(codes, key=codes.get) if codes else "USDT")
    paid = seconds = 0
    for day in day_list:
        slot = by_day.get(day) or dict.fromkeys(day_figures.MERCHANT.names, 0)
        stats.orders.append(slot["received"])
        stats.completed.append(slot["completed"])
        stats.turnover.append(slot["turnover"] or ZERO)
        stats.seconds_to_pay.append(float(slot["seconds_to_pay"] / slot["paid"]) if slot["paid"] else None)
        paid += slot["paid"]
        seconds += slot["seconds_to_pay"]
    total_orders, total_done = sum(stats.orders), sum(stats.completed)
    stats.totals = {
        "orders": total_orders,
        "completed": total_done,
        "turnover": sum(stats.turnover, ZERO),
        "success_rate": _rate(total_done, total_orders),
        "minutes_to_pay": round(float(seconds) / paid / 60, 1) if paid else None,
    }
    return stats


def _rate(done: int, received: int) -> float | None:
    """Completions of the period against the orders received in it, in percent (at most 100: an order received
    just before the period and completed in it would otherwise push it over)."""
    return min(100.0, round(100 * done / received, 1)) if received else None


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
    """Commissions earned, orders confirmed and fiat volume confirmed per day of completion (day_figures)."""
    day_list, _ = _days(days)
    by_day: dict[date, list] = {}
    crypto_codes: dict[str, int] = {}
    fiat_codes: dict[str, int] = {}
    for (day, crypto, fiat), values in day_figures.day_figures(day_figures.TRADER, trader, day_list[0]).items():
        slot = by_day.setdefault(day, [ZERO, 0, ZERO])
        slot[0] += values["earned"]
        slot[1] += values["confirmed"]
        slot[2] += values["volume"]
        crypto_codes[crypto] = crypto_codes.get(crypto, 0) + values["confirmed"]
        fiat_codes[fiat] = fiat_codes.get(fiat, 0) + values["confirmed"]
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
    """Each requisite against its limits, as the limits count it (payments.services.turnover: orders not
    cancelled, failed or expired, today and in all), with the fiat confirmed today beside it (two queries)."""
    today = datetime.combine(timezone.now().astimezone(UTC).date(), time.min, tzinfo=UTC)
    confirmed = dict(OrderHistory.objects.filter(trader=trader, status=Completed, completed_at__gte=today)
                     .values("requisite_id").annotate(fiat=Sum(Coalesce("confirmed_fiat", "total_fiat")))
                     .values_list("requisite_id", "fiat").order_by())
    rows = (ReqTrader.objects.filter(trader=trader).select_related("fiat", "bank", "method", "settings", "turnover")
            .defer("req_number").order_by("id"))
    usage = []
    for requisite in rows:
        settings = getattr(requisite, "settings", None)
        kept = getattr(requisite, "turnover", None)
        counted_today = kept.day_total if kept and kept.day == today.date() else ZERO
        counted_all = kept.total if kept else ZERO
        day_max = settings.turnover_day_max if settings else None
        total = settings.total_limit if settings else None
        usage.append({
            "requisite": requisite, "confirmed_today": confirmed.get(requisite.pk) or ZERO,
            "today": counted_today, "day_max": day_max, "all_time": counted_all, "total_limit": total,
            "day_percent": min(100, round(100 * counted_today / day_max)) if day_max else None,
            "total_percent": min(100, round(100 * counted_all / total)) if total else None,
        })
    return usage
