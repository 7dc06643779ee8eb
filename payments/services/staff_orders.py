"""Staff acting on an assigned order beyond its status: reassign it, give it more time, resend its callbacks.

Status changes (cancel, mark paid, complete) are `execution.set_order_status_by_staff`; the actions here sit
beside it with the same rules:
- `can_manage_orders` (payments.permissions.MANAGE_ORDERS), and the order in one of the actor's tenants
  (`tenancy.authz.can(actor, "orders.manage", obj=order)`) — a flag is not a pass into another operator;
- a reason, recorded in the audit trail with what changed;
- balances move only through payments.services.ledger, under the locks of payments.services.locks.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from payments.callbacks.delivery import resend_callback
from payments.errors import ConflictError, PaymentsError
from payments.models import (
    CallbackEvent,
    IncomingOrder,
    MovementKind,
    OrderHistory,
    OrderType,
    ReqTrader,
    RequisiteStatus,
)

from . import ledger, turnover
from .assignment import trader_commission
from .audit_trail import record
from .execution import EXPIRING_STATUSES, clean_reason, require_order_manager
from .locks import lock_order, lock_trader_balance

Status = OrderHistory.Status

# Extending an order's time: at most a day per step (the store's customer is waiting on the other end).
EXTEND_MAX_MINUTES = 24 * 60
# A reassignment moves an order nobody has paid yet: once the customer paid a requisite, the money is there.
REASSIGNABLE_STATUSES = (Status.PENDING,)
# One resend waits for the store's answer; more per click would hold the page too long.
MAX_RESEND = 20


# --- more time ----------------------------------------------------------------------------------------

@transaction.atomic(durable=True)
def extend_order_expiry(*, order: OrderHistory, actor, minutes: int, reason: str) -> OrderHistory:
    """Give an open (pending or processing) order `minutes` more before it expires, counted from its current
    deadline or from now, whichever is later."""
    require_order_manager(actor, order)
    reason = clean_reason(reason)
    if not isinstance(minutes, int) or not 1 <= minutes <= EXTEND_MAX_MINUTES:
        raise PaymentsError(f"Between 1 and {EXTEND_MAX_MINUTES} minutes.", code="invalid_minutes",
                            fields={"minutes": [f"Between 1 and {EXTEND_MAX_MINUTES} minutes."]})
    order = lock_order(order)
    if order.status not in EXPIRING_STATUSES:
        raise ConflictError(f"The order is {order.status}; only a pending or processing order gets more time.",
                            code="invalid_transition")
    now = timezone.now()
    old = order.expires_at
    new = max(old or now, now) + timedelta(minutes=minutes)
    OrderHistory.objects.unscoped().filter(pk=order.pk, tenant_id=order.tenant_id).update(expires_at=new,
                                                                                          updated_at=now)
    order.expires_at = new
    record(action="order.expiry_extended", target=order, actor=actor,
           description=f"Staff gave {order} {minutes} more minutes: {reason}",
           details={"reason": reason, "minutes": minutes, "by_staff": True,
                    "changes": {"expires_at": {"old": old, "new": new}}})
    return order


# --- another requisite --------------------------------------------------------------------------------

def reassign_candidates(order: OrderHistory) -> QuerySet[ReqTrader]:
    """Requisites the order may move to, best first as assignment would rank them: approved and in
    distribution, of its operator and fiat, of a trader in work (not blocked) whose switches and the
    requisite's take the order's type, of the method and bank the store asked for (if it asked), not the one
    it has. (The limits are the staff's call: they see the order and decide.)"""
    switch = "pay_in" if order.order_type == OrderType.PAY_IN else "pay_out"
    rows = (ReqTrader.objects.unscoped()
            .filter(tenant_id=order.tenant_id, fiat_id=order.fiat_id, status=RequisiteStatus.APPROVE,
                    is_excluded_from_distribution=False, trader__in_work=True, **{f"trader__{switch}": True,
                                                                                 f"settings__{switch}": True})
            .exclude(trader__user__status=User.Status.BLOCKED)
            .exclude(pk=order.requisite_id)
            .select_related("trader__user", "method", "bank")
            .order_by("trader_priority", "last_used_at", "pk"))
    incoming = order.incoming_order
    if incoming.target_method_id:
        rows = rows.filter(method_id=incoming.target_method_id)
    if incoming.target_bank_id:
        rows = rows.filter(bank_id=incoming.target_bank_id)
    return rows


@dataclass(frozen=True)
class Reassignment:
    order: OrderHistory
    old_requisite_id: int
    old_trader_id: int
    hold_moved: bool


@transaction.atomic(durable=True)
def reassign_order(*, order: OrderHistory, requisite: ReqTrader, actor, reason: str) -> Reassignment:
    """Move a pending order to another requisite (of the same or another trader).

    A PayIn's hold is on its trader's crypto: for another trader it moves off that balance and onto the new
    trader's (refused when their available crypto cannot cover it), both under locks taken in trader
    order. A PayOut's hold is on the store's balance and stays. The trader's commission follows the new trader.
    """
    require_order_manager(actor, order)
    reason = clean_reason(reason)
    order = lock_order(order)
    if order.status not in REASSIGNABLE_STATUSES:
        raise ConflictError(f"The order is {order.status}; only an order nobody has paid yet is reassigned.",
                            code="invalid_transition")
    requisite = reassign_candidates(order).filter(pk=requisite.pk).first()
    if requisite is None:
        raise PaymentsError("Choose an approved requisite of this operator, in the order's currency.",
                            code="invalid_requisite", fields={"requisite": ["Not a requisite this order may move to."]})
    old_requisite_id, old_trader_id = order.requisite_id, order.trader_id
    new_trader = requisite.trader
    hold_moved = order.order_type == OrderType.PAY_IN and new_trader.pk != old_trader_id and bool(order.hold_amount)
    if hold_moved:
        _move_payin_hold(order, old_trader_id=old_trader_id, new_trader_id=new_trader.pk)
    percent = (new_trader.pay_in_commission_percent if order.order_type == OrderType.PAY_IN
               else new_trader.pay_out_commission_percent)
    now = timezone.now()
    updates = {"trader_id": new_trader.pk, "requisite_id": requisite.pk, "method_id": requisite.method_id,
               "bank_id": requisite.bank_id, "trader_commission": trader_commission(order.amount_currency, percent),
               "updated_at": now}
    old_commission = order.trader_commission
    changed = OrderHistory.objects.unscoped().filter(pk=order.pk, tenant_id=order.tenant_id,
                                                     status=order.status).update(**updates)
    if changed != 1:
        raise ConflictError("The order changed meanwhile; reload it and try again.", code="order_changed")
    for name, value in updates.items():
        setattr(order, name, value)
    order.trader = new_trader
    order.requisite = requisite
    # What the order counts against the limits moves with it (payments.services.turnover), the two rows in
    # requisite order (two reassignments crossing each other cannot deadlock).
    counted = turnover.counted(order.status, order.total_fiat, order.confirmed_fiat)
    for requisite_id, amount in sorted({old_requisite_id: -counted, requisite.pk: counted}.items()):
        turnover.add(tenant_id=order.tenant_id, requisite_id=requisite_id, created_at=order.created_at,
                     amount=amount)
    IncomingOrder.objects.unscoped().filter(pk=order.incoming_order_id, tenant_id=order.tenant_id).update(
        payment_method_id=requisite.method_id, bank_id=requisite.bank_id, updated_at=now)
    record(action="order.reassigned", target=order, actor=actor,
           description=f"Staff moved {order} from requisite {old_requisite_id} to {requisite.pk}: {reason}",
           details={"reason": reason, "by_staff": True, "hold_moved": hold_moved, "hold_amount": order.hold_amount,
                    "changes": {"requisite": {"old": old_requisite_id, "new": requisite.pk},
                                "trader": {"old": old_trader_id, "new": new_trader.pk},
                                "trader_commission": {"old": old_commission, "new": order.trader_commission}}})
    return Reassignment(order=order, old_requisite_id=old_requisite_id, old_trader_id=old_trader_id,
                        hold_moved=hold_moved)


def _move_payin_hold(order: OrderHistory, *, old_trader_id: int, new_trader_id: int) -> None:
    """Take the order's hold off the old trader's crypto and put it on the new one's; both balance rows
    locked in trader id order (two reassignments crossing each other cannot deadlock)."""
    held = order.hold_amount
    balances = {}
    for trader_id in sorted((old_trader_id, new_trader_id)):
        balances[trader_id] = lock_trader_balance(tenant_id=order.tenant_id, trader_id=trader_id,
                                                  fiat_currency_id=order.fiat_id,
                                                  crypto_currency_id=order.crypto_currency_id)
    # The order's own HOLD row stays where it was written (one per order, see ORDER_ONCE_KINDS); the move is
    # a pair of adjustments of the hold that net to zero on the order and follow it from balance to balance.
    ledger.trader_crypto_entry(balances[old_trader_id], kind=MovementKind.ADJUSTMENT, hold_change=-held,
                               order=order, description=f"Hold moved off: {order.hash_id} reassigned")
    try:
        ledger.trader_crypto_entry(balances[new_trader_id], kind=MovementKind.ADJUSTMENT, hold_change=held,
                                   order=order, description=f"Hold moved on: {order.hash_id} reassigned")
    except PaymentsError as exc:
        if exc.code != "insufficient_balance":
            raise
        raise PaymentsError(f"That trader's available crypto does not cover this order's hold of {held}.",
                            code="insufficient_balance",
                            fields={"requisite": ["The trader's available crypto does not cover the hold."]}) from exc


# --- callbacks ----------------------------------------------------------------------------------------

def order_callback_events(order: OrderHistory) -> QuerySet[CallbackEvent]:
    return (CallbackEvent.objects.unscoped()
            .filter(tenant_id=order.tenant_id, incoming_order_id=order.incoming_order_id)
            .order_by("created_at", "pk"))


@dataclass(frozen=True)
class ResendResult:
    delivered: int
    failed: list[str]


def resend_order_callbacks(*, order: OrderHistory, actor, reason: str, only_undelivered: bool = True,
                           ) -> ResendResult:
    """Send the order's callback events to its store again now (the undelivered ones, or all), each a manual,
    audited attempt (payments.callbacks.delivery.resend_callback). Outside a transaction: each waits for the
    store's answer."""
    require_order_manager(actor, order)
    reason = clean_reason(reason)
    events = order_callback_events(order)
    if only_undelivered:
        events = events.exclude(status=CallbackEvent.Status.DELIVERED)
    events = list(events[:MAX_RESEND + 1])
    if not events:
        raise PaymentsError("This order has no callback to resend.", code="nothing_to_resend")
    if len(events) > MAX_RESEND:
        raise PaymentsError(f"More than {MAX_RESEND} callbacks; resend them from the callbacks list.",
                            code="too_many")
    if not order.store.callback_url:
        raise PaymentsError("The store has no callback URL configured.", code="callback_not_configured")
    record(action="order.callbacks_resent", target=order, actor=actor,
           description=f"Staff resent {len(events)} callback(s) of {order}: {reason}",
           details={"reason": reason, "events": [event.event_id for event in events], "by_staff": True})
    delivered, failed = 0, []
    for event in events:
        attempt = resend_callback(event=event, actor=actor)
        if attempt.error:
            failed.append(f"{event.event_type}: {attempt.error}")
        else:
            delivered += 1
    return ResendResult(delivered=delivered, failed=failed)
