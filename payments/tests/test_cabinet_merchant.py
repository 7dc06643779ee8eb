"""The merchant's cabinet: stores and keys, orders and their CSV, balances, callback deliveries, appeals."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLog
from core.csv_export import cell
from payments.models import (
    Appeal,
    BalanceStore,
    CallbackAttempt,
    CallbackEvent,
    IncomingOrder,
    MerchantStore,
    OrderHistory,
)
from payments.selectors.stores import find_store_by_private_key
from tenancy.scoping import dangerously_bypass_tenant_scope

from .cabinet_support import (
    SCIENTIFIC,
    fund_store,
    login,
    make_merchant,
    make_trader,
    money,
    not_an_image,
    open_order,
    png,
    text,
    without_tokens,
)
from .callback_receiver import Receiver
from .factories import make_assigned_order, make_incoming_order, make_requisite, make_store, next_card_number

pytestmark = pytest.mark.usefixtures("in_tenant")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def add_event(store, order=None, **values) -> CallbackEvent:
    return CallbackEvent.objects.create(store=store, incoming_order=order, event_type="order.completed",
                                        payload={"id": order.hash_id if order else None, "amount_fiat": "1000.00"},
                                        **values)


@pytest.fixture
def world(tenant, refs):
    """Two merchants with a store, an assigned order and a callback event each; one trader serves both."""
    me, other = make_merchant(tenant), make_merchant(tenant)
    my_store, _ = make_store(refs, me, store_name="My Shop")
    their_store, _ = make_store(refs, other, store_name="Their Shop")
    trader = make_trader(tenant)
    number = next_card_number()
    requisite = make_requisite(refs, trader, number=number)
    my_order = open_order(my_store, requisite)
    their_order = open_order(their_store, requisite)
    return {
        "me": me, "other": other, "my_store": my_store, "their_store": their_store, "trader": trader,
        "requisite": requisite, "number": number, "my_order": my_order, "their_order": their_order,
        "my_event": add_event(my_store, my_order.incoming_order),
        "their_event": add_event(their_store, their_order.incoming_order),
    }


@pytest.fixture
def me(client, world):
    login(client, world["me"].user)
    return world["me"]


def page_urls(world) -> list[str]:
    return [
        reverse("cabinet:merchant_dashboard"),
        reverse("cabinet:merchant_store_new"),
        reverse("cabinet:merchant_store", args=[world["my_store"].pk]),
        reverse("cabinet:merchant_orders"),
        reverse("cabinet:merchant_order", args=[world["my_order"].hash_id]),
        reverse("cabinet:merchant_balances"),
        reverse("cabinet:merchant_callbacks"),
        reverse("cabinet:merchant_callback", args=[world["my_event"].event_id]),
        reverse("cabinet:merchant_appeals"),
    ]


# --- access --------------------------------------------------------------------------------------

def test_every_page_opens_for_the_merchant_and_never_shows_a_whole_requisite_number(client, world, me):
    Appeal.objects.create(order=world["my_order"], opened_by_role="merchant", opened_by=me.user, reason="late")

    for url in page_urls(world):
        response = client.get(url)

        assert response.status_code == 200, url
        assert world["number"] not in without_tokens(text(response)), url
    csv_text = text(client.get(reverse("cabinet:merchant_orders_export")))
    assert world["number"] not in csv_text and world["requisite"].req_number_last4 in csv_text


def test_another_merchants_rows_are_not_found(client, world, me):
    store, order, event = world["their_store"], world["their_order"], world["their_event"]
    gets = [reverse("cabinet:merchant_store", args=[store.pk]),
            reverse("cabinet:merchant_order", args=[order.hash_id]),
            reverse("cabinet:merchant_order_receipt", args=[order.hash_id, "customer"]),
            reverse("cabinet:merchant_callback", args=[event.event_id])]
    posts = [reverse("cabinet:merchant_store_settings", args=[store.pk]),
             reverse("cabinet:merchant_store_rotate_keys", args=[store.pk]),
             reverse("cabinet:merchant_store_rotate_secret", args=[store.pk]),
             reverse("cabinet:merchant_order_appeal", args=[order.hash_id]),
             reverse("cabinet:merchant_callback_resend", args=[event.event_id])]
    digest, secret = store.private_api_key_digest, store.secret_key

    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url, {"reason": "x", "callback_url": "https://evil.example/"}).status_code == 404, url
    store.refresh_from_db()
    assert (store.private_api_key_digest, store.secret_key, store.callback_url) == (digest, secret, "")
    assert not Appeal.objects.filter(order=order).exists()
    assert not CallbackAttempt.objects.filter(event=event).exists()


def test_lists_show_only_the_merchants_own_rows(client, world, me):
    for url in (reverse("cabinet:merchant_orders"), reverse("cabinet:merchant_dashboard"),
                reverse("cabinet:merchant_callbacks"), reverse("cabinet:merchant_balances")):
        page = text(client.get(url))
        assert "Their Shop" not in page and world["their_order"].hash_id[:9] not in page, url
    assert world["their_order"].hash_id not in text(client.get(reverse("cabinet:merchant_orders_export")))


# --- stores --------------------------------------------------------------------------------------

def store_form(refs, **overrides):
    return {"store_name": "New Shop", "fiat_currency": refs.thb.pk, "crypto_currency": refs.usdt.pk,
            "lower_limit": "100", "upper_limit": "20000", "callback_url": "https://shop.example/hooks", **overrides}


def test_a_new_store_shows_its_private_key_once_on_a_page_that_is_not_stored(client, refs, world, me):
    response = client.post(reverse("cabinet:merchant_store_new"), store_form(refs))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    store = MerchantStore.objects.get(merchant=me, store_name="New Shop")
    page = text(response)
    raw_key = page.split('<p class="secret-once">')[1].split("</p>")[0].strip()
    assert raw_key.startswith("sk_")
    with dangerously_bypass_tenant_scope():
        assert find_store_by_private_key(raw_key).pk == store.pk
    assert store.trafic_access is False and store.callback_url == "https://shop.example/hooks"
    assert store.pay_in_commission_percent == 0
    assert raw_key not in text(client.get(reverse("cabinet:merchant_store", args=[store.pk])))
    assert store.private_api_key_prefix in text(client.get(reverse("cabinet:merchant_store", args=[store.pk])))
    assert AuditLog.objects.filter(action="store.created", actor=me.user, target_id=str(store.pk)).exists()


@pytest.mark.parametrize(("overrides", "message"), [
    ({"store_name": "  "}, "This field is required"),
    ({"upper_limit": "50"}, "The largest order must be at least the smallest"),
    ({"lower_limit": "-1"}, "greater than or equal to 0"),
    ({"callback_url": "ftp://shop.example/x"}, "Enter a valid URL"),
    ({"store_name": "My Shop"}, "You already have a store with this name"),
    ({"fiat_currency": ""}, "This field is required"),
])
def test_a_store_form_with_bad_input_says_what_and_creates_nothing(client, refs, world, me, overrides, message):
    before = MerchantStore.objects.count()

    response = client.post(reverse("cabinet:merchant_store_new"), store_form(refs, **overrides))

    assert response.status_code == 400 and message in text(response)
    assert MerchantStore.objects.count() == before
    assert 'class="secret-once"' not in text(response)


def test_rotating_keys_shows_the_new_key_once_and_the_old_one_stops_working(client, world, me):
    store = world["my_store"]
    url = reverse("cabinet:merchant_store_rotate_keys", args=[store.pk])
    old_digest = store.private_api_key_digest

    opened = client.get(url)  # a GET changes nothing: it goes to the store's page (no blank 405)
    assert opened.status_code == 302 and opened["Location"] == reverse("cabinet:merchant_store", args=[store.pk])
    store.refresh_from_db()
    assert store.private_api_key_digest == old_digest
    response = client.post(url)

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    store.refresh_from_db()
    assert store.private_api_key_digest != old_digest
    raw_key = text(response).split('<p class="secret-once">')[1].split("</p>")[0].strip()
    with dangerously_bypass_tenant_scope():
        assert find_store_by_private_key(raw_key).pk == store.pk
    assert AuditLog.objects.filter(action="store.keys_rotated", actor=me.user).exists()


def test_rotating_the_secret_shows_it_once_and_the_old_one_signs_for_a_while(client, world, me):
    store = world["my_store"]
    old_secret = store.secret_key

    response = client.post(reverse("cabinet:merchant_store_rotate_secret", args=[store.pk]))

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    store.refresh_from_db()
    assert store.secret_key != old_secret and store.previous_secret_key == old_secret
    assert store.secret_key in text(response)
    assert store.secret_key not in text(client.get(reverse("cabinet:merchant_store", args=[store.pk])))


def test_the_merchant_sets_the_callback_url_and_order_types_but_not_limits(client, world, me):
    store = world["my_store"]

    response = client.post(reverse("cabinet:merchant_store_settings", args=[store.pk]),
                           {"callback_url": "https://shop.example/p2p", "pay_in_enabled": "on",
                            "upper_limit": "9999999", "pay_in_commission_percent": "0", "trafic_access": "on"})

    assert response.status_code == 302
    store.refresh_from_db()
    assert store.callback_url == "https://shop.example/p2p"
    assert (store.pay_in_enabled, store.pay_out_enabled) == (True, False)
    assert store.upper_limit == Decimal("50000.00")
    entry = AuditLog.objects.filter(action="store.changed", actor=me.user).latest("id")
    assert set(entry.details["changes"]) == {"callback_url", "pay_out_enabled"}


def test_a_bad_callback_url_is_refused(client, world, me):
    store = world["my_store"]

    response = client.post(reverse("cabinet:merchant_store_settings", args=[store.pk]),
                           {"callback_url": "javascript:alert(1)"})

    assert response.status_code == 400 and "Enter a valid URL" in text(response)
    store.refresh_from_db()
    assert store.callback_url == ""


# --- orders and CSV ------------------------------------------------------------------------------

@pytest.fixture
def orders(world):
    """Orders of several states and types for the filters: the open PayIn, a completed one, an old failed PayOut."""
    store = world["my_store"]
    done = make_assigned_order(store, world["requisite"], status="completed", confirmed_fiat=Decimal("900.00"),
                               confirmed_crypto=Decimal("24.69135802"), amount_mismatch="underpaid")
    failed = make_incoming_order(store, order_type="pay_out", status="failed", amount_fiat=None,
                                 amount_crypto=Decimal("10"), client_id="=HYPERLINK(1)",
                                 failure_reason="No requisite available")
    IncomingOrder.objects.filter(pk=failed.pk).update(created_at=timezone.now() - timedelta(days=10))
    return {"open": world["my_order"].incoming_order, "done": done.incoming_order, "failed": failed}


def listed(client, orders, **params) -> set[str]:
    page = text(client.get(reverse("cabinet:merchant_orders"), params))
    return {name for name, order in orders.items() if order.hash_id[:9] in page}


def test_orders_filter_by_store_status_type_dates_and_id(client, refs, world, me, orders):
    other_store, _ = make_store(refs, me, store_name="Second Shop")
    today = timezone.now().date()

    assert listed(client, orders) == {"open", "done", "failed"}
    assert listed(client, orders, status="completed") == {"done"}
    assert listed(client, orders, status="pending") == {"open"}
    assert listed(client, orders, status="failed") == {"failed"}
    assert listed(client, orders, order_type="pay_out") == {"failed"}
    assert listed(client, orders, date_from=str(today)) == {"open", "done"}
    assert listed(client, orders, date_to=str(today - timedelta(days=2))) == {"failed"}
    assert listed(client, orders, store=world["my_store"].pk) == {"open", "done", "failed"}
    assert listed(client, orders, store=other_store.pk) == set()
    assert listed(client, orders, q="=HYPERLINK(1)") == {"failed"}


def test_a_bad_filter_says_what_and_an_export_with_it_goes_back_to_the_list(client, world, me, orders):
    bad = {"store": world["their_store"].pk, "date_from": "2026-03-02", "date_to": "2026-03-01"}

    page = text(client.get(reverse("cabinet:merchant_orders"), bad))
    export = client.get(reverse("cabinet:merchant_orders_export"), bad)

    assert "Select a valid choice" in page and "The end date is before the start date" in page
    assert export.status_code == 302 and export.url.startswith(reverse("cabinet:merchant_orders") + "?")


def test_the_csv_export_streams_filtered_orders_with_exact_amounts(client, world, me, orders):
    response = client.get(reverse("cabinet:merchant_orders_export"), {"status": "completed"})

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    rows = list(csv.DictReader(io.StringIO(text(response))))
    # a random hash id may start with "-", which a spreadsheet would read as a formula: defused like any cell
    assert [row["hash_id"] for row in rows] == [cell(orders["done"].hash_id)]
    row = rows[0]
    assert row["status"] == "completed" and row["store"] == "My Shop" and row["type"] == "pay_in"
    assert row["total_fiat"] == "1000.00" and row["amount_crypto"] == "27.43484225"
    assert row["exchange_rate"] == "36.45000000" and row["store_commission"] == "0.54869684"
    assert row["confirmed_fiat"] == "900.00" and row["confirmed_crypto"] == "24.69135802"
    assert row["amount_mismatch"] == "underpaid" and row["requisite_last4"] == world["requisite"].req_number_last4
    assert world["number"] not in text(client.get(reverse("cabinet:merchant_orders_export")))


def test_the_csv_defuses_spreadsheet_formulas_from_store_input(client, world, me, orders):
    rows = list(csv.DictReader(io.StringIO(text(client.get(reverse("cabinet:merchant_orders_export"),
                                                            {"order_type": "pay_out"})))))

    assert [row["client_id"] for row in rows] == ["'=HYPERLINK(1)"]
    assert rows[0]["status"] == "failed" and rows[0]["failure_reason"] == "No requisite available"
    assert rows[0]["requested_crypto"] == "10.00000000" and rows[0]["requisite_last4"] == ""


def test_the_csv_of_many_orders_has_every_row(client, world, me):
    for _ in range(30):
        make_incoming_order(world["my_store"])

    rows = list(csv.DictReader(io.StringIO(text(client.get(reverse("cabinet:merchant_orders_export"))))))

    assert len(rows) == 31 and len({row["hash_id"] for row in rows}) == 31


def test_the_order_page_shows_amounts_receipts_and_callbacks(client, world, me):
    order = world["my_order"]
    OrderHistory.objects.filter(pk=order.pk).update(customer_receipt="receipts/customer/x.png")

    page = text(client.get(reverse("cabinet:merchant_order", args=[order.hash_id])))

    assert "1000.00" in page and "order.completed" in page
    assert reverse("cabinet:merchant_order_receipt", args=[order.hash_id, "customer"]) in page
    missing = client.get(reverse("cabinet:merchant_order_receipt", args=[order.hash_id, "customer"]))
    assert missing.status_code == 404
    assert client.get(reverse("cabinet:merchant_order_receipt", args=[order.hash_id, "other"])).status_code == 404


def test_money_on_the_merchants_pages_reads_for_people(client, world, me):
    """Separators, the currency's display precision, its code beside every amount, the stored value on hover,
    never a raw `0E-8`; the CSV keeps the stored values."""
    order = world["my_order"]
    IncomingOrder.objects.filter(pk=order.incoming_order_id).update(store_commission=Decimal("0"))
    OrderHistory.objects.filter(pk=order.pk).update(confirmed_fiat=Decimal("1234.5"),
                                                    confirmed_crypto=Decimal("33.86831276"))
    fund_store(world["my_store"], "1234.5")
    store = world["my_store"]

    pages = {name: text(client.get(url)) for name, url in {
        "orders": reverse("cabinet:merchant_orders"),
        "order": reverse("cabinet:merchant_order", args=[order.hash_id]),
        "store": reverse("cabinet:merchant_store", args=[store.pk]),
        "balances": reverse("cabinet:merchant_balances"),
        "dashboard": reverse("cabinet:merchant_dashboard"),
    }.items()}

    fiat, crypto = money("1,000.00", "THB", "1000.00"), money("27.4348", "USDT", "27.43484225")
    confirmed = money("1,234.50", "THB", "1234.50")
    assert fiat in pages["orders"] and crypto in pages["orders"] and confirmed in pages["orders"]
    assert fiat in pages["order"] and crypto in pages["order"] and confirmed in pages["order"]
    assert money("33.8683", "USDT", "33.86831276") in pages["order"]
    assert money("0.00", "USDT", "0.00000000") in pages["order"]  # the store commission, stored as 0E-8
    assert '<span class="money" title="36.45000000 THB per USDT">36.45\u00a0THB per USDT</span>' in pages["order"]
    assert money("50,000.00", "THB", "50000.00") in pages["store"] and "0\u00a0%" in pages["store"]
    assert money("+1,234.50", "USDT", "1234.50000000") in pages["balances"]  # the deposit, signed
    assert money("1,234.50", "USDT", "1234.50000000") in pages["balances"]   # the balance after it
    assert f'{money("100.00", "THB", "100.00")} – {money("50,000.00", "THB", "50000.00")}' in pages["dashboard"]
    assert "<title>Dashboard · P2P Platform</title>" in pages["dashboard"]  # no script tags in the title
    for name, page in pages.items():
        assert not SCIENTIFIC.search(page), name
    exported = text(client.get(reverse("cabinet:merchant_orders_export")))
    assert "27.43484225" in exported and "1234.50" in exported and "1,234.50" not in exported


def test_the_merchant_opens_an_appeal_on_an_order(client, world, me):
    order = world["my_order"]
    url = reverse("cabinet:merchant_order_appeal", args=[order.hash_id])

    empty = client.post(url, {"reason": ""})
    assert empty.status_code == 400 and "This field is required" in text(empty)
    bad_file = client.post(url, {"reason": "look", "evidence": not_an_image()})
    assert bad_file.status_code == 400 and not Appeal.objects.filter(order=order).exists()

    response = client.post(url, {"reason": "The customer paid twice", "evidence": png()})

    assert response.status_code == 302
    appeal = Appeal.objects.get(order=order)
    assert appeal.opened_by_role == "merchant" and appeal.opened_by == me.user
    assert "The customer paid twice" in text(client.get(reverse("cabinet:merchant_appeals")))


def test_an_order_without_a_trader_yet_cannot_be_appealed(client, world, me):
    waiting = make_incoming_order(world["my_store"])

    page = text(client.get(reverse("cabinet:merchant_order", args=[waiting.hash_id])))
    response = client.post(reverse("cabinet:merchant_order_appeal", args=[waiting.hash_id]), {"reason": "x"})

    assert "Open an appeal" not in page and response.status_code == 404


def test_a_closed_order_offers_no_appeal(client, world, me):
    order = world["my_order"]
    detail = reverse("cabinet:merchant_order", args=[order.hash_id])
    assert "Open an appeal" in text(client.get(detail))

    OrderHistory.objects.filter(pk=order.pk).update(status=OrderHistory.Status.COMPLETED)

    assert "Open an appeal" not in text(client.get(detail))  # execution.open_appeal would refuse it


# --- balances and callbacks ----------------------------------------------------------------------

def test_balances_show_each_store_and_its_history(client, world, me):
    from .cabinet_support import fund_store

    fund_store(world["my_store"], "250")

    page = text(client.get(reverse("cabinet:merchant_balances")))

    assert "My Shop" in page and "250.00000000" in page and "Deposit" in page


def test_callback_deliveries_are_listed_with_attempts_and_filters(client, world, me):
    event = world["my_event"]
    CallbackAttempt.objects.create(event=event, status_code=500, latency_ms=12, error="HTTP 500")
    failed = add_event(world["my_store"], status="failed", last_error="timed out")

    page = text(client.get(reverse("cabinet:merchant_callbacks"), {"status": "failed"}))
    detail = text(client.get(reverse("cabinet:merchant_callback", args=[event.event_id])))

    assert reverse("cabinet:merchant_callback", args=[failed.event_id]) in page
    assert reverse("cabinet:merchant_callback", args=[event.event_id]) not in page
    assert "HTTP 500" in detail and "12 ms" in detail and "amount_fiat" in detail


def test_filters_naming_another_merchants_rows_are_refused(client, world, me):
    from payments.models import BalanceStore

    their_balance = BalanceStore.objects.get(store=world["their_store"])

    balances = text(client.get(reverse("cabinet:merchant_balances"), {"balance": their_balance.pk}))
    callbacks = text(client.get(reverse("cabinet:merchant_callbacks"), {"store": world["their_store"].pk,
                                                                        "status": "lost"}))

    assert "Select a valid choice" in balances and "Their Shop" not in balances
    assert callbacks.count("Select a valid choice") == 2 and "Their Shop" not in callbacks


def test_the_merchant_resends_a_callback_to_a_real_endpoint(client, world, me):
    store = world["my_store"]
    server = Receiver()
    try:
        MerchantStore.objects.filter(pk=store.pk).update(callback_url=server.url)
        server.secret = store.secret_key
        event = world["my_event"]

        response = client.post(reverse("cabinet:merchant_callback_resend", args=[event.event_id]), follow=True)
    finally:
        server.close()

    assert response.status_code == 200
    assert len(server.requests) == 1 and server.requests[0].verified
    attempt = CallbackAttempt.objects.get(event=event)
    assert attempt.manual and attempt.status_code == 200
    assert CallbackEvent.objects.get(pk=event.pk).status == "delivered"
    assert "resend" in text(response)


def test_a_failing_endpoint_is_flagged_on_the_merchants_pages(client, world, me):
    MerchantStore.objects.filter(pk=world["my_store"].pk).update(
        callback_flagged_at=timezone.now(), callback_failing_since=timezone.now() - timedelta(hours=2))

    for url in (reverse("cabinet:merchant_dashboard"), reverse("cabinet:merchant_callbacks"),
                reverse("cabinet:merchant_store", args=[world["my_store"].pk])):
        assert "keeps failing" in text(client.get(url)) or "have been failing" in text(client.get(url)), url


# --- query counts --------------------------------------------------------------------------------

def add_rows(world, count: int) -> None:
    store = world["my_store"]
    for _ in range(count):
        order = open_order(store, world["requisite"])
        add_event(store, order.incoming_order)
        Appeal.objects.create(order=order, opened_by_role="merchant", opened_by=world["me"].user, reason="x")
        make_incoming_order(store)


def test_list_pages_cost_the_same_queries_for_many_rows(client, refs, world, me, django_assert_max_num_queries):
    urls = [reverse("cabinet:merchant_dashboard"), reverse("cabinet:merchant_orders"),
            reverse("cabinet:merchant_balances"), reverse("cabinet:merchant_callbacks"),
            reverse("cabinet:merchant_appeals"), reverse("cabinet:merchant_store", args=[world["my_store"].pk]),
            reverse("cabinet:merchant_order", args=[world["my_order"].hash_id])]
    add_rows(world, 1)
    few = {}
    for url in urls:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        few[url] = len(captured.captured_queries)

    add_rows(world, 6)
    make_store(refs, me)

    for url in urls:
        with django_assert_max_num_queries(few[url]):
            assert client.get(url).status_code == 200
    with django_assert_max_num_queries(12):
        text(client.get(reverse("cabinet:merchant_orders_export")))


def _history(page: str) -> str:
    return page.split("<h2>History</h2>")[1]


def test_a_second_appeal_on_an_order_is_refused_on_the_orders_page(client, world, me):
    order = world["my_order"]
    url = reverse("cabinet:merchant_order_appeal", args=[order.hash_id])
    assert client.post(url, {"reason": "The customer paid twice", "evidence": png()}).status_code == 302

    again = client.post(url, {"reason": "again"}, follow=True)

    assert again.redirect_chain[-1][0] == reverse("cabinet:merchant_order", args=[order.hash_id])
    assert "already open" in text(again) and Appeal.objects.filter(order=order).count() == 1


def test_the_balance_history_shows_one_balance_when_asked(client, refs, world, me):
    second, _ = make_store(refs, me, store_name="Second Shop")
    fund_store(world["my_store"], "250")
    fund_store(second, "7")
    balance = BalanceStore.objects.get(store=second)

    everything = text(client.get(reverse("cabinet:merchant_balances")))
    one = text(client.get(reverse("cabinet:merchant_balances"), {"balance": balance.pk}))

    assert "250.00000000" in _history(everything) and "7.00000000" in _history(everything)
    assert "7.00000000" in _history(one) and "250.00000000" not in _history(one)
