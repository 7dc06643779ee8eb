"""Reconciliation: bring one account's orders, fills and positions in line with the exchange.

One pass (beat, every TRADING_RECONCILE_SECONDS per active account, and after every placement):
1. fills: the exchange's trades on every symbol we hold or have orders on, stored once (unique trade id);
2. our orders: pending ones (a lost answer) looked up by client id; open ones that filled, were
   cancelled or expired on the exchange updated;
3. orphan orders: open on the exchange, not ours — recorded as `external` orders;
4. positions: closed on the exchange (stop loss, take profit, liquidation, by hand) closed here with
   the reason and PnL from the fills; the rest get mark price and unrealized PnL;
5. the daily loss brake.
Each pass writes one SyncLog with what it found and what it changed.
"""

import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import record_event
from trading.exchanges.client import (
    ExchangeRefused,
    ExchangeUnavailable,
    Gateway,
    NoCredential,
    PlacedOrder,
    gateway_for,
    to_decimal,
)
from trading.models import (
    CloseReason,
    Fill,
    NotificationKind,
    Order,
    OrderLeg,
    OrderStatus,
    Position,
    PositionStatus,
    SyncLog,
    TradingAccount,
)
from trading.models.execution import OPEN_ORDER_STATUSES
from trading.services.execution import apply_exchange_view, cancel_protective_orders, mark_position_closed
from trading.services.locks import account_mutex
from trading.services.notifications import enqueue_notification

logger = logging.getLogger(__name__)

PENDING_GRACE = timedelta(seconds=5)


class Pass:
    """What one pass found and changed, for its SyncLog."""

    def __init__(self):
        self.found: dict = {}
        self.changes: list[str] = []

    def changed(self, text: str) -> None:
        self.changes.append(text)


def reconcile_account(*, account_id: int, trigger: str = "beat", signal_id: int | None = None) -> SyncLog | None:
    """One reconciliation pass over the account; None when another pass or a placement holds it.

    With `signal_id` (the pass that follows a placement) and every order of that signal answered by the
    exchange, the pass is slim: only the fills of the signal's symbol (the entry's fee and trade ids come
    only from there). Everything else on the account was not touched by the placement and is the beat
    pass's work; an order left without an answer makes it a full pass.
    """
    account = TradingAccount.objects.select_related("exchange").get(pk=account_id)
    started = time.monotonic()
    with account_mutex(account.pk, wait=trigger == "after_placement") as got:
        if not got:
            return None
        report = Pass()
        ok, error = True, ""
        try:
            gateway = gateway_for(account)
            symbols = _placement_symbols(account, signal_id) if signal_id is not None else None
            if symbols is not None:
                report.found["scope"] = f"placement of signal {signal_id}"
                for symbol in symbols:
                    _sync_fills(account, gateway, symbol, report)
            else:
                _reconcile(account, gateway, report)
        except (ExchangeUnavailable, ExchangeRefused, NoCredential) as exc:
            ok, error = False, str(exc)[:300]
            if not isinstance(exc, NoCredential):
                enqueue_notification(account=account, kind=NotificationKind.ERROR,
                                     text=f"⚠️ Sync of {account.name} failed: {error}",
                                     dedupe_key=f"sync-error:{account.pk}:{timezone.now():%Y%m%d%H%M}")
        from trading.services.risk import check_daily_loss

        if check_daily_loss(account):
            report.found["daily_loss_limit_reached"] = True
        details = {"found": report.found, "changed": report.changes}
        if error:
            details["error"] = error
        return SyncLog.objects.create(account=account, user_id=account.user_id, trigger=trigger, ok=ok,
                                      changes=len(report.changes), details=details, tenant_id=account.tenant_id,
                                      duration_ms=int((time.monotonic() - started) * 1000))


def _placement_symbols(account: TradingAccount, signal_id: int) -> list[str] | None:
    """The symbols of the signal's orders when the exchange answered every one of them; None otherwise
    (an order still pending: its answer was lost, the full pass looks for it)."""
    orders = list(Order.objects.filter(account=account, signal_id=signal_id).values_list("symbol", "status"))
    if any(status == OrderStatus.PENDING for _symbol, status in orders):
        return None
    return sorted({symbol for symbol, _status in orders})


