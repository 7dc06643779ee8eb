"""Reads behind the cabinet pages: always one owner's rows, in the current tenant.

Every function takes the merchant or trader profile and filters by it, so a
page cannot show another owner's row even by id: a lookup that misses is a 404
in the view. Encrypted columns (requisite numbers, the payout customer's
account) are deferred or never selected; pages show `req_number_last4`.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import F, Prefetch, Q, QuerySet, Value

from core.pagination import rows_by_ids
from payments.models import (
    Appeal,
    BalanceStore,
    BalanceStoreHistory,
    BalanceTrader,
    BalanceTraderCryptoHistory,
    BalanceTraderFiatHistory,
    CallbackAttempt,
    CallbackEvent,
    CryptoTransfer,
    IncomingOrder,
    Merchant,
    MerchantStore,
    OrderHistory,
    OwnerOfRequisites,
    ReqTrader,
    Trader,
)
from tenancy.scoping import current_tenant_id

# Orders a trader still has to act on (PayIn: check the money came; PayOut: pay and confirm).
TRADER_ACTIVE_STATUSES = (OrderHistory.Status.PENDING, OrderHistory.Status.PROCESSING)

# One vocabulary for the merchant's order list: the execution status once assigned, else the intake status.
ORDER_STATES = [
    ("new", "New"),
    ("retrying", "Waiting for a trader"),
    ("processing", "Processing"),
    ("pending", "Pending payment"),
    ("disputed", "Disputed"),
    ("completed", "Completed"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("expired", "Expired"),
]


def trader_for_user(user) -> Trader | None:
    """The user's trader profile in the current tenant (None outside a tenant or without one)."""
    if current_tenant_id() is None or not getattr(user, "is_authenticated", False):
        return None
    return (Trader.objects.select_related("preferred_fiat_currency", "crypto_currency")
            .filter(user_id=user.pk).first())


def merchant_for_user(user) -> Merchant | None:
    if current_tenant_id() is None or not getattr(user, "is_authenticated", False):
        return None
    return Merchant.objects.filter(user_id=user.pk).first()


def cabinet_kinds(user) -> set[str]:
    """"merchant" and/or "trader": the profiles the user has in the current tenant, in one query."""
    if current_tenant_id() is None or not getattr(user, "is_authenticated", False):
        return set()
    merchants = Merchant.objects.filter(user_id=user.pk).order_by().annotate(kind=Value("merchant")).values_list("kind")
    traders = Trader.objects.filter(user_id=user.pk).order_by().annotate(kind=Value("trader")).values_list("kind")
    return {kind for (kind,) in merchants.union(traders)}


# --- filters shared by the order lists -----------------------------------------------------------

