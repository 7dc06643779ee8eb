"""The trader's cabinet: own rows only, the work switch, requisites, confirming orders, history, balances, appeals."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLog
from payments.models import (
    Appeal,
    FullRequisitesSettings,
    IncomingOrder,
    MovementKind,
    OrderHistory,
    ReqTrader,
    Trader,
)
from payments.services import execution, ledger

from .cabinet_support import (
    SCIENTIFIC,
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
from .factories import make_assigned_order, make_requisite, make_store, next_card_number

pytestmark = pytest.mark.usefixtures("in_tenant")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def world(tenant, refs):
    """Two traders with a requisite and an order each, and one store."""
    merchant = make_merchant(tenant)
    store, _ = make_store(refs, merchant)
    me, other = make_trader(tenant), make_trader(tenant)
    my_number, other_number = next_card_number(), next_card_number()
    mine = make_requisite(refs, me, number=my_number)
    theirs = make_requisite(refs, other, number=other_number)
    return {
        "store": store, "me": me, "other": other, "mine": mine, "theirs": theirs,
        "my_number": my_number, "other_number": other_number,
        "my_order": open_order(store, mine), "their_order": open_order(store, theirs),
    }


@pytest.fixture
def me(client, world):
    login(client, world["me"].user)
    return world["me"]


def page_urls(world) -> list[str]:
    order, requisite = world["my_order"], world["mine"]
    return [
        reverse("cabinet:trader_dashboard"),
        reverse("cabinet:trader_active_orders"),
        reverse("cabinet:trader_history"),
        reverse("cabinet:trader_order", args=[order.hash_id]),
        reverse("cabinet:trader_appeals"),
        reverse("cabinet:trader_balances"),
        reverse("cabinet:trader_balances") + "?side=fiat",
        reverse("cabinet:trader_requisites"),
        reverse("cabinet:trader_requisite_new"),
        reverse("cabinet:trader_requisite", args=[requisite.pk]),
    ]


# --- access --------------------------------------------------------------------------------------

def test_every_page_opens_for_the_trader_and_never_shows_a_whole_requisite_number(client, world, me):
    Appeal.objects.create(order=world["my_order"], opened_by_role="trader", opened_by=me.user, reason="late")

    for url in page_urls(world):
        response = client.get(url)

        assert response.status_code == 200, url
        page = without_tokens(text(response))
        assert world["my_number"] not in page and world["other_number"] not in page, url
    assert world["mine"].req_number_last4 in text(client.get(reverse("cabinet:trader_requisites")))


def test_another_traders_rows_are_not_found(client, world, me):
    order, requisite = world["their_order"], world["theirs"]
    gets = [reverse("cabinet:trader_order", args=[order.hash_id]),
            reverse("cabinet:trader_order_receipt", args=[order.hash_id, "customer"]),
            reverse("cabinet:trader_requisite", args=[requisite.pk])]
    posts = [reverse("cabinet:trader_order_confirm", args=[order.hash_id]),
             reverse("cabinet:trader_order_dispute", args=[order.hash_id]),
             reverse("cabinet:trader_order_appeal", args=[order.hash_id]),
             reverse("cabinet:trader_order_reveal", args=[order.hash_id]),
             reverse("cabinet:trader_requisite_switches", args=[requisite.pk]),
             reverse("cabinet:trader_requisite_pause", args=[requisite.pk])]

    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url, {"reason": "x", "pay_in": "on"}).status_code == 404, url
    order.refresh_from_db()
    assert order.status == OrderHistory.Status.PENDING
    assert not Appeal.objects.filter(order=order).exists()
    assert ReqTrader.objects.get(pk=requisite.pk).status == "approve"


def test_their_history_lists_only_their_orders(client, world, me):
    page = text(client.get(reverse("cabinet:trader_history")))

    assert world["my_order"].hash_id[:9] in page
    assert world["their_order"].hash_id[:9] not in page


# --- in work -------------------------------------------------------------------------------------

def test_the_trader_switches_themselves_out_of_and_into_work_audited(client, world, me):
    response = client.post(reverse("cabinet:trader_in_work"), {"in_work": "0"})

    assert response.status_code == 302
    assert Trader.objects.get(pk=me.pk).in_work is False
    entry = AuditLog.objects.filter(action="trader.changed", target_id=str(me.pk)).latest("id")
    assert entry.actor == me.user and entry.details["changes"]["in_work"] == {"old": True, "new": False}

    client.post(reverse("cabinet:trader_in_work"), {"in_work": "1"})
    assert Trader.objects.get(pk=me.pk).in_work is True
    assert "In work" in text(client.get(reverse("cabinet:trader_dashboard")))


def test_the_work_switch_is_post_only(client, world, me):
    before = Trader.objects.get(pk=me.pk).in_work
    opened = client.get(reverse("cabinet:trader_in_work"))  # the dashboard, not a blank 405
    assert opened.status_code == 302 and opened["Location"] == reverse("cabinet:trader_dashboard")
    assert Trader.objects.get(pk=me.pk).in_work is before
    assert client.put(reverse("cabinet:trader_in_work")).status_code == 405


# --- requisites ----------------------------------------------------------------------------------

def requisite_form(refs, number, **overrides):
    return {"fiat": refs.thb.pk, "bank": refs.bank2.pk, "method": refs.promptpay.pk, "req_number": number,
            "new_owner_name": "Tomas Trader", "pay_in": "on", **overrides}


def test_a_new_requisite_is_pending_encrypted_and_shown_masked(client, refs, world, me):
    number = "4111 2222 3333 4444"

    response = client.post(reverse("cabinet:trader_requisite_new"), requisite_form(refs, number))

    requisite = ReqTrader.objects.filter(trader=me).latest("id")
    assert response.status_code == 302 and response.url == reverse("cabinet:trader_requisite", args=[requisite.pk])
    assert requisite.status == "pending" and requisite.req_number == "4111222233334444"
    assert requisite.owner_of_requisites.full_name == "Tomas Trader"
    assert (requisite.settings.pay_in, requisite.settings.pay_out) == (True, False)
    followed = text(client.get(response.url, follow=True))
    assert "•••• 4444" in followed and "4111222233334444" not in followed and "4111 2222" not in followed
    entry = AuditLog.objects.get(action="requisite.created", target_id=str(requisite.pk))
    assert entry.actor == me.user and "4111222233334444" not in str(entry.details)


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"req_number": "12"}, "req_number", "6–34 letters or digits"),
    ({"req_number": ""}, "req_number", "This field is required"),
    ({"new_owner_name": ""}, "new_owner_name", "Pick a holder"),
    ({"pay_in": ""}, None, "Turn on PayIns, PayOuts or both"),
    ({"bank": "999999"}, "bank", "Select a valid choice"),
])
def test_a_requisite_form_with_bad_input_says_what_and_adds_nothing(client, refs, world, me, overrides, field,
                                                                     message):
    before = ReqTrader.objects.count()

    response = client.post(reverse("cabinet:trader_requisite_new"), requisite_form(refs, "5555666677778888",
                                                                                   **overrides))

    assert response.status_code == 400
    assert message in text(response)
    assert ReqTrader.objects.count() == before


def test_a_requisite_goes_to_one_of_the_traders_own_holders(client, refs, world, me):
    from payments.models import OwnerOfRequisites

    mine = OwnerOfRequisites.objects.create(trader=me, full_name="Tomas T.")
    theirs = OwnerOfRequisites.objects.create(trader=world["other"], full_name="Someone Else")
    url = reverse("cabinet:trader_requisite_new")

    refused = client.post(url, requisite_form(refs, "5555666677778888", owner_of_requisites=theirs.pk,
                                              new_owner_name=""))
    assert refused.status_code == 400 and "Select a valid choice" in text(refused)
    assert "Someone Else" not in text(client.get(url))

    client.post(url, requisite_form(refs, "5555666677778888", owner_of_requisites=mine.pk, new_owner_name=""))
    assert ReqTrader.objects.filter(trader=me).latest("id").owner_of_requisites == mine


def test_a_duplicate_number_is_refused_without_echoing_the_number(client, refs, world, me):
    response = client.post(reverse("cabinet:trader_requisite_new"),
                           requisite_form(refs, world["other_number"], bank=refs.bank.pk, method=refs.card.pk))

    assert response.status_code == 400
    page = text(response)
    assert "Already registered for this method" in page
    assert world["other_number"] not in page


def test_a_bank_that_does_not_offer_the_method_is_refused(client, refs, world, me):
    from payments.models import AvailableBankMethod

    AvailableBankMethod.objects.filter(bank=refs.bank2, method=refs.promptpay).delete()

    response = client.post(reverse("cabinet:trader_requisite_new"), requisite_form(refs, "5555666677778888"))

    assert response.status_code == 400 and "does not offer this method" in text(response)


def test_the_trader_turns_payin_and_payout_of_a_requisite_on_and_off_but_not_its_limits(client, world, me):
    requisite = world["mine"]
    FullRequisitesSettings.objects.filter(requisite=requisite).update(upper_limit=Decimal("5000.00"))

    response = client.post(reverse("cabinet:trader_requisite_switches", args=[requisite.pk]),
                           {"pay_in": "", "pay_out": "on", "upper_limit": "999999", "lower_limit": "1"})

    assert response.status_code == 302
    settings_row = FullRequisitesSettings.objects.get(requisite=requisite)
    assert (settings_row.pay_in, settings_row.pay_out) == (False, True)
    assert settings_row.upper_limit == Decimal("5000.00") and settings_row.lower_limit is None
    entry = AuditLog.objects.filter(action="requisite.settings_changed").latest("id")
    assert entry.actor == me.user and set(entry.details["changes"]) == {"pay_in"}
    page = text(client.get(reverse("cabinet:trader_requisite", args=[requisite.pk])))
    assert "5000.00" in page and "set by staff" in page


def test_the_trader_pauses_and_resumes_an_approved_requisite(client, world, me):
    requisite = world["mine"]
    url = reverse("cabinet:trader_requisite_pause", args=[requisite.pk])

    client.post(url, {"action": "pause"})
    assert ReqTrader.objects.get(pk=requisite.pk).status == "paused"
    assert AuditLog.objects.filter(action="requisite.paused", actor=me.user).exists()

    client.post(url, {"action": "resume"})
    assert ReqTrader.objects.get(pk=requisite.pk).status == "approve"


@pytest.mark.parametrize("status", ["pending", "rejected"])
def test_a_requisite_staff_have_not_approved_cannot_be_paused_or_resumed(client, world, me, status):
    requisite = world["mine"]
    ReqTrader.objects.filter(pk=requisite.pk).update(status=status)

    for action in ("pause", "resume"):
        response = client.post(reverse("cabinet:trader_requisite_pause", args=[requisite.pk]), {"action": action},
                               follow=True)
        assert "can be" in text(response)
        assert ReqTrader.objects.get(pk=requisite.pk).status == status


# --- orders: confirm, dispute, appeal ------------------------------------------------------------

def test_the_trader_confirms_a_payin_with_the_exact_amount(client, world, me):
    order = world["my_order"]

    response = client.post(reverse("cabinet:trader_order_confirm", args=[order.hash_id]), {"confirmed_fiat": ""})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "completed" and order.confirmed_fiat == order.total_fiat and order.amount_mismatch == ""
    assert AuditLog.objects.filter(action="order.completed", actor=me.user, target_id=str(order.pk)).exists()


def test_the_trader_confirms_a_smaller_amount_with_a_receipt(client, world, me):
    order = world["my_order"]

    response = client.post(reverse("cabinet:trader_order_confirm", args=[order.hash_id]),
                           {"confirmed_fiat": "900.00", "receipt": png()})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "completed" and order.confirmed_fiat == Decimal("900.00")
    assert order.amount_mismatch == "underpaid" and order.trader_receipt
    download = client.get(reverse("cabinet:trader_order_receipt", args=[order.hash_id, "trader"]))
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"\x89PNG")
    assert "attachment" in download["Content-Disposition"]


@pytest.mark.parametrize(("data", "message"), [
    ({"confirmed_fiat": "-5"}, "greater than or equal to 0.01"),
    ({"confirmed_fiat": "12.345"}, "no more than 2 decimal places"),
    ({"confirmed_fiat": "abc"}, "Enter a number"),
    ({"receipt": "not-a-file"}, None),
])
def test_a_confirmation_with_bad_input_changes_nothing(client, world, me, data, message):
    order = world["my_order"]
    if data.get("receipt") == "not-a-file":
        data = {"receipt": not_an_image()}
        message = "Upload a JPEG, PNG or WebP image, or a PDF"

    response = client.post(reverse("cabinet:trader_order_confirm", args=[order.hash_id]), data)

    assert response.status_code == 400 and message in text(response)
    order.refresh_from_db()
    assert order.status == "pending" and order.confirmed_fiat is None


def test_a_payout_needs_a_receipt_and_the_trader_sees_where_to_pay_audited(client, refs, world, me):
    order = open_order(world["store"], world["mine"], order_type="pay_out")
    incoming = IncomingOrder.objects.get(pk=order.incoming_order_id)
    incoming.customer_requisite, incoming.customer_requisite_last4 = "2200123412341234", "1234"
    incoming.save(update_fields=["customer_requisite", "customer_requisite_last4"])

    page = text(client.get(reverse("cabinet:trader_order", args=[order.hash_id])))
    assert "2200123412341234" not in page and "ending 1234" in page

    revealed = client.post(reverse("cabinet:trader_order_reveal", args=[order.hash_id]))
    assert revealed.status_code == 200 and "2200123412341234" in text(revealed)
    assert "no-store" in revealed["Cache-Control"]
    assert AuditLog.objects.filter(action="order.customer_requisite_revealed", actor=me.user).exists()

    refused = client.post(reverse("cabinet:trader_order_confirm", args=[order.hash_id]), {})
    assert refused.status_code == 400 and "This field is required" in text(refused)
    assert OrderHistory.objects.get(pk=order.pk).status == "pending"

    done = client.post(reverse("cabinet:trader_order_confirm", args=[order.hash_id]), {"receipt": png()})
    assert done.status_code == 302 and OrderHistory.objects.get(pk=order.pk).status == "completed"
    closed = client.post(reverse("cabinet:trader_order_reveal", args=[order.hash_id]), follow=True)
    assert "2200123412341234" not in text(closed)


def test_confirming_an_order_that_is_no_longer_open_says_so(client, world, me):
    order = world["my_order"]
    execution.confirm_order(order=order, actor=me.user)

    response = client.post(reverse("cabinet:trader_order_confirm", args=[order.hash_id]), {}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("cabinet:trader_order", args=[order.hash_id])
    assert "cannot be confirmed now" in text(response)


def test_the_trader_disputes_an_order_with_a_reason(client, world, me):
    order = world["my_order"]
    url = reverse("cabinet:trader_order_dispute", args=[order.hash_id])

    empty = client.post(url, {"reason": "  "})
    assert empty.status_code == 400 and "This field is required" in text(empty)
    assert OrderHistory.objects.get(pk=order.pk).status == "pending"

    response = client.post(url, {"reason": "No money arrived"})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "disputed" and order.dispute_reason == "No money arrived"


def test_the_trader_opens_an_appeal_and_sees_its_status(client, world, me):
    order = world["my_order"]
    url = reverse("cabinet:trader_order_appeal", args=[order.hash_id])

    assert client.post(url, {"reason": ""}).status_code == 400
    bad_file = client.post(url, {"reason": "see file", "evidence": not_an_image("x.pdf")})
    assert bad_file.status_code == 400 and "Upload a JPEG" in text(bad_file)
    assert not Appeal.objects.filter(order=order).exists()

    response = client.post(url, {"reason": "The customer sent a fake receipt", "evidence": png("proof.png")})

    assert response.status_code == 302
    appeal = Appeal.objects.get(order=order)
    assert appeal.opened_by == me.user and appeal.opened_by_role == "trader" and appeal.evidence
    listing = text(client.get(reverse("cabinet:trader_appeals")))
    assert "The customer sent a fake receipt" in listing and "Open" in listing
    again = client.post(url, {"reason": "again"}, follow=True)
    assert "already open" in text(again) and Appeal.objects.filter(order=order).count() == 1


# --- live list, history, balances, query counts ---------------------------------------------------

def test_the_live_list_shows_orders_waiting_and_drops_finished_ones(client, world, me):
    order = world["my_order"]
    url = reverse("cabinet:trader_active_orders")

    assert order.hash_id[:9] in text(client.get(url, headers={"HX-Request": "true"}))
    execution.confirm_order(order=order, actor=me.user)
    assert order.hash_id[:9] not in text(client.get(url, headers={"HX-Request": "true"}))
    dashboard = text(client.get(reverse("cabinet:trader_dashboard")))
    assert f'hx-get="{url}"' in dashboard and 'hx-trigger="every 5s"' in dashboard


def test_history_filters_by_status_type_and_dates(client, world, me):
    store, mine = world["store"], world["mine"]
    done = make_assigned_order(store, mine, status="completed")
    old = make_assigned_order(store, mine, status="cancelled", order_type="pay_out")
    OrderHistory.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    url = reverse("cabinet:trader_history")

    def listed(**params) -> set[str]:
        page = text(client.get(url, params))
        return {o.hash_id for o in (world["my_order"], done, old) if o.hash_id[:9] in page}

    assert listed() == {world["my_order"].hash_id, done.hash_id, old.hash_id}
    assert listed(status="completed") == {done.hash_id}
    assert listed(order_type="pay_out") == {old.hash_id}
    today = timezone.now().date()
    assert listed(date_from=str(today - timedelta(days=1))) == {world["my_order"].hash_id, done.hash_id}
    assert listed(date_to=str(today - timedelta(days=5))) == {old.hash_id}
    assert listed(q=done.hash_id) == {done.hash_id}


def test_history_with_a_reversed_date_range_says_so(client, world, me):
    response = client.get(reverse("cabinet:trader_history"), {"date_from": "2026-02-10", "date_to": "2026-02-01"})

    assert response.status_code == 200 and "The end date is before the start date" in text(response)


def test_balances_show_the_hold_and_its_history(client, world, me):
    page = text(client.get(reverse("cabinet:trader_balances")))

    assert "Hold placed" in page and "Deposit" in page
    assert world["my_order"].hash_id[:9] in page


def test_money_on_the_traders_pages_reads_for_people(client, refs, world, me):
    """Separators, the currency's display precision, its code beside every amount, the stored value on hover,
    never a raw `0E-8` (a zero commission, the zero amount of a hold movement)."""
    order, requisite = world["my_order"], world["mine"]
    OrderHistory.objects.filter(pk=order.pk).update(trader_commission=Decimal("0"), confirmed_fiat=Decimal("1234.5"))
    FullRequisitesSettings.objects.filter(requisite=requisite).update(upper_limit=Decimal("25000"),
                                                                      turnover_day_max=Decimal("100000"))
    ledger.post_trader_fiat_movement(trader=me, fiat_currency=refs.thb, crypto_currency=refs.usdt,
                                     amount=Decimal("5000"), kind=MovementKind.DEPOSIT, description="deposit")

    pages = {name: text(client.get(url)) for name, url in {
        "history": reverse("cabinet:trader_history"),
        "order": reverse("cabinet:trader_order", args=[order.hash_id]),
        "live": reverse("cabinet:trader_active_orders"),
        "requisite": reverse("cabinet:trader_requisite", args=[requisite.pk]),
        "crypto": reverse("cabinet:trader_balances"),
        "fiat": reverse("cabinet:trader_balances") + "?side=fiat",
    }.items()}

    fiat, confirmed = money("1,000.00", "THB", "1000.00"), money("1,234.50", "THB", "1234.50")
    assert fiat in pages["history"] and confirmed in pages["history"]
    assert f"The customer pays <strong>{fiat}</strong>" in pages["order"] and confirmed in pages["order"]
    assert money("27.4348", "USDT", "27.43484225") in pages["order"]
    assert money("0.00", "USDT", "0.00000000") in pages["order"]  # the commission, stored as 0E-8
    assert '<span class="money" title="36.45000000 THB per USDT">36.45\u00a0THB per USDT</span>' in pages["order"]
    assert fiat in pages["live"]
    assert money("25,000.00", "THB", "25000.00") in pages["requisite"]
    assert money("100,000.00", "THB", "100000.00") in pages["requisite"]
    assert money("+100.00", "USDT", "100.00000000") in pages["crypto"]     # the deposit
    assert money("+27.4348", "USDT", "27.43484225") in pages["crypto"]     # the order's hold
    assert money("+5,000.00", "THB", "5000.00") in pages["fiat"]
    for name, page in pages.items():
        assert not SCIENTIFIC.search(page), name


def add_rows(refs, world, me, count: int) -> None:
    for _ in range(count):
        order = open_order(world["store"], world["mine"])
        Appeal.objects.create(order=order, opened_by_role="trader", opened_by=me.user, reason="x")
        make_requisite(refs, me)


def test_list_pages_cost_the_same_queries_for_many_rows(client, refs, world, me, django_assert_max_num_queries):
    urls = [reverse("cabinet:trader_dashboard"), reverse("cabinet:trader_active_orders"),
            reverse("cabinet:trader_history"), reverse("cabinet:trader_appeals"),
            reverse("cabinet:trader_balances"), reverse("cabinet:trader_balances") + "?side=fiat",
            reverse("cabinet:trader_requisites")]
    add_rows(refs, world, me, 1)
    few = {}
    for url in urls:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        few[url] = len(captured.captured_queries)

    add_rows(refs, world, me, 6)

    for url in urls:
        with django_assert_max_num_queries(few[url]):
            assert client.get(url).status_code == 200
