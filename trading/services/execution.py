"""Signal → exchange orders (the worker's side of a signal).

`process_signal` claims the signal, checks it against the account and its settings, sizes it from
risk, and places the entry and then reduce-only stop-loss / take-profit orders. Every order row is
committed as `pending`, with its deterministic client order id `<prefix>-<signal>-<leg>`, before the
exchange is called: a retry after a lost answer (or a redelivered task) finds the order by that id
instead of placing another. Every signal ends accepted or rejected with a reason a person understands.
"""

import logging
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import record_event
from core import logs
from trading import selectors
from trading.exchanges.client import (
    ExchangeRefused,
    ExchangeUnavailable,
    Gateway,
    NoCredential,
    PlacedOrder,
    gateway_for,
)
from trading.models import (
    AccountStatus,
    CloseReason,
    NotificationKind,
    Order,
    OrderLeg,
    OrderStatus,
    Position,
    PositionSide,
    PositionStatus,
    Signal,
    SignalAction,
    SignalStatus,
)
from trading.models.execution import OPEN_ORDER_STATUSES
from trading.services.locks import account_mutex
from trading.services.messaging import send_on_commit
from trading.services.notifications import enqueue_notification, plain
from trading.services.signals import finish_signal
from trading.services.sizing import SizingError, clamp_leverage, risk_to_qty, round_price

logger = logging.getLogger(__name__)

CCXT_STATUS = {"open": OrderStatus.OPEN, "closed": OrderStatus.FILLED, "canceled": OrderStatus.CANCELLED,
               "cancelled": OrderStatus.CANCELLED, "expired": OrderStatus.EXPIRED, "rejected": OrderStatus.REJECTED}


class Rejection(Exception):
    """The signal is refused; `reason` is shown to the user as is."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def client_order_id(signal_id: int, leg: str) -> str:
    return f"{settings.TRADING_CLIENT_ORDER_PREFIX}-{signal_id}-{leg}"


def claim_signal(signal_id: int) -> Signal | None:
    """Take the signal for processing (compare-and-swap); None when it has ended or another worker holds a
    fresh claim. A claim older than TRADING_SIGNAL_CLAIM_LEASE_SECONDS (a dead worker) may be taken over."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.TRADING_SIGNAL_CLAIM_LEASE_SECONDS)
    taken = Signal.objects.filter(
        Q(status=SignalStatus.QUEUED) | Q(status=SignalStatus.PROCESSING, claimed_at__lt=stale), pk=signal_id,
    ).update(status=SignalStatus.PROCESSING, claimed_at=now)
    if not taken:
        return None
    return Signal.objects.select_related("account__exchange").get(pk=signal_id)


def process_signal(*, signal_id: int) -> str | None:
    """Process one signal end to end; returns its final status (None if it was not ours to process)."""
    signal = claim_signal(signal_id)
    if signal is None:
        return None
    account = signal.account
    with logs.bind(account_id=account.pk), account_mutex(account.pk):
        account.refresh_from_db()
        try:
            reason = _execute(signal)
        except Rejection as rejection:
            _reject(signal, rejection.reason)
            return SignalStatus.REJECTED
        except ExchangeUnavailable as exc:
            _reject(signal, f"Exchange error: the exchange did not answer ({exc}). Any order in doubt is checked "
                            "by the next reconciliation.", error=True)
            return SignalStatus.REJECTED
    if finish_signal(signal, status=SignalStatus.ACCEPTED, reason=reason):
        enqueue_notification(account=account, kind=NotificationKind.SIGNAL_ACCEPTED,
                             text=f"✅ Signal #{signal.pk} {signal.action} {signal.symbol}: {reason}",
                             dedupe_key=f"signal:{signal.pk}:accepted")
    send_on_commit("trading.reconcile_account", tenant_id=account.tenant_id, account_id=account.pk,
                   trigger="after_placement", signal_id=signal.pk)
    return SignalStatus.ACCEPTED


def _reject(signal: Signal, reason: str, *, error: bool = False) -> None:
    if finish_signal(signal, status=SignalStatus.REJECTED, reason=reason):
        enqueue_notification(account=signal.account,
                             kind=NotificationKind.ERROR if error else NotificationKind.SIGNAL_REJECTED,
                             text=f"❌ Signal #{signal.pk} {signal.action} {signal.symbol} rejected: {reason}",
                             dedupe_key=f"signal:{signal.pk}:rejected")


