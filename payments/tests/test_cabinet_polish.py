"""Cabinet polish from issue 19: clear messages that keep the input, one error per problem, every error at once."""

import pytest
from django.urls import reverse

from .cabinet_support import fund_trader, login, make_merchant, make_trader, open_order, text
from .factories import make_requisite, make_store

pytestmark = pytest.mark.usefixtures("in_tenant")


def test_an_impossible_received_amount_says_what_it_must_be_and_keeps_the_input(client, tenant, refs):
    trader = make_trader(tenant)
    store, _ = make_store(refs)
    order = open_order(store, make_requisite(refs, trader))  # the trader holds 100 USDT, 27.43 of it for this order
    login(client, trader.user)

    response = client.post(reverse("cabinet:trader_order_confirm", args=[order.hash_id]),
                           {"confirmed_fiat": "99999999"})

    page = text(response)
    assert response.status_code == 400
    # 100 USDT of its own (the order's hold comes back) + 0.1 commission, at 36.45 THB per USDT
    assert "The amount must be between 0.01 and 3,648.64 THB" in page
    assert "The order asked for 1,000.00 THB" in page
    assert 'value="99999999"' in page
    order.refresh_from_db()
    assert order.status == "pending"


def test_a_bad_callback_url_on_the_new_store_form_is_reported_once(client, tenant, refs):
    merchant = make_merchant(tenant)
    login(client, merchant.user)
    response = client.post(reverse("cabinet:merchant_store_new"), {
        "store_name": "X", "fiat_currency": refs.thb.pk, "crypto_currency": refs.usdt.pk, "lower_limit": "1",
        "upper_limit": "10", "callback_url": "ftp://example.com/cb"})
    assert response.status_code == 400
    assert text(response).count("Enter a valid URL.") == 1


def test_the_requisite_form_reports_every_problem_at_once_and_maps_banks_to_currencies(client, tenant, refs):
    from payments.models import Bank, Country

    trader = make_trader(tenant)
    fund_trader(trader, refs, "1")
    abroad = Bank.objects.create(name="Far Bank", country=Country.objects.create(code="ZZ", name="Far"))
    login(client, trader.user)

    page = text(client.get(reverse("cabinet:trader_requisite_new")))
    assert 'id="requisite-choices"' in page and "js/requisite_form.js" in page

    response = client.post(reverse("cabinet:trader_requisite_new"), {
        "fiat": refs.thb.pk, "bank": abroad.pk, "method": refs.card.pk, "req_number": "12",
        "new_owner_name": "", "pay_in": "on"})
    page = text(response)
    assert response.status_code == 400
    assert "Enter 6–34 letters or digits" in page          # the number
    assert "Pick a bank of THB." in page                    # the bank's currency
    assert "does not offer this method" in page             # the bank's methods
    assert "Pick a holder or type the new holder" in page   # the holder