def _reconcile(account: TradingAccount, gateway: Gateway, report: Pass) -> None:
    exchange_orders = gateway.open_orders()
    exchange_positions = {p["symbol"]: p for p in gateway.positions()}
    report.found.update(open_orders=len(exchange_orders), positions=sorted(exchange_positions))
    symbols = set(exchange_positions) | set(
        Position.objects.filter(account=account, status=PositionStatus.OPEN).values_list("symbol", flat=True)) | set(
        Order.objects.filter(account=account, status__in=OPEN_ORDER_STATUSES).values_list("symbol", flat=True))
    for symbol in sorted(symbols):
        _sync_fills(account, gateway, symbol, report)
    _sync_orders(account, gateway, exchange_orders, report)
    _sync_orphans(account, exchange_orders, report)
    _sync_positions(account, gateway, exchange_positions, report)


def _sync_fills(account: TradingAccount, gateway: Gateway, symbol: str, report: Pass) -> None:
    last = Fill.objects.filter(account=account, symbol=symbol).order_by("-traded_at").first()
    opened = Position.objects.filter(account=account, symbol=symbol).order_by("open_time").first()
    since = last.traded_at if last else (opened.open_time if opened else timezone.now() - timedelta(days=1))
    trades = gateway.trades(symbol, int((since - timedelta(seconds=5)).timestamp() * 1000))
    orders = {o.exchange_order_id: o for o in Order.objects.filter(account=account, symbol=symbol)
              .exclude(exchange_order_id="")}
    new = 0
    for trade in trades:
        info = trade.get("info") or {}
        fee = trade.get("fee") or {}
        try:
            with transaction.atomic():
                Fill.objects.create(
                    account=account, order=orders.get(str(trade.get("order"))), exchange_trade_id=str(trade["id"]),
                    exchange_order_id=str(trade.get("order") or ""), symbol=symbol, side=trade.get("side") or "",
                    price=to_decimal(trade["price"]), quantity=to_decimal(trade["amount"]),
                    fee=to_decimal(fee.get("cost")) or Decimal(0), fee_currency=fee.get("currency") or "",
                    realized_pnl=to_decimal(info.get("realizedPnl")) or Decimal(0),
                    traded_at=datetime.fromtimestamp(trade["timestamp"] / 1000, tz=UTC), tenant_id=account.tenant_id)
            new += 1
        except IntegrityError:
            continue  # seen before: a fill is applied once
    if new:
        report.changed(f"{new} new fill(s) on {symbol}")


def _sync_orders(account: TradingAccount, gateway: Gateway, exchange_orders: list[dict], report: Pass) -> None:
    open_by_client = {_client_id(o): o for o in exchange_orders}
    now = timezone.now()
    for order in Order.objects.filter(account=account, status__in=OPEN_ORDER_STATUSES).exclude(
            leg=OrderLeg.EXTERNAL).select_related("position"):
        seen = open_by_client.get(order.client_order_id)
        if seen is not None:
            placed = PlacedOrder.from_ccxt(seen)
        elif order.status == OrderStatus.PENDING:
            if now - order.created_at < PENDING_GRACE:
                continue  # its placement may still be under way
            placed = gateway.find_order(order)
            if placed is None:
                order.status, order.error = OrderStatus.FAILED, "The exchange never received this order."
                order.save(update_fields=["status", "error", "updated_at"])
                report.changed(f"{order.client_order_id}: never reached the exchange, marked failed")
                continue
        else:
            found = gateway.fetch_order_by_id(order.exchange_order_id, order.symbol, conditional=order.is_conditional)
            if found is None:
                continue
            placed = PlacedOrder.from_ccxt(found)
        before = order.status
        if apply_exchange_view(order, placed) and order.status != before:
            report.changed(f"{order.client_order_id}: {before} → {order.status}")
            if order.status == OrderStatus.CANCELLED:
                record_event(action="trading.order_cancelled", target=order, tenant=account.tenant_id,
                             description=f"{order.client_order_id} cancelled on the exchange")
            if order.is_conditional and order.status == OrderStatus.FILLED and order.position_id:
                _protective_filled(account, gateway, order, placed, report)