def _execute(signal: Signal) -> str:
    account = signal.account
    if not account.is_active:
        raise Rejection("Account switched off: turn it on to trade.")
    if account.status != AccountStatus.ACTIVE:
        raise Rejection(f"Account paused: {account.pause_reason or 'resume it to trade'}.")
    config = selectors.effective_settings(account)
    if signal.action != SignalAction.CLOSE and config.daily_loss_limit is not None:
        from trading.services.risk import check_daily_loss

        if check_daily_loss(account, config=config):
            raise Rejection(f"Daily loss limit reached ({config.daily_loss_limit}): the account is paused.")
    try:
        gateway = gateway_for(account)
    except NoCredential as exc:
        raise Rejection(str(exc)) from exc
    try:
        symbol = gateway.resolve_symbol(signal.symbol)
    except ExchangeRefused as exc:
        raise Rejection(f"Exchange error: {exc}") from exc
    if symbol is None:
        raise Rejection(f"Unknown symbol {signal.symbol} on {account.exchange.name}.")
    if signal.action == SignalAction.CLOSE:
        return _close(signal, gateway, symbol)
    return _open(signal, gateway, symbol, config)


def _open(signal: Signal, gateway: Gateway, symbol: str, config) -> str:
    account = signal.account
    long = signal.action == SignalAction.BUY
    if signal.stop_price is None and config.require_stop_loss:
        raise Rejection("No stop loss: this account requires a stop price on every signal.")
    if Position.objects.filter(account=account, symbol=symbol, status=PositionStatus.OPEN).exists():
        raise Rejection(f"A position on {symbol} is already open: send a close signal first.")
    if Position.objects.filter(account=account, status=PositionStatus.OPEN).count() >= config.max_open_positions:
        raise Rejection(f"Maximum open positions reached ({config.max_open_positions}).")
    try:
        rules = gateway.market_rules(symbol)
        market_max = gateway.max_leverage(symbol)
        leverage = clamp_leverage(signal.leverage, minimum=config.min_leverage, maximum=config.max_leverage)
        if market_max is not None and leverage > market_max:
            if config.min_leverage > market_max:
                raise Rejection(f"Leverage outside the bounds: your minimum is {config.min_leverage}x, "
                                f"{symbol} allows at most {market_max}x.")
            leverage = market_max
        entry = signal.price or gateway.last_price(symbol)
        stop = signal.stop_price
        if stop is not None and (stop >= entry if long else stop <= entry):
            raise Rejection(f"Stop loss {stop} is on the wrong side of the entry {entry} for a "
                            f"{'buy' if long else 'sell'}.")
        take_profit = signal.take_profit_price
        if take_profit is not None and (take_profit <= entry if long else take_profit >= entry):
            raise Rejection(f"Take profit {take_profit} is on the wrong side of the entry {entry}.")
        equity = gateway.equity()
        # No stop (allowed by the settings): size as if the stop sat one leverage-width away, so risk%
        # of equity is the margin put up.
        stop_for_size = stop if stop is not None else (entry - entry / leverage if long else entry + entry / leverage)
        try:
            quantity = risk_to_qty(equity=equity, risk_percent=config.risk_per_trade, entry=entry,
                                   stop=stop_for_size, market=rules)
        except SizingError as exc:
            raise Rejection(f"Size below the market minimum: {exc.message}") from exc
        gateway.prepare_market(symbol, leverage)
    except ExchangeRefused as exc:
        raise Rejection(f"Exchange error: {exc}") from exc

    side = "buy" if long else "sell"
    exit_side = "sell" if long else "buy"
    entry_order = _pending_order(signal, OrderLeg.ENTRY, symbol=symbol, side=side, quantity=quantity, price=entry,
                                 stop_loss=stop, take_profit=take_profit)
    placed = _send(gateway, entry_order)
    if entry_order.status in (OrderStatus.REJECTED, OrderStatus.FAILED):
        raise Rejection(f"Exchange error: {entry_order.error}")
    filled = placed.filled if placed is not None else Decimal(0)
    if not filled:
        return (f"Entry order {entry_order.client_order_id} sent ({entry_order.status}); the position opens when "
                "it fills.")
    average = entry_order.average_price or entry
    position = Position.objects.create(
        account=account, user_id=account.user_id, signal=signal, symbol=symbol,
        side=PositionSide.LONG if long else PositionSide.SHORT, quantity=filled, entry_price=average,
        leverage=leverage, margin_type="isolated", fees=entry_order.fee, tenant_id=account.tenant_id)
    Order.objects.filter(pk=entry_order.pk).update(position=position)
    record_event(action="trading.order_placed", target=entry_order, tenant=account.tenant_id,
                 description=f"{side} {filled} {symbol} at {average} ({entry_order.client_order_id})",
                 details={"signal_id": signal.pk, "leverage": leverage, "equity": str(equity)})
    enqueue_notification(account=account, kind=NotificationKind.ORDER_FILLED,
                         text=f"🟢 Opened {position.side} {filled} {symbol} at {average} ({leverage}x)",
                         dedupe_key=f"order:{entry_order.pk}:filled")
    notes = [f"Opened {position.side} {filled} {symbol} at {average}, {leverage}x, risking "
             f"{config.risk_per_trade}% of {equity:.2f}"]
    protective = [(OrderLeg.STOP_LOSS, stop), (OrderLeg.TAKE_PROFIT, take_profit)]
    for leg, trigger in protective:
        if trigger is None:
            continue
        order = _pending_order(signal, leg, symbol=symbol, side=exit_side, quantity=filled, position=position,
                               trigger_price=round_price(trigger, rules.price_step), reduce_only=True)
        _send(gateway, order)
        if order.status in (OrderStatus.REJECTED, OrderStatus.FAILED):
            if leg == OrderLeg.STOP_LOSS:
                # Never leave a position without the stop the user asked for: close it again.
                _close_position(gateway, signal, position, reason=CloseReason.SIGNAL)
                raise Rejection(f"Exchange error placing the stop loss ({order.error}); the position was closed.")
            notes.append(f"take profit not placed: {order.error}")
        else:
            notes.append(f"{order.get_leg_display().lower()} at {order.trigger_price}")
    return "; ".join(notes) + "."


