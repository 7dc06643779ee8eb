"""Store API intake (stage 1): check a PayIn/PayOut request, fix its rate and commission, write it `new`.

Nothing else happens while the store waits: the row is the truth, and the
assignment task enqueued on commit is only a hint for the worker (issue 5),
whose sweeper also finds `new` rows whose message was lost.

Amounts: a PayIn is asked in fiat (what the customer pays) and a PayOut in crypto
(what the store's balance gives), but a
store may name the other side instead unless its `gateway_require_amount_param`
is on. Both sides are fixed here with the current rate: fiat to 2 places,
crypto to 8, half up. The store commission is its percentage of the crypto
amount, to 8 places, half up. A store's and a requisite's limits are in fiat, the
currency the customer sees.
"""

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from functools import partial
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core import messaging, sql
from core.errors import Forbidden
from core.local_cache import LocalTTLCache
from payments.errors import ConflictError, OrderNotFound, PaymentsError
from payments.models import (
    Bank,
    ExchangeRate,
    IncomingOrder,
    MerchantStore,
    OrderHistory,
    OrderType,
    PaymentMethod,
)
from payments.models.traders import normalise_requisite_number
from payments.selectors.offers import ServedOffers, served_offers
from payments.selectors.rates import current_rate

from .assignment import ASSIGN_ORDER_TASK, ASSIGN_ORDERS_TASK, give_back_dispatch
from .audit_trail import record
from .execution import cancel_order
from .idempotency import Claim, FreshKey, insert_completing
from .orders import OrderNoLongerOpen, cancel_incoming_order
from .requisites import REQUISITE_NUMBER

logger = logging.getLogger(__name__)

FIAT_STEP = Decimal("0.01")
CRYPTO_STEP = Decimal("0.00000001")
FIAT_CEILING = Decimal(10) ** 18  # DECIMAL(20,2)
CRYPTO_CEILING = Decimal(10) ** 12  # DECIMAL(20,8)


class IntakeRefused(Forbidden, PaymentsError):
    """The store may not send this kind of order now (a store flag is off)."""


@dataclass(frozen=True)
class OrderQuote:
    total_fiat: Decimal
    amount_currency: Decimal
    exchange_rate: Decimal
    store_commission: Decimal


def quote_order(*, store: MerchantStore, order_type: str, rate: Decimal, amount_fiat: Decimal | None,
                amount_crypto: Decimal | None) -> OrderQuote:
    """Both sides of the order at `rate` (fiat per crypto unit), checked against the store's limits."""
    field = "amount_fiat" if amount_fiat is not None else "amount_crypto"
    with localcontext() as ctx:
        ctx.prec = 60  # exact enough for DECIMAL(20,x) × DECIMAL(20,8) before rounding
        try:
            if amount_fiat is not None:
                total_fiat = amount_fiat.quantize(FIAT_STEP, rounding=ROUND_HALF_UP)
                _check_limits(store, total_fiat, field)
                amount_currency = (total_fiat / rate).quantize(CRYPTO_STEP, rounding=ROUND_HALF_UP)
            else:
                amount_currency = amount_crypto.quantize(CRYPTO_STEP, rounding=ROUND_HALF_UP)
                total_fiat = (amount_currency * rate).quantize(FIAT_STEP, rounding=ROUND_HALF_UP)
                _check_limits(store, total_fiat, field)
        except InvalidOperation:
            raise PaymentsError("The amount is out of range.", code="amount_out_of_range",
                                fields={field: ["Out of range."]})
        if amount_currency >= CRYPTO_CEILING or total_fiat >= FIAT_CEILING:
            raise PaymentsError("The amount is out of range at the current rate.", code="amount_out_of_range",
                                fields={field: ["Out of range at the current rate."]})
        if amount_currency <= 0 or total_fiat <= 0:
            raise PaymentsError("The amount is too small at the current rate.", code="amount_too_small",
                                fields={field: ["Too small at the current rate."]})
        percent = (store.pay_in_commission_percent if order_type == OrderType.PAY_IN
                   else store.pay_out_commission_percent)
        commission = (amount_currency * percent / 100).quantize(CRYPTO_STEP, rounding=ROUND_HALF_UP)
    return OrderQuote(total_fiat=total_fiat, amount_currency=amount_currency, exchange_rate=rate,
                      store_commission=commission)


