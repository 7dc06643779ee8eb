"""Demo data for payments; called by `manage.py seed_demo` after tenancy.demo. Idempotent.

In the "Demo Operator" tenant: reference data (Thailand and Russia, THB/RUB,
USDT), a merchant with a store, two traders with approved requisites and
balances, exchange rates from the local fixture, and three PayIns through
intake and assignment (completed, paid awaiting the trader, awaiting the customer). The store's private API
key is stored only hashed, so each run rotates it and prints the new one.
"""

from decimal import Decimal

from accounts.demo import ensure_user
from payments.models import (
    AvailableBankMethod,
    BalanceTrader,
    Bank,
    Country,
    CryptoCurrency,
    FiatCurrency,
    IncomingOrder,
    Merchant,
    MerchantStore,
    MovementKind,
    OrderHistory,
    OrderType,
    OwnerOfRequisites,
    PaymentMethod,
    RequisiteStatus,
    TimeZone,
    Trader,
)
from payments.pay.selectors import payment_url
from payments.services import assignment, execution, intake, ledger, merchants, requisites, traders
from payments.services.exchange_rates import load_exchange_rates
from tenancy.models import Tenant
from tenancy.scoping import tenant_context

DEMO_TENANT = "Demo Operator"
SECOND_TENANT = "Second Operator"

COUNTRIES = [("TH", "Thailand", "Asia/Bangkok", "THB", "Thai baht", "฿"),
             ("RU", "Russia", "Europe/Moscow", "RUB", "Russian ruble", "₽")]
BANKS = [("Kasikornbank", "TH"), ("Siam Commercial Bank", "TH"), ("Bangkok Bank", "TH"),
         ("Sberbank", "RU"), ("T-Bank", "RU")]
METHODS = [("card", "Card transfer"), ("bank_transfer", "Bank account transfer"), ("promptpay", "PromptPay QR"),
           ("sbp", "SBP fast payments")]
BANK_METHODS = {
    "Kasikornbank": ("card", "bank_transfer", "promptpay"),
    "Siam Commercial Bank": ("card", "bank_transfer", "promptpay"),
    "Bangkok Bank": ("card", "bank_transfer"),
    "Sberbank": ("card", "sbp"),
    "T-Bank": ("card", "sbp"),
}
TRADERS = [
    # email, name, priority, owner, requisites (bank, method, fiat, demo number)
    ("trader1@demo.local", "Tomas Trader", 1, "Tomas Trader",
     [("Kasikornbank", "card", "THB", "4000 1234 5678 1111"),
      ("Siam Commercial Bank", "promptpay", "THB", "0812345671")]),
    ("trader2@demo.local", "Tara Trader", 5, "Tara Trader",
     [("Bangkok Bank", "bank_transfer", "THB", "1234567892"),
      ("Sberbank", "card", "RUB", "2202 2000 0000 2222")]),
]


def _reference_data() -> dict:
    refs: dict = {"fiat": {}, "bank": {}, "method": {}}
    for code, name, zone, fiat_code, fiat_name, symbol in COUNTRIES:
        country, _ = Country.objects.get_or_create(code=code, defaults={"name": name})
        TimeZone.objects.get_or_create(name=zone)
        refs["fiat"][fiat_code], _ = FiatCurrency.objects.get_or_create(
            code=fiat_code, defaults={"name": fiat_name, "symbol": symbol, "country": country})
        refs.setdefault("country", {})[code] = country
    refs["usdt"], _ = CryptoCurrency.objects.get_or_create(code="USDT", defaults={"name": "Tether",
                                                                                   "network": "TRC20"})
    for method_code, method_name in METHODS:
        refs["method"][method_code], _ = PaymentMethod.objects.get_or_create(code=method_code,
                                                                             defaults={"name": method_name})
    for bank_name, country_code in BANKS:
        bank, _ = Bank.objects.get_or_create(name=bank_name, defaults={"country": refs["country"][country_code]})
        refs["bank"][bank_name] = bank
        for method_code in BANK_METHODS[bank_name]:
            AvailableBankMethod.objects.get_or_create(bank=bank, method=refs["method"][method_code])
    return refs


