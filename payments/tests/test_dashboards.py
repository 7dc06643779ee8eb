"""The merchant and trader dashboards: per-day figures that add up, charts' data, and a constant number of queries;
the kept day figures (payments.cabinet.day_figures): equal to counting every day live, kept once per closed day,
never for the open one, and recounted after forget()."""

import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from payments.cabinet import dashboards, day_figures
from payments.models import IncomingOrder, MerchantDayFigures, OrderHistory, TraderDayFigures
from payments.services import turnover

from .cabinet_support import login, make_merchant, make_trader, text
from .factories import make_assigned_order, make_incoming_order, make_requisite, make_store

pytestmark = pytest.mark.usefixtures("in_tenant")


@pytest.fixture
def world(tenant, refs):
    merchant = make_merchant(tenant)
    store, _ = make_store(refs, merchant, store_name="Dash Store")
    trader = make_trader(tenant)
    requisite = make_requisite(refs, trader, settings={"pay_in": True, "pay_out": True,
                                                        "turnover_day_max": Decimal("10000.00")})
    return {"merchant": merchant, "store": store, "trader": trader, "requisite": requisite}


def at(days_ago: int, hour: int = 12) -> datetime:
    day = timezone.now().astimezone(UTC).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(hour), tzinfo=UTC)


def noon(days_ago: int) -> datetime:
    return at(days_ago)


def add_orders(world, n: int, *, days_ago: int = 1, completed: bool = True) -> None:
    """n orders made `days_ago` days ago at noon; completed ones paid after 4 minutes."""
    for _ in range(n):
        order = make_assigned_order(world["store"], world["requisite"])
        created = noon(days_ago)
        IncomingOrder.objects.filter(pk=order.incoming_order_id).update(created_at=created)
        if completed:
            OrderHistory.objects.filter(pk=order.pk).update(
                status=OrderHistory.Status.COMPLETED, paid_at=created + timedelta(minutes=4),
                completed_at=created + timedelta(minutes=6), confirmed_fiat=Decimal("1000.00"),
                confirmed_crypto=Decimal("27.43484225"), created_at=created)


def test_merchant_figures_per_day_add_up(world):
    add_orders(world, 3, days_ago=1)
    add_orders(world, 1, days_ago=1, completed=False)
    make_incoming_order(world["store"], created_at=noon(0))  # today, not assigned yet

    stats = dashboards.merchant_stats(world["merchant"], 7)

    assert len(stats.days) == 7 and stats.days[-1] == timezone.now().astimezone(UTC).date()
    assert (stats.orders[-2], stats.completed[-2], stats.orders[-1]) == (4, 3, 1)
    assert stats.turnover[-2] == Decimal("82.30452675")
    assert stats.totals["success_rate"] == 60.0 and stats.totals["minutes_to_pay"] == 4.0
    data = stats.chart_data()
    assert data["success_rate"][-2] == 75.0 and data["minutes_to_pay"][-2] == 4.0 and data["orders"][0] == 0


def test_trader_figures_and_limits(world):
    add_orders(world, 2, days_ago=0)
    add_orders(world, 1, days_ago=3)

    stats = dashboards.trader_stats(world["trader"], 7)
    assert (stats.confirmed[-1], stats.confirmed[-4]) == (2, 1)
    assert stats.totals["earnings"] == Decimal("0.3") and stats.totals["volume"] == Decimal("3000.00")
    # The orders were written and then moved back in time directly: the kept turnover is recounted.
    turnover.recount([world["requisite"].pk], today=turnover.utc_day(timezone.now()))
    (usage,) = dashboards.requisite_usage(world["trader"])
    assert (usage["confirmed_today"], usage["today"], usage["day_max"], usage["day_percent"]) == (
        Decimal("2000.00"), Decimal("2000.00"), Decimal("10000.00"), 20)
    assert usage["all_time"] == Decimal("3000.00")


def dashboard_queries(client, url) -> tuple[int, str]:
    client.get(url)  # warm the session and content types
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries.captured_queries), text(response)


@pytest.mark.parametrize("who, name", [("merchant", "cabinet:merchant_dashboard"),
                                       ("trader", "cabinet:trader_dashboard")])
def test_each_dashboard_runs_the_same_queries_for_few_or_many_orders(client, world, who, name):
    login(client, world[who].user)
    url = reverse(name) + "?days=30"
    add_orders(world, 2, days_ago=1)
    few, _ = dashboard_queries(client, url)
    for days_ago in range(0, 30, 3):
        add_orders(world, 4, days_ago=days_ago)
    add_orders(world, 5, days_ago=2, completed=False)
    many, page = dashboard_queries(client, url)

    assert many == few, f"{few} queries with 2 orders, {many} with 47"
    source = "merchant-chart-data" if who == "merchant" else "trader-chart-data"
    start = page.index(f'id="{source}"')
    data = json.loads(page[page.index(">", start) + 1:page.index("</script>", start)])
    assert len(data["labels"]) == 30
    assert 'data-chart="' in page and "js/dashboard.js" in page and "vendor/chart.umd.min.js" in page


def test_the_active_orders_fragment_opened_directly_is_the_whole_page(client, world):
    login(client, world["trader"].user)
    url = reverse("cabinet:trader_active_orders")
    fragment = text(client.get(url, headers={"HX-Request": "true"}))
    page = text(client.get(url))
    assert "<html" not in fragment and "data-order-ids" in fragment
    assert "<html" in page and 'id="active-orders"' in page and "Orders to confirm" in page


def test_a_trader_order_still_to_confirm_highlights_to_confirm(client, world):
    order = make_assigned_order(world["store"], world["requisite"])
    login(client, world["trader"].user)
    page = text(client.get(reverse("cabinet:trader_order", args=[order.hash_id])))
    start = page.index('aria-label="Trader cabinet"')
    nav = page[start:page.index("</nav>", start)]
    assert 'aria-current="page">To confirm' in nav and 'aria-current="page">History' not in nav


# --- the kept day figures ----------------------------------------------------------------------------------

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