def _check_limits(store: MerchantStore, total_fiat: Decimal, field: str) -> None:
    if total_fiat < store.lower_limit or total_fiat > store.upper_limit:
        fiat = store.fiat_currency.code
        raise PaymentsError(
            f"The order amount must be between {store.lower_limit} and {store.upper_limit} {fiat}.",
            code="amount_out_of_limits",
            fields={field: [f"{total_fiat} {fiat} is outside {store.lower_limit}–{store.upper_limit} {fiat}."]},
        )


def _check_store_may_send(store: MerchantStore, order_type: str) -> None:
    if not store.access:
        raise IntakeRefused("This store is disabled.", code="store_disabled")
    if not store.trafic_access:
        raise IntakeRefused("This store may not send new orders now.", code="store_traffic_disabled")
    if order_type == OrderType.PAY_IN and not store.pay_in_enabled:
        raise IntakeRefused("PayIns are turned off for this store.", code="pay_in_disabled")
    if order_type == OrderType.PAY_OUT and not store.pay_out_enabled:
        raise IntakeRefused("PayOuts are turned off for this store.", code="pay_out_disabled")


def _check_request_fields(store: MerchantStore, order_type: str, *, fiat_currency: str | None,
                          crypto_currency: str | None, amount_fiat: Decimal | None, amount_crypto: Decimal | None,
                          customer_id: str | None, customer_requisite: str | None) -> None:
    """The rules that depend on the store's settings and the order type, all reported at once."""
    fields: dict[str, list[str]] = {}
    if order_type == OrderType.PAY_OUT and not customer_requisite:
        fields["customer_requisite"] = ["A PayOut needs the customer's card, account or phone number."]
    elif customer_requisite and not REQUISITE_NUMBER.match(customer_requisite):
        # never repeats what was sent: it is a card or account number
        fields["customer_requisite"] = ["Enter 6–34 letters or digits (spaces and dashes are ignored)."]
    if fiat_currency is not None and fiat_currency != store.fiat_currency.code:
        fields["fiat_currency"] = [f"This store works in {store.fiat_currency.code} only."]
    if crypto_currency is not None and crypto_currency != store.crypto_currency.code:
        fields["crypto_currency"] = [f"This store works in {store.crypto_currency.code} only."]
    if (amount_fiat is None) == (amount_crypto is None):
        fields["amount_fiat"] = ["Give exactly one of amount_fiat and amount_crypto."]
    elif store.gateway_require_amount_param:
        own = "amount_fiat" if order_type == OrderType.PAY_IN else "amount_crypto"
        if (amount_fiat if own == "amount_fiat" else amount_crypto) is None:
            fields[own] = [f"This store must state the amount as {own}."]
    if store.gateway_require_customer_id_param and not customer_id:
        fields["customer_id"] = ["This store must send customer_id."]
    if fields:
        code = "unsupported_currency" if set(fields) <= {"fiat_currency", "crypto_currency"} else "invalid_order"
        raise PaymentsError("The order does not fit this store's settings.", code=code, fields=fields)


# What intake reads on every request, kept per process for STORE_API_CACHE_SECONDS (core.local_cache);
# the methods and banks a store's currency can be served with: payments.selectors.offers.served_offers.
_rates: LocalTTLCache[tuple[Decimal, datetime]] = LocalTTLCache("intake-rates", ttl_setting="STORE_API_CACHE_SECONDS")