def _merchant(tenant: Tenant, refs: dict, out) -> None:
    user = ensure_user("merchant@demo.local", "Mila Merchant")
    merchant = Merchant.objects.filter(user=user).first() or merchants.create_merchant(
        tenant=tenant, user=user, first_name="Mila", last_name="Merchant")
    store = MerchantStore.objects.filter(merchant=merchant, store_name="Demo Shop").first()
    if store is None:
        store, raw_key = merchants.create_store(
            merchant=merchant, store_name="Demo Shop", crypto_currency=refs["usdt"], fiat_currency=refs["fiat"]["THB"],
            lower_limit=Decimal("100.00"), upper_limit=Decimal("50000.00"),
            pay_in_commission_percent=Decimal("2.000"), pay_out_commission_percent=Decimal("1.500"))
        ledger.post_store_movement(store=store, crypto_currency=refs["usdt"], amount=Decimal("2000"),
                                   kind=MovementKind.DEPOSIT, description="Demo opening balance")
    else:
        raw_key = merchants.rotate_store_keys(store=store)
    out(f"  {user.email:<30} merchant (store “{store.store_name}”, THB/USDT)")
    out(f"  {'store API key':<30} Authorization: Bearer {raw_key}")


def _traders(tenant: Tenant, refs: dict, out) -> None:
    for email, full_name, priority, owner_name, requisite_specs in TRADERS:
        user = ensure_user(email, full_name)
        first, _, last = full_name.partition(" ")
        trader = Trader.objects.filter(user=user).first()
        if trader is None:
            trader = traders.create_trader(tenant=tenant, user=user, first_name=first, last_name=last,
                                           trafic_priority=priority, crypto_currency=refs["usdt"],
                                           preferred_fiat_currency=refs["fiat"]["THB"])
            trader = traders.update_trader(trader=trader, changes={"in_work": True, "pay_in": True, "pay_out": True})
        owner, _ = OwnerOfRequisites.objects.get_or_create(trader=trader, full_name=owner_name)
        if not trader.requisites.exists():
            for bank_name, method_code, fiat_code, number in requisite_specs:
                requisites.create_requisite(
                    trader=trader, fiat=refs["fiat"][fiat_code], method=refs["method"][method_code],
                    bank=refs["bank"][bank_name], req_number=number, owner_of_requisites=owner,
                    status=RequisiteStatus.APPROVE,
                    settings={"pay_in": True, "pay_out": True, "lower_limit": Decimal("100.00"),
                              "upper_limit": Decimal("50000.00"), "turnover_day_max": Decimal("500000.00"),
                              "total_limit": Decimal("10000000.00")})
        for fiat_code in {spec[2] for spec in requisite_specs}:
            fiat = refs["fiat"][fiat_code]
            if not BalanceTrader.objects.filter(trader=trader, fiat_currency=fiat, crypto_currency=refs["usdt"],
                                                crypto_balance__gt=0).exists():
                ledger.post_trader_crypto_movement(trader=trader, fiat_currency=fiat, crypto_currency=refs["usdt"],
                                                   amount=Decimal("5000"), kind=MovementKind.DEPOSIT,
                                                   description="Demo deposit")
        out(f"  {email:<30} trader (priority {trader.trafic_priority}, {trader.requisites.count()} requisites)")


# client_id, fiat amount, how far the demo takes it
DEMO_ORDERS = [("demo-completed", "1500.00", "completed"), ("demo-paid", "800.00", "paid"),
               ("demo-awaiting-payment", "2500.00", "assigned")]
STAGE_TEXT = {"completed": "completed", "paid": "customer paid, trader to confirm",
              "assigned": "waiting for the customer"}


def _orders(out) -> None:
    """Three PayIns through the real intake and assignment: one completed, one the customer says is paid
    (for trader1 to confirm in the cabinet), one waiting for the customer on its hosted page."""
    store = MerchantStore.objects.get(store_name="Demo Shop")
    if IncomingOrder.objects.filter(store=store, client_id__in=[spec[0] for spec in DEMO_ORDERS]).exists():
        return
    for client_id, fiat, stage in DEMO_ORDERS:
        incoming = intake.create_incoming_order(store=store, order_type=OrderType.PAY_IN, amount_fiat=Decimal(fiat),
                                                client_id=client_id, customer_id="demo-customer")
        # assigned already when tasks run in-process; with a broker, assign here rather than wait for a worker
        assignment.assign_incoming_order(order_id=incoming.pk, tenant_id=store.tenant_id)
        order = OrderHistory.objects.select_related("trader__user").get(incoming_order=incoming)
        if stage in ("paid", "completed"):
            order = execution.mark_paid(order=order)
        if stage == "completed":
            execution.confirm_order(order=order, actor=order.trader.user)
        out(f"  {'order ' + client_id:<30} {fiat} THB, {STAGE_TEXT[stage]}, trader {order.trader.user.email}: "
            + payment_url(incoming.hash_id))


