"""Which codes are crypto (payments.currency_codes) comes from the operator's crypto currencies, cached per process
and per operator, with the platform's usual coins standing in where there is nothing to ask."""

from decimal import Decimal

import pytest
from django.template import Context, Template

from core.money_display import crypto_display, fiat_display
from payments.currency_codes import FALLBACK_CRYPTO_CODES, crypto_codes, is_crypto_currency
from payments.models import CryptoCurrency
from tenancy.scoping import tenant_context

AMOUNT = Decimal("1234.56789")


def shown(code: str) -> str:
    return Template('{% load money %}{{ amount|money:code }}').render(Context({"amount": AMOUNT, "code": code}))


@pytest.mark.usefixtures("in_tenant")
def test_a_coin_the_operator_added_is_crypto_and_a_fiat_code_is_not(refs):
    CryptoCurrency.objects.create(code="XMR", name="Monero")

    assert ">1,234.5679\u00a0XMR<" in shown("XMR")  # 4 places: not in the fallback list, in the operator's
    assert ">1,234.5679\u00a0usdt<" in shown("usdt")  # codes compare case-insensitively
    assert ">1,234.57\u00a0THB<" in shown("THB")
    assert 'title="1234.56789 XMR"' in shown("XMR")
    assert is_crypto_currency(refs.usdt) and not is_crypto_currency(refs.thb) and not is_crypto_currency("")


@pytest.mark.usefixtures("in_tenant")
def test_codes_come_from_the_operator_not_the_list_in_the_code(refs):
    """The operator serves USDT only: BTC (in the fallback list) is not one of its coins."""
    assert crypto_codes() == frozenset({"USDT"})
    assert ">1,234.57\u00a0BTC<" in shown("BTC")


def test_another_operators_coin_is_not_this_ones(tenant, other_tenant):
    with tenant_context(other_tenant):
        CryptoCurrency.objects.create(code="XMR", name="Monero")
        assert "XMR" in crypto_codes()
    with tenant_context(tenant):
        CryptoCurrency.objects.create(code="USDT", name="Tether")
        assert crypto_codes() == frozenset({"USDT"})


def test_with_no_operator_or_no_coin_yet_the_usual_coins_stand_in(tenant, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert crypto_codes() == FALLBACK_CRYPTO_CODES  # no tenant: nothing to ask
    with tenant_context(tenant):
        assert crypto_codes() == FALLBACK_CRYPTO_CODES  # an operator without a crypto currency yet
        assert ">1,234.5679\u00a0USDT<" in shown("USDT")


@pytest.mark.usefixtures("in_tenant")
def test_a_page_asks_once_per_process_and_a_new_coin_clears_the_cache(refs, django_assert_num_queries):
    with django_assert_num_queries(1):
        for _ in range(50):  # fifty cells of a list page
            shown("USDT")

    CryptoCurrency.objects.create(code="XMR", name="Monero")  # post_save empties this process's caches

    with django_assert_num_queries(1):
        assert "XMR" in crypto_codes() and "XMR" in crypto_codes()


@pytest.mark.usefixtures("in_tenant")
def test_the_cache_can_be_turned_off(refs, settings, django_assert_num_queries):
    settings.CURRENCY_CODES_CACHE_SECONDS = 0
    crypto_codes()
    CryptoCurrency.objects.filter(code="USDT").update(code="USDC")  # no signal, as from another process

    with django_assert_num_queries(1):
        assert crypto_codes() == frozenset({"USDC"})


def test_the_plain_text_helpers_say_the_currency():
    assert fiat_display(Decimal("1234.5"), "THB") == "1,234.50 THB"
    assert crypto_display(Decimal("0E-8"), "USDT") == "0.00 USDT"
    assert crypto_display(Decimal("27.43484225")) == "27.4348"
    assert fiat_display(None, "THB") == "—"