def _resolve_method_and_bank(store: MerchantStore, method_code: str | None,
                             bank_name: str | None) -> tuple[PaymentMethod | None, Bank | None]:
    """The store's preferred method and bank, if requisites of its currency could ever take them.

    Read from the per-process cache of what the currency is served with; a refusal reads the database
    again first, so a method or bank staff have just added is accepted at once. A request naming
    neither costs nothing here.
    """
    if method_code is None and bank_name is None:
        return None, None
    found = _served_method_and_bank(served_offers(store.tenant_id, store.fiat_currency_id), method_code, bank_name)
    if found is None:
        served = served_offers(store.tenant_id, store.fiat_currency_id, fresh=True)
        found = _served_method_and_bank(served, method_code, bank_name)
        if found is None:
            _refuse_method_or_bank(store, served, method_code, bank_name)
    return found


def _served_method_and_bank(served: ServedOffers, method_code: str | None,
                            bank_name: str | None) -> tuple[PaymentMethod | None, Bank | None] | None:
    if method_code is not None and method_code not in served.methods:
        return None
    if bank_name is not None and bank_name not in served.banks:
        return None
    if method_code is not None and bank_name is not None and not served.offers(method_code, bank_name):
        return None
    return (served.methods[method_code] if method_code is not None else None,
            served.banks[bank_name] if bank_name is not None else None)


def _refuse_method_or_bank(store: MerchantStore, served: ServedOffers, method_code: str | None,
                           bank_name: str | None) -> None:
    """Say why the method/bank cannot be served: unknown, not served in the store's currency, or not together."""
    fiat = store.fiat_currency.code
    if method_code is not None and method_code not in served.methods:
        if not PaymentMethod.objects.filter(code=method_code, is_active=True).exists():
            raise PaymentsError("Unknown payment method.", code="unknown_payment_method",
                                fields={"method": [f"No active payment method {method_code!r}."]})
        raise PaymentsError(f"No bank of {fiat} offers this payment method, so no order with it can be served.",
                            code="method_not_served",
                            fields={"method": [f"Not served in {fiat} (GET /api/v1/methods lists what is)."]})
    if bank_name is not None and bank_name not in served.banks:
        if not Bank.objects.filter(name=bank_name, is_active=True).exists():
            raise PaymentsError("Unknown bank.", code="unknown_bank",
                                fields={"bank": [f"No active bank {bank_name!r}."]})
        raise PaymentsError(f"This bank does not serve {fiat}, so no order with it can be served.",
                            code="bank_not_served",
                            fields={"bank": [f"Not served in {fiat} (GET /api/v1/methods lists what is)."]})
    raise PaymentsError("The bank does not offer this payment method.", code="method_not_available",
                        fields={"method": [f"{bank_name} does not offer {method_code}."]})


def _current_rate(store: MerchantStore) -> Decimal:
    """The rate payments.selectors.rates.current_rate would give (newest of the pair, younger than
    EXCHANGE_RATE_MAX_AGE); when there is none, that selector raises its error.

    A cached rate is used while it is still younger than the maximum age, so caching never prices an
    order at a rate intake would refuse; a newer rate is picked up within STORE_API_CACHE_SECONDS.
    """
    key = (store.tenant_id, store.fiat_currency_id, store.crypto_currency_id)
    cached = _rates.get_or_load(key, lambda: _load_rate(store))
    if cached is not None and cached[1] > timezone.now() - settings.EXCHANGE_RATE_MAX_AGE:
        return cached[0]
    _rates.forget(key)
    found = _load_rate(store)
    if found is None:  # raises NoExchangeRate (or finds one that arrived meanwhile)
        return current_rate(store.tenant_id, store.fiat_currency, store.crypto_currency).rate
    return found[0]