def _second_operator(tenant: Tenant, refs: dict, out) -> None:
    """A small business of the Second Operator, so its own admin (olga@) has rows to work with: a merchant
    and store, a trader with a requisite and balance, and one PayIn waiting for the customer."""
    user = ensure_user("merchant2@demo.local", "Max Merchant")
    merchant = Merchant.objects.filter(user=user).first() or merchants.create_merchant(
        tenant=tenant, user=user, first_name="Max", last_name="Merchant")
    store = MerchantStore.objects.filter(merchant=merchant, store_name="Second Shop").first()
    if store is None:
        store, _ = merchants.create_store(
            merchant=merchant, store_name="Second Shop", crypto_currency=refs["usdt"],
            fiat_currency=refs["fiat"]["THB"], lower_limit=Decimal("100.00"), upper_limit=Decimal("50000.00"),
            pay_in_commission_percent=Decimal("2.000"), pay_out_commission_percent=Decimal("1.500"))
    trader_user = ensure_user("trader3@demo.local", "Tina Trader")
    trader = Trader.objects.filter(user=trader_user).first()
    if trader is None:
        trader = traders.create_trader(tenant=tenant, user=trader_user, first_name="Tina", last_name="Trader",
                                       trafic_priority=3, crypto_currency=refs["usdt"],
                                       preferred_fiat_currency=refs["fiat"]["THB"])
        trader = traders.update_trader(trader=trader, changes={"in_work": True, "pay_in": True, "pay_out": True})
        requisites.create_requisite(
            trader=trader, fiat=refs["fiat"]["THB"], method=refs["method"]["card"],
            bank=refs["bank"]["Bangkok Bank"], req_number="4000 9876 5432 3333", status=RequisiteStatus.APPROVE,
            settings={"pay_in": True, "pay_out": True, "lower_limit": Decimal("100.00"),
                      "upper_limit": Decimal("50000.00")})
        ledger.post_trader_crypto_movement(trader=trader, fiat_currency=refs["fiat"]["THB"],
                                           crypto_currency=refs["usdt"], amount=Decimal("3000"),
                                           kind=MovementKind.DEPOSIT, description="Demo deposit")
    out(f"  {user.email:<30} merchant of the Second Operator (store “{store.store_name}”)")
    out(f"  {trader_user.email:<30} trader of the Second Operator")


def _second_operator_order(out) -> None:
    store = MerchantStore.objects.get(store_name="Second Shop")
    if IncomingOrder.objects.filter(store=store, client_id="second-awaiting-payment").exists():
        return
    incoming = intake.create_incoming_order(store=store, order_type=OrderType.PAY_IN, amount_fiat=Decimal("1200.00"),
                                            client_id="second-awaiting-payment", customer_id="demo-customer")
    assignment.assign_incoming_order(order_id=incoming.pk, tenant_id=store.tenant_id)
    out(f"  {'order second-awaiting-payment':<30} 1200.00 THB in the Second Operator: " + payment_url(incoming.hash_id))


# A week of history, so every dashboard has something to draw: orders per day (day 0 is today).
HISTORY_DAYS = 7
HISTORY_AMOUNTS = ("350.00", "1200.00", "780.00", "2400.00", "560.00", "1900.00", "990.00", "4100.00", "640.00")


def _history(out) -> None:
    """Through the real intake, assignment and execution (so every balance is the sum of its movements), then
    moved back in time: most orders completed a few minutes after the customer paid, some cancelled, a few
    never paid (expired). Run once (the orders' client ids say they exist)."""
    import random
    from datetime import UTC, datetime, time, timedelta

    from django.utils import timezone

    from payments.models import BalanceStoreHistory, BalanceTraderCryptoHistory, BalanceTraderFiatHistory

    store = MerchantStore.objects.get(store_name="Demo Shop")
    if IncomingOrder.objects.filter(store=store, client_id__startswith="demo-week-").exists():
        return
    rng = random.Random(19)
    today = timezone.now().astimezone(UTC).date()
    made = 0
    for days_ago in range(HISTORY_DAYS, 0, -1):
        day = today - timedelta(days=days_ago)
        for index in range(6 + rng.randrange(7)):
            fiat = Decimal(rng.choice(HISTORY_AMOUNTS))
            incoming = intake.create_incoming_order(store=store, order_type=OrderType.PAY_IN, amount_fiat=fiat,
                                                    client_id=f"demo-week-{day:%m%d}-{index}",
                                                    customer_id=f"demo-customer-{rng.randrange(40)}")
            assignment.assign_incoming_order(order_id=incoming.pk, tenant_id=store.tenant_id)
            order = OrderHistory.objects.select_related("trader__user").filter(incoming_order=incoming).first()
            created = datetime.combine(day, time(8 + rng.randrange(13), rng.randrange(60)), tzinfo=UTC)
            stamps = {"created_at": created}
            if order is not None:
                roll = rng.random()
                if roll < 0.8:
                    order = execution.mark_paid(order=order)
                    order = execution.confirm_order(order=order, actor=order.trader.user)
                    paid = created + timedelta(minutes=2 + rng.randrange(9), seconds=rng.randrange(60))
                    done = paid + timedelta(minutes=1 + rng.randrange(5))
                    OrderHistory.objects.filter(pk=order.pk).update(created_at=created, paid_at=paid,
                                                                    completed_at=done, updated_at=done)
                    for model in (BalanceStoreHistory, BalanceTraderCryptoHistory, BalanceTraderFiatHistory):
                        model.objects.filter(order=order).update(created_at=done)
                else:
                    execution.cancel_order(order=order, actor=order.trader.user, reason="Demo: customer left")
                    OrderHistory.objects.filter(pk=order.pk).update(created_at=created)
            IncomingOrder.objects.filter(pk=incoming.pk).update(**stamps)
            made += 1
    # The orders were moved into past days after they happened: the requisites' kept turnover (assignment
    # counted them today) and any kept day figures are recounted.
    from payments.cabinet import day_figures
    from payments.models import ReqTrader
    from payments.services import turnover

    turnover.recount(list(ReqTrader.objects.values_list("pk", flat=True)), today=today)
    day_figures.forget()
    out(f"  {'a week of history':<30} {made} PayIns over the last {HISTORY_DAYS} days (dashboards: "
        "/cabinet/merchant/, /cabinet/trader/)")