def _pending_order(signal: Signal, leg: str, **fields) -> Order:
    """The order row, committed before the exchange hears of it (or the one a previous attempt left)."""
    account = signal.account
    order, _created = Order.objects.get_or_create(
        account=account, client_order_id=client_order_id(signal.pk, leg),
        defaults={"user_id": account.user_id, "signal": signal, "leg": leg, "tenant_id": account.tenant_id,
                  "type": {"entry": "market", "close": "market", "sl": "stop_market",
                           "tp": "take_profit_market"}[leg], **fields})
    return order


def _send(gateway: Gateway, order: Order) -> PlacedOrder | None:
    """Place `order` (idempotently) and record what the exchange said on the row."""
    if order.status not in (OrderStatus.PENDING,):
        return None  # a previous attempt got an answer already
    Order.objects.filter(pk=order.pk).update(attempts=order.attempts + 1)
    try:
        placed = gateway.place(order)
    except ExchangeRefused as exc:
        order.status, order.error = OrderStatus.REJECTED, str(exc)[:500]
        order.save(update_fields=["status", "error", "updated_at"])
        return None
    except ExchangeUnavailable:
        raise  # the row stays pending: reconciliation asks the exchange for it by client id
    apply_exchange_view(order, placed)
    return placed


def apply_exchange_view(order: Order, placed: PlacedOrder) -> bool:
    """Copy the exchange's view of the order onto the row; True when something changed."""
    status = CCXT_STATUS.get(placed.status, order.status)
    if placed.filled and status == OrderStatus.OPEN:
        status = OrderStatus.PARTIALLY_FILLED
    new = {"exchange_order_id": placed.exchange_order_id or order.exchange_order_id, "status": status,
           "exchange_status": placed.exchange_status, "filled_quantity": placed.filled,
           "average_price": placed.average if placed.average else order.average_price,
           "fee": placed.fee or order.fee, "fee_currency": placed.fee_currency or order.fee_currency}
    changed = any(getattr(order, key) != value for key, value in new.items())
    if changed:
        for key, value in new.items():
            setattr(order, key, value)
        order.save(update_fields=[*new, "updated_at"])
    return changed