@dataclass(frozen=True)
class OrderFilters:
    status: str = ""
    order_type: str = ""
    date_from: date | None = None
    date_to: date | None = None
    store_id: int | None = None
    query: str = ""


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _filtered(queryset: QuerySet, filters: OrderFilters, *, status_field: str = "status") -> QuerySet:
    """An order list with its filters, newest first; `status_field` is the column the list calls the status."""
    if filters.store_id:
        queryset = queryset.filter(store_id=filters.store_id)
    if filters.status:
        queryset = queryset.filter(**{status_field: filters.status})
    if filters.order_type:
        queryset = queryset.filter(order_type=filters.order_type)
    if filters.query:
        queryset = queryset.filter(Q(hash_id=filters.query) | Q(client_id=filters.query))
    if filters.date_from:
        queryset = queryset.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        queryset = queryset.filter(created_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    return queryset.order_by("-created_at", "-id")


# --- trader --------------------------------------------------------------------------------------

def _trader_orders(trader: Trader) -> QuerySet:
    return (OrderHistory.objects.filter(trader=trader)
            .select_related("requisite", "bank", "method", "fiat", "crypto_currency")
            .defer("requisite__req_number"))


def trader_active_orders(trader: Trader) -> QuerySet:
    """Assigned orders waiting for the trader, oldest deadline first."""
    return _trader_orders(trader).filter(status__in=TRADER_ACTIVE_STATUSES).order_by(
        F("expires_at").asc(nulls_last=True), "created_at", "id")


def trader_orders(trader: Trader, filters: OrderFilters) -> QuerySet:
    return _filtered(_trader_orders(trader), filters)


def trader_order(trader: Trader, hash_id: str) -> OrderHistory | None:
    """One of the trader's orders, with its open appeals; the payout customer's account stays deferred."""
    return (_trader_orders(trader).select_related("incoming_order")
            .defer("incoming_order__customer_requisite")
            .prefetch_related(Prefetch("appeals", queryset=Appeal.objects.order_by("-created_at", "-id")))
            .filter(hash_id=hash_id).first())


def trader_requisites(trader: Trader) -> QuerySet:
    return (ReqTrader.objects.filter(trader=trader)
            .select_related("bank", "method", "fiat", "owner_of_requisites", "settings")
            .defer("req_number").order_by("-created_at", "-id"))


def trader_requisite(trader: Trader, pk: int) -> ReqTrader | None:
    return trader_requisites(trader).filter(pk=pk).first()


def trader_requisite_owners(trader: Trader) -> QuerySet:
    return OwnerOfRequisites.objects.filter(trader=trader).order_by("full_name", "id")


def trader_balances(trader: Trader) -> QuerySet:
    return (BalanceTrader.objects.filter(trader=trader).select_related("fiat_currency", "crypto_currency")
            .order_by("fiat_currency__code", "crypto_currency__code", "id"))


def _movements(queryset: QuerySet, balance_id: int | None, *fields: str) -> QuerySet:
    """A balance history page's rows (only the columns it shows), newest first, of one balance if given."""
    queryset = queryset.select_related("balance__crypto_currency", "order").only(
        "id", "kind", "description", "created_at", "amount", "balance_after", "balance__id",
        "balance__crypto_currency__code", "order__hash_id", *fields)
    if balance_id:
        queryset = queryset.filter(balance_id=balance_id)
    return queryset.order_by("-created_at", "-id")


def trader_crypto_history(trader: Trader, *, balance_id: int | None = None) -> QuerySet:
    return _movements(BalanceTraderCryptoHistory.objects.filter(trader=trader).select_related("balance__fiat_currency"),
                      balance_id, "hold_change", "hold_after", "balance__fiat_currency__code")


def trader_fiat_history(trader: Trader, *, balance_id: int | None = None) -> QuerySet:
    return _movements(BalanceTraderFiatHistory.objects.filter(trader=trader).select_related("balance__fiat_currency"),
                      balance_id, "balance__fiat_currency__code")


def trader_appeals(trader: Trader) -> QuerySet:
    return (Appeal.objects.filter(order__trader=trader).select_related("order")
            .order_by("-created_at", "-id"))


# --- merchant ------------------------------------------------------------------------------------

def merchant_stores(merchant: Merchant) -> QuerySet:
    return (MerchantStore.objects.filter(merchant=merchant).select_related("fiat_currency", "crypto_currency")
            .defer("secret_key", "previous_secret_key").order_by("store_name", "id"))


def merchant_store(merchant: Merchant, pk: int) -> MerchantStore | None:
    return merchant_stores(merchant).filter(pk=pk).first()


def merchant_orders(merchant: Merchant, filters: OrderFilters) -> QuerySet:
    """Every order the merchant's stores sent; each row's `state` and `requisite_last4` read the selected
    execution row (no annotation: the list's count and page of ids then join nothing they do not filter by)."""
    queryset = (IncomingOrder.objects.filter(merchant=merchant)
                .select_related("store", "fiat_currency", "crypto_currency", "assigned_order__requisite")
                .defer("customer_requisite", "assigned_order__requisite__req_number"))
    # The merchant's `state`: kept by the services (payments.services.order_state), one indexed column.
    return _filtered(queryset, filters, status_field="state")


# The CSV's columns: plain values only (no encrypted column is ever selected).
ORDER_EXPORT_COLUMNS = (
    ("hash_id", "hash_id"),
    ("client_id", "client_id"),
    ("store", "store__store_name"),
    ("type", "order_type"),
    ("status", "state"),
    ("created_at", "created_at"),
    ("fiat", "fiat_currency__code"),
    ("requested_fiat", "amount_fiat"),
    ("total_fiat", "total_fiat"),
    ("crypto", "crypto_currency__code"),
    ("requested_crypto", "amount_crypto"),
    ("amount_crypto", "amount_currency"),
    ("exchange_rate", "exchange_rate"),
    ("store_commission", "store_commission"),
    ("confirmed_fiat", "assigned_order__confirmed_fiat"),
    ("confirmed_crypto", "assigned_order__confirmed_crypto"),
    ("amount_mismatch", "assigned_order__amount_mismatch"),
    ("bank", "assigned_order__bank__name"),
    ("method", "assigned_order__method__code"),
    ("requisite_last4", "requisite_last4"),
    ("completed_at", "assigned_order__completed_at"),
    ("failure_reason", "failure_reason"),
)


def merchant_last_orders(merchant: Merchant, count: int = 8) -> list:
    """The newest orders, for the dashboard, ids first (core.pagination): the database never joins and sorts
    every order of the merchant."""
    return rows_by_ids(merchant_orders(merchant, OrderFilters()), 0, count)


def merchant_orders_for_export(merchant: Merchant, filters: OrderFilters) -> QuerySet:
    """The same rows as the list, as value tuples in ORDER_EXPORT_COLUMNS order."""
    return (merchant_orders(merchant, filters)
            .annotate(requisite_last4=F("assigned_order__requisite__req_number_last4"))
            .values_list(*(source for _, source in ORDER_EXPORT_COLUMNS)))


def merchant_order(merchant: Merchant, hash_id: str) -> IncomingOrder | None:
    return (merchant_orders(merchant, OrderFilters())
            .select_related("assigned_order__bank", "assigned_order__method", "payment_method", "bank")
            .filter(hash_id=hash_id).first())


def order_appeals(order: OrderHistory) -> QuerySet:
    return Appeal.objects.filter(order=order).order_by("-created_at", "-id")


def store_balances(merchant: Merchant) -> QuerySet:
    return (BalanceStore.objects.filter(store__merchant=merchant).select_related("store", "crypto_currency")
            .defer("store__secret_key", "store__previous_secret_key")
            .order_by("store__store_name", "crypto_currency__code", "id"))


def store_balance_history(merchant: Merchant, *, balance_id: int | None = None) -> QuerySet:
    return _movements(BalanceStoreHistory.objects.filter(store__merchant=merchant).select_related("store"),
                      balance_id, "hold_change", "hold_after", "store__id", "store__store_name")


def callback_events(merchant: Merchant, *, store_id: int | None = None, status: str = "") -> QuerySet:
    queryset = (CallbackEvent.objects.filter(store__merchant=merchant)
                .select_related("store", "incoming_order")
                .only("id", "event_id", "event_type", "status", "attempts", "next_attempt_at", "last_status_code",
                      "last_error", "delivered_at", "created_at", "store__id", "store__store_name",
                      "incoming_order__id", "incoming_order__hash_id"))
    if store_id:
        queryset = queryset.filter(store_id=store_id)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("-created_at", "-id")


def callback_event(merchant: Merchant, event_id) -> CallbackEvent | None:
    return (CallbackEvent.objects.filter(store__merchant=merchant, event_id=event_id)
            .select_related("store", "incoming_order")
            .defer("store__secret_key", "store__previous_secret_key", "incoming_order__customer_requisite")
            .prefetch_related(Prefetch("attempt_rows",
                                       queryset=CallbackAttempt.objects.order_by("-attempted_at", "-id")))
            .first())


def flagged_stores(merchant: Merchant) -> QuerySet:
    """Stores whose callback endpoint keeps failing (flagged by the callback sweeper)."""
    return merchant_stores(merchant).filter(callback_flagged_at__isnull=False)


def merchant_appeals(merchant: Merchant) -> QuerySet:
    return (Appeal.objects.filter(order__merchant=merchant).select_related("order", "order__store")
            .defer("order__store__secret_key", "order__store__previous_secret_key")
            .order_by("-created_at", "-id"))


def store_transfers(merchant: Merchant) -> QuerySet:
    return (CryptoTransfer.objects.filter(store_balance__store__merchant=merchant)
            .select_related("store_balance__store", "store_balance__crypto_currency")
            .defer("store_balance__store__secret_key", "store_balance__store__previous_secret_key")
            .order_by("-created_at", "-id"))


def trader_transfers(trader: Trader) -> QuerySet:
    return (CryptoTransfer.objects.filter(trader_balance__trader=trader)
            .select_related("trader_balance__fiat_currency", "trader_balance__crypto_currency")
            .order_by("-created_at", "-id"))