def _protective_filled(account, gateway: Gateway, order: Order, placed: PlacedOrder, report: Pass) -> None:
    """A stop loss or take profit fired: close the position with that reason and cancel its sibling."""
    position = order.position
    if position.status != PositionStatus.OPEN:
        return
    reason = CloseReason.STOP_LOSS if order.leg == OrderLeg.STOP_LOSS else CloseReason.TAKE_PROFIT
    price = placed.average or order.trigger_price
    actual = placed.raw.get("actualOrderId")
    realized, fees = _pnl_from_fills(position, extra_order_ids=[actual] if actual else [])
    cancel_protective_orders(gateway, position, keep=order)
    if actual:
        Fill.objects.filter(account=account, exchange_order_id=str(actual), order__isnull=True).update(order=order)
    mark_position_closed(position, close_price=Decimal(str(price)), reason=reason, realized_pnl=realized, fees=fees)
    report.changed(f"position {position.symbol} closed by {order.get_leg_display().lower()} at {price}")


def _pnl_from_fills(position: Position, *, extra_order_ids=()) -> tuple[Decimal | None, Decimal | None]:
    """Realized PnL and fees of the position from the exchange's fills (None when fills are missing)."""
    fills = list(Fill.objects.filter(account_id=position.account_id, symbol=position.symbol,
                                     traded_at__gte=position.open_time - timedelta(seconds=5)))
    order_ids = set(Order.objects.filter(position=position).exclude(exchange_order_id="")
                    .values_list("exchange_order_id", flat=True)) | {str(i) for i in extra_order_ids}
    ours = [f for f in fills if f.exchange_order_id in order_ids]
    if not ours:
        return None, None
    fees = sum((f.fee for f in ours), Decimal(0))
    return sum((f.realized_pnl for f in ours), Decimal(0)) - fees, fees


def _client_id(order: dict) -> str:
    info = order.get("info") or {}
    return str(order.get("clientOrderId") or info.get("clientAlgoId") or info.get("clientOrderId") or "")


def _sync_orphans(account: TradingAccount, exchange_orders: list[dict], report: Pass) -> None:
    """Open orders on the exchange that are not ours: kept as `external` rows so people see them."""
    ours = set(Order.objects.filter(account=account).values_list("client_order_id", flat=True))
    orphans = []
    for seen in exchange_orders:
        client_id = _client_id(seen) or f"exchange-{seen.get('id')}"
        if client_id in ours:
            continue
        orphans.append(client_id)
        placed = PlacedOrder.from_ccxt(seen)
        Order.objects.create(
            account=account, user_id=account.user_id, leg=OrderLeg.EXTERNAL, client_order_id=client_id,
            exchange_order_id=placed.exchange_order_id, symbol=seen.get("symbol") or "", side=seen.get("side") or "",
            type=seen.get("type") or "", quantity=to_decimal(seen.get("amount")) or Decimal(0),
            price=to_decimal(seen.get("price")), status=OrderStatus.OPEN, exchange_status=placed.exchange_status,
            reduce_only=bool(seen.get("reduceOnly")), tenant_id=account.tenant_id,
            error="Not placed by this platform (found on the exchange).")
        report.changed(f"orphan order {client_id} on {seen.get('symbol')} recorded")
    open_ids = {_client_id(o) or f"exchange-{o.get('id')}" for o in exchange_orders}
    for gone in Order.objects.filter(account=account, leg=OrderLeg.EXTERNAL, status=OrderStatus.OPEN).exclude(
            client_order_id__in=open_ids):
        gone.status = OrderStatus.CANCELLED
        gone.save(update_fields=["status", "updated_at"])
        report.changed(f"orphan order {gone.client_order_id} no longer open")
    report.found["orphan_orders"] = orphans