def _load_rate(store: MerchantStore) -> tuple[Decimal, datetime] | None:
    """(rate, fetched_at) of the newest rate of the store's pair younger than the maximum age, or None."""
    now = timezone.now()
    rate = (ExchangeRate.objects
            .filter(fiat_currency_id=store.fiat_currency_id, crypto_currency_id=store.crypto_currency_id,
                    fetched_at__gt=now - settings.EXCHANGE_RATE_MAX_AGE, fetched_at__lte=now)
            .order_by("-fetched_at", "-id").values_list("rate", "fetched_at")[:1])
    found = list(rate)
    return found[0] if found else None


class DuplicateClientId(ConflictError):
    """The store already has an order with this client_id (its own order number); `order_id` is that order's."""

    code = "duplicate_client_id"

    def __init__(self, *, client_id: str, order_id: str):
        super().__init__("This store already has an order with this client_id.", code=self.code,
                         fields={"client_id": [f"Already used by order {order_id}."]}, extra={"order_id": order_id})
        self.client_id = client_id
        self.order_id = order_id


@dataclass(frozen=True)
class AnsweredOrder:
    """An order written together with its answer under an Idempotency-Key."""

    order: IncomingOrder
    answer: bytes  # the very bytes the key's row keeps: the first answer, and every replay, sends them


def create_incoming_order(*, store: MerchantStore, order_type: str, **request: Any) -> IncomingOrder:
    """Accept a PayIn/PayOut from `store`: check it, fix rate and commission, write it `new`, enqueue assignment.

    Run inside the store's tenant. Every check reads; the only write is the order row, so a
    refusal leaves nothing behind. `request` holds the fields of prepare_incoming_order.
    """
    return _create(store=store, order_type=order_type, claim=None, answer=None, request=request).order


def create_incoming_order_with_key(*, store: MerchantStore, order_type: str, claim: Claim | FreshKey,
                                   answer: Callable[[IncomingOrder], bytes], **request: Any) -> AnsweredOrder:
    """As create_incoming_order, under an idempotency `claim`: `answer(order)` renders the body the store
    will get, and the order row and that answer are written by one statement
    (payments.services.idempotency.insert_completing), so they commit together and a retry replays
    exactly these bytes, which are returned with the order.
    """
    return _create(store=store, order_type=order_type, claim=claim, answer=answer, request=request)


def _create(*, store: MerchantStore, order_type: str, claim: Claim | FreshKey | None,
            answer: Callable[[IncomingOrder], bytes] | None, request: dict[str, Any]) -> AnsweredOrder:
    """The write of both entry points (the result's `answer` is empty without a claim).

    A client_id the store already used is refused by the database's unique (store, client_id)
    constraint, not by a look-up first (intake stays one statement): DuplicateClientId (409) names the
    order that has it, and nothing is written — the key's answer neither, as it is in the same statement.
    """
    order = prepare_incoming_order(store=store, order_type=order_type, **request)
    try:
        with _savepoint_if_in_transaction():
            if claim is None:
                # One INSERT is atomic by itself (autocommit): no BEGIN/COMMIT round trips.
                sql.insert(order, connection)
                stored = b""
            else:
                stored = insert_completing(claim=claim, obj=order, response_status=int(HTTPStatus.CREATED),
                                           response_content=lambda: answer(order))
    except IntegrityError:
        _refuse_duplicate_client_id(store, order.client_id)
        raise
    # Inside a caller's transaction the message waits for its commit.
    _enqueue_assignment(order)
    return AnsweredOrder(order=order, answer=stored)


