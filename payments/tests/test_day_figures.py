"""The dashboards' kept day figures (payments.cabinet.day_figures): equal to counting every day live, kept once
per closed day, never for the open one, and recounted after forget()."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payments.cabinet import dashboards, day_figures
from payments.models import IncomingOrder, MerchantDayFigures, OrderHistory, TraderDayFigures

from .cabinet_support import make_merchant, make_trader
from .factories import make_assigned_order, make_requisite, make_store

pytestmark = pytest.mark.usefixtures("in_tenant")


@pytest.fixture
def world(tenant, refs):
    merchant = make_merchant(tenant)
    store, _ = make_store(refs, merchant, store_name="Figures Store")
    trader = make_trader(tenant)
    requisite = make_requisite(refs, trader, settings={"pay_in": True, "pay_out": True})
    return {"merchant": merchant, "store": store, "trader": trader, "requisite": requisite}


def at(days_ago: int, hour: int = 12) -> datetime:
    day = timezone.now().astimezone(UTC).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(hour), tzinfo=UTC)


def order(world, *, received: datetime, completed: datetime | None = None, fiat: str = "1000.00") -> None:
    """An order received at `received`, completed (paid two minutes after assignment) at `completed` if given."""
    made = make_assigned_order(world["store"], world["requisite"])
    IncomingOrder.objects.filter(pk=made.incoming_order_id).update(created_at=received)
    changes = {"created_at": received}
    if completed is not None:
        changes.update(status=OrderHistory.Status.COMPLETED, paid_at=received + timedelta(minutes=2),
                       completed_at=completed, confirmed_fiat=Decimal(fiat), confirmed_crypto=Decimal("27.5"))
    OrderHistory.objects.filter(pk=made.pk).update(**changes)


def history(world) -> None:
    order(world, received=at(5), completed=at(5, 13))
    order(world, received=at(5))
    order(world, received=at(3, 23), completed=at(2, 0) + timedelta(minutes=5))  # completed the next day
    order(world, received=at(1), completed=at(1, 14), fiat="950.00")
    order(world, received=at(0), completed=timezone.now())


def figures(world, days: int = 7):
    merchant = dashboards.merchant_stats(world["merchant"], days)
    trader = dashboards.trader_stats(world["trader"], days)
    return ((merchant.orders, merchant.completed, merchant.turnover, merchant.seconds_to_pay, merchant.totals),
            (trader.confirmed, trader.earnings, trader.volume, trader.totals))


def test_kept_figures_equal_counting_every_day_live(world, settings):
    history(world)
    settings.DASHBOARD_DAY_FIGURES = False
    live = figures(world)
    settings.DASHBOARD_DAY_FIGURES = True
    first, again = figures(world), figures(world)

    assert first == live and again == live
    merchant, trader = live
    # Counted on the day each thing happened: the order of day -3 completed on day -2.
    assert merchant[0] == [0, 2, 0, 1, 0, 1, 1] and merchant[1] == [0, 1, 0, 0, 1, 1, 1]
    assert trader[2][-2] == Decimal("950.00") and trader[3]["confirmed"] == 4


def test_each_closed_day_is_kept_once_and_the_open_day_never(world):
    history(world)
    dashboards.merchant_stats(world["merchant"], 7)
    dashboards.trader_stats(world["trader"], 7)

    today = timezone.now().astimezone(UTC).date()
    kept_days = set(MerchantDayFigures.objects.filter(merchant=world["merchant"]).values_list("day", flat=True))
    assert kept_days == {today - timedelta(days=n) for n in range(1, 7)}  # a day with nothing keeps a row too
    assert not TraderDayFigures.objects.filter(trader=world["trader"], day=today).exists()
    rows = MerchantDayFigures.objects.count()
    with CaptureQueriesContext(connection) as queries:
        day_figures.day_figures(day_figures.MERCHANT, world["merchant"], today - timedelta(days=6))
    assert MerchantDayFigures.objects.count() == rows
    assert len(queries.captured_queries) == 3  # the kept rows, today's orders received, today's completions


def test_the_open_day_is_counted_on_every_view(world):
    history(world)
    before = dashboards.merchant_stats(world["merchant"], 7).completed[-1]
    order(world, received=timezone.now(), completed=timezone.now())
    assert dashboards.merchant_stats(world["merchant"], 7).completed[-1] == before + 1


def test_a_day_just_ended_stays_open_for_the_margin(world):
    now = datetime.combine(timezone.now().astimezone(UTC).date(), time(0, 4), tzinfo=UTC)
    day_figures.day_figures(day_figures.TRADER, world["trader"], now.date() - timedelta(days=2), now=now)
    kept = set(TraderDayFigures.objects.values_list("day", flat=True))
    assert kept == {now.date() - timedelta(days=2)}  # yesterday is still counted live four minutes after midnight


def test_forget_recounts_days_written_into_the_past(world):
    history(world)
    stale = dashboards.merchant_stats(world["merchant"], 7).orders[-4]
    order(world, received=at(3))
    assert dashboards.merchant_stats(world["merchant"], 7).orders[-4] == stale  # kept: not counted again

    day_figures.forget()
    assert dashboards.merchant_stats(world["merchant"], 7).orders[-4] == stale + 1