def _transfers(out) -> None:
    """A settled and a pending withdrawal of the demo store, a pending top-up of trader1 (admin: Withdrawals)."""
    from accounts.models import User
    from payments.models import BalanceStore, CryptoTransfer
    from payments.services import transfers

    if CryptoTransfer.objects.exists():
        return
    superadmin = User.objects.filter(email__iexact="superadmin@demo.local").first()
    store = MerchantStore.objects.select_related("merchant__user").get(store_name="Demo Shop")
    balance = BalanceStore.objects.get(store=store)
    address = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
    settled = transfers.request_store_withdrawal(store_balance=balance, amount=Decimal("150"), network="TRC20",
                                                 address=address, actor=store.merchant.user)
    if superadmin is not None:
        transfers.approve_transfer(transfer=settled, actor=superadmin, tx_reference="demo-tx-0001")
    transfers.request_store_withdrawal(store_balance=BalanceStore.objects.get(store=store), amount=Decimal("75.5"),
                                       network="TRC20", address=address, actor=store.merchant.user)
    trader = Trader.objects.select_related("user").get(user__email="trader1@demo.local")
    trader_balance = BalanceTrader.objects.filter(trader=trader).order_by("id").first()
    transfers.request_trader_transfer(trader_balance=trader_balance, direction="top_up", amount=Decimal("500"),
                                      network="TRC20", address=address, actor=trader.user)
    out(f"  {'withdrawals and top-ups':<30} 1 settled, 2 waiting for approval (admin: Withdrawals and top-ups)")


def _applications(tenant: Tenant, out) -> None:
    """Demo Operator takes applications; a freshly registered user has one waiting for review."""
    from accounts.models import OperatorApplication
    from accounts.services import onboarding

    if not tenant.accepts_applications:
        Tenant.objects.filter(pk=tenant.pk).update(accepts_applications=True)
        tenant.refresh_from_db()
    user = ensure_user("newcomer@demo.local", "Nina Newcomer")
    if not OperatorApplication.objects.filter(applicant=user).exists():
        onboarding.submit_application(applicant=user, tenant=tenant, kind="merchant", company="Nina's Noodles Co.",
                                      site="https://noodles.example", expected_monthly_volume="30,000 USDT a month")
    out(f"  {user.email:<30} registered, merchant application waiting: /accounts/apply/ (admin: "
        "Operator applications)")


def seed(out) -> None:
    tenant, _ = Tenant.objects.get_or_create(name=DEMO_TENANT)
    with tenant_context(tenant):
        refs = _reference_data()
        _merchant(tenant, refs, out)
        _traders(tenant, refs, out)
    second = Tenant.objects.filter(name=SECOND_TENANT).first()
    if second is not None:
        with tenant_context(second):
            _second_operator(second, _reference_data(), out)  # reference data is each operator's own
    result = load_exchange_rates(tenants=[tenant] + ([second] if second else []))
    out(f"  {'exchange rates':<30} {result.created} loaded from the fixture (manage.py load_exchange_rates)")
    with tenant_context(tenant):
        _history(out)
        _orders(out)
        _transfers(out)
    if second is not None:
        with tenant_context(second):
            _second_operator_order(out)
    _applications(tenant, out)