def _sync_positions(account: TradingAccount, gateway: Gateway, exchange_positions: dict, report: Pass) -> None:
    for position in Position.objects.filter(account=account, status=PositionStatus.OPEN):
        seen = exchange_positions.get(position.symbol)
        if seen is not None:
            updates = {"mark_price": to_decimal(seen.get("markPrice")),
                       "unrealized_pnl": to_decimal(seen.get("unrealizedPnl")) or Decimal(0),
                       "liquidation_price": to_decimal(seen.get("liquidationPrice"))}
            contracts = to_decimal(seen.get("contracts"))
            if contracts and contracts != position.quantity:
                updates["quantity"] = contracts
                report.changed(f"position {position.symbol}: quantity {position.quantity} → {contracts}")
            Position.objects.filter(pk=position.pk).update(**updates, updated_at=timezone.now())
            continue
        _closed_on_exchange(account, gateway, position, report)
    untracked = sorted(set(exchange_positions) - set(
        Position.objects.filter(account=account, status=PositionStatus.OPEN).values_list("symbol", flat=True)))
    if untracked:
        report.found["untracked_positions"] = untracked


def _closed_on_exchange(account: TradingAccount, gateway: Gateway, position: Position, report: Pass) -> None:
    """The exchange has no position where we have one open: find out how it closed, from the fills."""
    ours = set(Order.objects.filter(position=position).exclude(exchange_order_id="")
               .values_list("exchange_order_id", flat=True))
    closing_side = "sell" if position.side == "long" else "buy"
    closing = [f for f in Fill.objects.filter(account=account, symbol=position.symbol, side=closing_side,
                                              traded_at__gte=position.open_time - timedelta(seconds=5))
               .order_by("traded_at")]
    reason = CloseReason.EXCHANGE
    foreign = [f for f in closing if f.exchange_order_id not in ours]
    if foreign:
        found = gateway.fetch_order_by_id(foreign[-1].exchange_order_id, position.symbol)
        info = (found or {}).get("info") or {}
        client_id = str((found or {}).get("clientOrderId") or info.get("clientOrderId") or "")
        if client_id.startswith("autoclose-") or info.get("origType") == "LIQUIDATION":
            reason = CloseReason.LIQUIDATION
    else:
        protective = Order.objects.filter(position=position, leg__in=[OrderLeg.STOP_LOSS, OrderLeg.TAKE_PROFIT],
                                          status=OrderStatus.FILLED).first()
        if protective is not None:
            reason = CloseReason.STOP_LOSS if protective.leg == OrderLeg.STOP_LOSS else CloseReason.TAKE_PROFIT
    if closing:
        quantity = sum((f.quantity for f in closing), Decimal(0))
        price = sum((f.price * f.quantity for f in closing), Decimal(0)) / quantity
        entry_fees = sum((o.fee for o in Order.objects.filter(position=position, leg=OrderLeg.ENTRY)), Decimal(0))
        fees = entry_fees + sum((f.fee for f in closing), Decimal(0))
        realized = sum((f.realized_pnl for f in closing), Decimal(0)) - fees
    else:
        price, realized, fees = position.mark_price or position.entry_price, None, None
    cancel_protective_orders(gateway, position)
    mark_position_closed(position, close_price=price.quantize(Decimal("0.000000000001")), reason=reason,
                         realized_pnl=realized, fees=fees)
    report.changed(f"position {position.symbol} closed on the exchange ({reason}) at {price:.8f}")


def reconcile_active_accounts() -> int:
    """Beat: queue one pass per active account with an exchange, in every tenant."""
    from tenancy.scoping import dangerously_bypass_tenant_scope
    from trading.services.messaging import send_on_commit

    with dangerously_bypass_tenant_scope():
        accounts = list(TradingAccount.objects.filter(is_active=True, exchange__isnull=False)
                        .exclude(status="disabled").values_list("pk", "tenant_id"))
    with transaction.atomic():
        for pk, tenant_id in accounts:
            send_on_commit("trading.reconcile_account", tenant_id=tenant_id, account_id=pk, trigger="beat")
    return len(accounts)