def _close(signal: Signal, gateway: Gateway, symbol: str) -> str:
    position = Position.objects.filter(account=signal.account, symbol=symbol, status=PositionStatus.OPEN).first()
    if position is None:
        raise Rejection(f"No open position on {symbol} to close.")
    try:
        close_order = _close_position(gateway, signal, position, reason=CloseReason.SIGNAL)
    except ExchangeRefused as exc:
        raise Rejection(f"Exchange error: {exc}") from exc
    return (f"Closed {position.side} {plain(position.quantity)} {symbol} at {plain(close_order.average_price)}, "
            f"PnL {position.realized_pnl:.2f}.")


def _close_position(gateway: Gateway, signal: Signal, position: Position, *, reason: str) -> Order:
    """Cancel the position's stop/take-profit orders, then close it with a reduce-only market order."""
    cancel_protective_orders(gateway, position)
    order = _pending_order(signal, OrderLeg.CLOSE, symbol=position.symbol, position=position,
                           side="sell" if position.side == PositionSide.LONG else "buy",
                           quantity=position.quantity, reduce_only=True)
    _send(gateway, order)
    if order.status in (OrderStatus.REJECTED, OrderStatus.FAILED):
        raise ExchangeRefused(order.error)
    order.refresh_from_db()
    mark_position_closed(position, close_price=order.average_price or position.entry_price, reason=reason)
    return order


def cancel_protective_orders(gateway: Gateway, position: Position, *, keep: Order | None = None) -> int:
    """Cancel the open stop-loss/take-profit orders of `position` (except `keep`); returns how many."""
    cancelled = 0
    for order in Order.objects.filter(position=position, leg__in=[OrderLeg.STOP_LOSS, OrderLeg.TAKE_PROFIT],
                                      status__in=OPEN_ORDER_STATUSES):
        if keep is not None and order.pk == keep.pk:
            continue
        if order.exchange_order_id:
            gateway.cancel(order)
        order.status = OrderStatus.CANCELLED
        order.save(update_fields=["status", "updated_at"])
        record_event(action="trading.order_cancelled", target=order, tenant=order.tenant_id,
                     description=f"{order.get_leg_display()} {order.client_order_id} cancelled "
                                 f"(position {position.pk} closed)")
        cancelled += 1
    return cancelled


@transaction.atomic
def mark_position_closed(position: Position, *, close_price: Decimal, reason: str,
                         realized_pnl: Decimal | None = None, fees: Decimal | None = None) -> bool:
    """Close the position row once (compare-and-swap on `open`) with its PnL, and tell the owner."""
    direction = Decimal(1) if position.side == PositionSide.LONG else Decimal(-1)
    if fees is None:
        fees = sum((o.fee for o in Order.objects.filter(position=position)), Decimal(0))
    if realized_pnl is None:
        realized_pnl = (close_price - position.entry_price) * position.quantity * direction - fees
    now = timezone.now()
    changed = Position.objects.filter(pk=position.pk, status=PositionStatus.OPEN).update(
        status=PositionStatus.CLOSED, close_price=close_price, close_reason=reason, close_time=now,
        realized_pnl=realized_pnl, fees=fees, unrealized_pnl=0, updated_at=now)
    if not changed:
        return False
    position.status, position.close_price, position.close_reason = PositionStatus.CLOSED, close_price, reason
    position.realized_pnl, position.fees, position.close_time = realized_pnl, fees, now
    account = position.account
    enqueue_notification(account=account, kind=NotificationKind.POSITION_CLOSED,
                         text=f"{'💰' if realized_pnl >= 0 else '🔻'} Closed {position.side} "
                              f"{plain(position.quantity)} {position.symbol} at {plain(close_price)} "
                              f"({position.get_close_reason_display()}), PnL {realized_pnl:.2f}",
                         details={"position_id": position.pk, "pnl": str(realized_pnl), "reason": reason},
                         dedupe_key=f"position:{position.pk}:closed")
    return True