def _savepoint_if_in_transaction():
    """A savepoint when a caller's transaction is open (so a refused INSERT leaves it usable for the look-up
    that explains the refusal); nothing in autocommit, where the INSERT is its own transaction."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def _refuse_duplicate_client_id(store: MerchantStore, client_id: str | None) -> None:
    """After an IntegrityError: raise DuplicateClientId when the store has an order with `client_id`.

    Runs only on a refused INSERT. Under a race the other order's INSERT committed before ours failed
    (PostgreSQL waits for it), so it is found; anything else is not ours to explain and is re-raised.
    """
    if client_id is None:
        return
    existing = (IncomingOrder.objects.filter(store=store, client_id=client_id)
                .values_list("hash_id", flat=True).first())
    if existing is not None:
        raise DuplicateClientId(client_id=client_id, order_id=existing)


def prepare_incoming_order(*, store: MerchantStore, order_type: str, amount_fiat: Decimal | None = None,
                           amount_crypto: Decimal | None = None, fiat_currency: str | None = None,
                           crypto_currency: str | None = None, method: str | None = None, bank: str | None = None,
                           client_id: str | None = None, customer_id: str | None = None,
                           customer_ip: str | None = None, return_url: str | None = None,
                           gateway_id: str | None = None, customer_requisite: str | None = None) -> IncomingOrder:
    """The checked, priced, unsaved `new` order of a store API request (PaymentsError when refused)."""
    if order_type not in OrderType.values:
        raise PaymentsError("Unknown order type.", code="invalid_order_type")
    _check_store_may_send(store, order_type)
    customer_requisite = normalise_requisite_number(customer_requisite) if customer_requisite else ""
    _check_request_fields(store, order_type, fiat_currency=fiat_currency, crypto_currency=crypto_currency,
                          amount_fiat=amount_fiat, amount_crypto=amount_crypto, customer_id=customer_id,
                          customer_requisite=customer_requisite)
    target_method, target_bank = _resolve_method_and_bank(store, method, bank)
    quote = quote_order(store=store, order_type=order_type, rate=_current_rate(store), amount_fiat=amount_fiat,
                        amount_crypto=amount_crypto)
    now = timezone.now()
    return IncomingOrder(
        tenant_id=store.tenant_id, merchant_id=store.merchant_id, store=store, order_type=order_type,
        status=IncomingOrder.Status.NEW, client_id=client_id, customer_id=customer_id, customer_ip=customer_ip,
        return_url=return_url, gateway_id=gateway_id,
        target_method=target_method, target_bank=target_bank, payment_method=target_method, bank=target_bank,
        fiat_currency=store.fiat_currency, crypto_currency=store.crypto_currency,
        amount_fiat=amount_fiat, amount_crypto=amount_crypto,
        total_fiat=quote.total_fiat, amount_currency=quote.amount_currency, exchange_rate=quote.exchange_rate,
        store_commission=quote.store_commission,
        customer_requisite=customer_requisite, customer_requisite_last4=customer_requisite[-4:],
        created_at=now, updated_at=now,  # known before the INSERT, so the answer can be rendered first
        dispatched_at=now,  # the assignment message goes out on commit (given back at once if it is dropped)
    )


def _enqueue_assignment(order: IncomingOrder) -> None:
    order_id, tenant_id, tenant = order.pk, order.tenant_id, {"tenant_id": str(order.tenant_id)}
    marked_at = order.dispatched_at

    def send() -> None:
        messaging.send(ASSIGN_ORDER_TASK, args=[order_id], kwargs=tenant,
                       batch_task=ASSIGN_ORDERS_TASK, batch_item=order_id,
                       on_drop=partial(give_back_dispatch, order_id, tenant_id, marked_at))

    # The message is a hint (core.messaging): handed to a background publisher, never waited for;
    # if the broker is away it is dropped and the order given back to the assignment sweeper at once
    # (`dispatched_at` cleared: the next sweep after the broker returns sends it; payments.services.dispatch).
    # robust: nothing here may turn an accepted order into an error answer.
    transaction.on_commit(send, robust=True)


# --- cancel -----------------------------------------------------------------------------------


def cancel_store_order(*, store: MerchantStore, order: IncomingOrder, actor=None) -> IncomingOrder:
    """The store cancels one of its orders, which is possible until it is completed — or paid.

    - `new` / `retrying`: cancelled (payments.services.orders.cancel_incoming_order, compare-and-swap);
    - `failed`: cancelled, so the store's books show its decision;
    - `processing`: a worker is assigning it right now → 409 `order_busy`, retry in a moment;
    - `assigned`: while nobody has paid yet (`pending`) the assigned order is cancelled and the
      trader's hold released (payments.services.execution.cancel_order); a completed order is 409
      `order_completed`; one the customer says they paid, or that is disputed, is 409
      `order_not_cancellable` (open an appeal); one that ended otherwise too;
    - already cancelled: answered as it is, so a retried cancel is not an error.
    A cancel that meets an assignment in progress waits for it on the order's row lock (briefly: else
    409 `order_busy`) and then cancels the order as the worker left it — assigned and unpaid, or failed —
    so a store never reads a final-sounding refusal for an order it can cancel.
    `actor` is the merchant's user (the key is theirs); it is audited as the actor.
    """
    if order.store_id != store.pk:
        raise OrderNotFound("No such order.")
    reason = f"Cancelled by store {store.store_name} through the store API."
    current = order.status
    if current in IncomingOrder.OPEN_STATUSES:
        try:
            return cancel_incoming_order(order=order, actor=actor, reason=reason)
        except OrderNoLongerOpen:  # a worker assigned (or failed) it while we waited for its row
            order.refresh_from_db()
            current = order.status
    if current == IncomingOrder.Status.FAILED:
        return _cancel_failed(order=order, actor=actor, reason=reason)
    if current == IncomingOrder.Status.CANCELLED:
        return order
    if current == IncomingOrder.Status.PROCESSING:
        raise ConflictError("The order is being assigned right now; try again in a moment.", code="order_busy")
    _cancel_assigned(order=order, actor=actor, reason=reason)
    return order


@transaction.atomic
def _cancel_failed(*, order: IncomingOrder, actor, reason: str) -> IncomingOrder:
    """failed → cancelled, and the store's `order.cancelled` event (its `order.created` came with the claim
    that failed it)."""
    from payments.callbacks.events import enqueue_order_event  # here: this module's imports are intake's

    updated = IncomingOrder.objects.filter(pk=order.pk, status=IncomingOrder.Status.FAILED).update(
        status=IncomingOrder.Status.CANCELLED, state=IncomingOrder.Status.CANCELLED, updated_at=timezone.now())
    if not updated:
        raise ConflictError("The order changed meanwhile; fetch it and try again.", code="order_not_cancellable")
    order.refresh_from_db()
    record(action="order.cancelled", target=order, actor=actor,
           description=f"{order} cancelled: {reason}",
           details={"changes": {"status": {"old": "failed", "new": order.status}}, "reason": reason})
    enqueue_order_event(incoming_order=order, event_type="order.cancelled")
    return order


def _cancel_assigned(*, order: IncomingOrder, actor, reason: str) -> None:
    execution = OrderHistory.objects.filter(incoming_order=order).first()
    if execution is None:  # `assigned` always has its execution row; refuse rather than guess
        raise ConflictError("The order cannot be cancelled now.", code="order_not_cancellable")
    if execution.status == OrderHistory.Status.COMPLETED:
        raise ConflictError("The order is completed and can no longer be cancelled.", code="order_completed")
    if execution.status == OrderHistory.Status.CANCELLED:
        return
    if execution.status != OrderHistory.Status.PENDING:
        raise ConflictError(
            f"The order can no longer be cancelled (it is {execution.status}); open an appeal if something is "
            "wrong.", code="order_not_cancellable")
    try:
        cancel_order(order=execution, actor=actor, reason=reason)
    except ConflictError as refused:  # it moved on meanwhile: say what it is now
        now = OrderHistory.objects.filter(pk=execution.pk).values_list("status", flat=True).first()
        if now == OrderHistory.Status.CANCELLED:
            return
        if now == OrderHistory.Status.COMPLETED:
            raise ConflictError("The order is completed and can no longer be cancelled.",
                                code="order_completed") from refused
        raise ConflictError(refused.message, code="order_not_cancellable") from refused
