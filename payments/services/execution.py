"""Order execution after assignment: pay, confirm, dispute, cancel, expire, appeal, staff changes.

Every status change goes through one path (`_change_status`): the order row is
locked (payments.services.locks, fixed order), the move is checked against
`TRANSITIONS`, the ledger moves balances (payments.services.ledger: hold,
release, settlement), the status is written compare-and-swap (`WHERE status =
<the status we locked>`), the change is audited and the store's callback event
is written — all in one transaction, so either everything happened or nothing.

Who may do what:
- the paying customer (no login; the order's hash id is the credential): mark a
  PayIn paid, open an appeal;
- the order's trader: confirm (a different amount too: underpaid/overpaid),
  dispute, cancel while nobody has paid yet, see a PayOut customer's requisite
  (audited), open an appeal;
- the order's merchant: cancel while nobody has paid yet, open an appeal;
- staff: `can_manage_orders` changes a status by hand (with a reason),
  `can_handle_appeals` resolves appeals (complete or cancel);
- the expiry sweeper: pending and processing orders past `expires_at`.
"""

import logging
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from payments.callbacks.events import enqueue_order_event
from payments.errors import ConflictError, PaymentsError
from payments.models import Appeal, IncomingOrder, Merchant, OrderHistory, OrderType
from payments.permissions import HANDLE_APPEALS, MANAGE_ORDERS, VIEW_ORDERS, VIEW_SENSITIVE, has_any_flag
from tenancy import authz
from tenancy.models import Tenant
from tenancy.scoping import tenant_context

from . import ledger, order_state, turnover
from .audit_trail import record
from .locks import lock_appeal, lock_order
from .receipts import CheckedFile, check_upload

logger = logging.getLogger(__name__)

Status = OrderHistory.Status

# From each status, the statuses an order may move to; anything else is refused.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PENDING: frozenset({Status.PROCESSING, Status.COMPLETED, Status.DISPUTED, Status.CANCELLED,
                               Status.EXPIRED, Status.FAILED}),
    Status.PROCESSING: frozenset({Status.COMPLETED, Status.DISPUTED, Status.CANCELLED, Status.EXPIRED,
                                  Status.FAILED}),
    Status.DISPUTED: frozenset({Status.COMPLETED, Status.CANCELLED, Status.FAILED}),
    # A late payment found by an appeal can still complete an expired order (its hold is gone by then).
    Status.EXPIRED: frozenset({Status.COMPLETED, Status.CANCELLED}),
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.FAILED: frozenset(),
}
OPEN_STATUSES = (Status.PENDING, Status.PROCESSING, Status.DISPUTED)
EXPIRING_STATUSES = (Status.PENDING, Status.PROCESSING)
APPEALABLE_STATUSES = (Status.PENDING, Status.PROCESSING, Status.DISPUTED, Status.EXPIRED)


def can_open_appeal(order: OrderHistory | None, appeals) -> bool:
    """Whether `order` may get a new appeal now: its status allows one and none of `appeals` is open."""
    return (order is not None and order.status in APPEALABLE_STATUSES
            and not any(appeal.status == Appeal.Status.OPEN for appeal in appeals))


# Closing without completion gives the hold back.
RELEASING_STATUSES = (Status.CANCELLED, Status.EXPIRED, Status.FAILED)

EVENT_FOR_STATUS = {
    Status.PROCESSING: "order.paid",
    Status.COMPLETED: "order.completed",
    Status.DISPUTED: "order.disputed",
    Status.CANCELLED: "order.cancelled",
    Status.EXPIRED: "order.expired",
    Status.FAILED: "order.failed",
}
REASON_MAX = 2000


def can_transition(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def allowed_targets(current: str) -> list[str]:
    """The statuses `current` may move to, in the order of the Status choices (for forms)."""
    return [value for value in Status.values if can_transition(current, value)]


def _refuse(order: OrderHistory, new: str) -> ConflictError:
    return ConflictError(f"The order is {order.status}; it cannot become {new}.", code="invalid_transition")


def clean_reason(reason: str, *, required: bool = True, max_length: int = REASON_MAX) -> str:
    """A person's reason for a decision, stripped: refused when missing (if required) or longer than the column
    that keeps it."""
    reason = (reason or "").strip()
    if required and not reason:
        raise PaymentsError("Say why.", code="reason_required", fields={"reason": ["This field is required."]})
    if len(reason) > max_length:
        raise PaymentsError(f"At most {max_length} characters.", code="invalid_reason",
                            fields={"reason": [f"At most {max_length} characters."]})
    return reason


def may_manage_order(actor, order: OrderHistory) -> bool:
    """`can_manage_orders` and the order's tenant is one of the actor's (a super admin: any): a flag is not a
    pass into another operator."""
    return has_any_flag(actor, MANAGE_ORDERS) and authz.can(actor, "orders.manage", obj=order)


def require_order_manager(actor, order: OrderHistory) -> None:
    if not may_manage_order(actor, order):
        raise PermissionDenied("Acting on this order needs can_manage_orders in its operator.")


def _is_user(user, user_id) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active and user.pk == user_id


def is_order_trader(user, order: OrderHistory) -> bool:
    return _is_user(user, order.trader.user_id)


def is_order_merchant(user, order: OrderHistory) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return Merchant.objects.unscoped().filter(pk=order.merchant_id, tenant_id=order.tenant_id,
                                              user_id=user.pk).exists()


def _save_file(field_file, checked: CheckedFile | None) -> str | None:
    if checked is None:
        return None
    field_file.save(checked.name, checked.content, save=False)
    return field_file.name


def _change_status(order: OrderHistory, new: str, *, actor, action: str, description: str,
                   updates: dict | None = None, details: dict | None = None) -> OrderHistory:
    """Write the status of a locked order compare-and-swap, audit it and record the store's event.

    The caller has locked `order` (lock_order), checked the transition and made
    the ledger movements; this refuses if the row changed status meanwhile.
    """
    old = order.status
    if not can_transition(old, new):
        raise _refuse(order, new)
    old_confirmed = order.confirmed_fiat
    updates = {**(updates or {}), "status": new, "updated_at": timezone.now()}
    changed = OrderHistory.objects.unscoped().filter(pk=order.pk, tenant_id=order.tenant_id, status=old).update(
        **updates)
    if changed != 1:
        raise ConflictError("The order changed meanwhile; reload it and try again.", code="order_changed")
    for name, value in updates.items():
        setattr(order, name, value)
    # What the requisite's limits count moves with the order, in this transaction, after the ledger's locks.
    turnover.record_change(order, old_status=old, old_confirmed=old_confirmed)
    order_state.follow_execution(order)
    record(action=action, target=order, actor=actor, description=description,
           details={"changes": {"status": {"old": old, "new": new}}, **(details or {})})
    enqueue_order_event(incoming_order=order.incoming_order, event_type=EVENT_FOR_STATUS[new])
    return order


def _complete(order: OrderHistory, *, actor, action: str, description: str, confirmed_fiat: Decimal | None,
              updates: dict | None = None, details: dict | None = None) -> OrderHistory:
    """Settle a locked order and mark it completed; the amounts requested and confirmed are both audited."""
    if not can_transition(order.status, Status.COMPLETED):
        raise _refuse(order, Status.COMPLETED)
    settlement = ledger.settlement_for(order, confirmed_fiat)
    old_commissions = {"store_commission": order.store_commission, "trader_commission": order.trader_commission}
    ledger.settle_order(order, settlement)
    updates = {**(updates or {}), "completed_at": timezone.now(), "confirmed_fiat": settlement.fiat,
               "confirmed_crypto": settlement.crypto, "amount_mismatch": settlement.mismatch,
               "store_commission": settlement.store_commission, "trader_commission": settlement.trader_commission,
               "hold_amount": order.hold_amount}
    amounts = {
        "requested_fiat": order.total_fiat, "confirmed_fiat": settlement.fiat,
        "requested_crypto": order.amount_currency, "confirmed_crypto": settlement.crypto,
        "amount_mismatch": settlement.mismatch,
        "store_commission": settlement.store_commission, "trader_commission": settlement.trader_commission,
    }
    if settlement.mismatch:
        amounts["requested_commissions"] = old_commissions
        description += f" ({settlement.mismatch}: {settlement.fiat} of {order.total_fiat} {order.fiat.code})"
    return _change_status(order, Status.COMPLETED, actor=actor, action=action, description=description,
                          updates=updates, details={**amounts, **(details or {})})


def _close(order: OrderHistory, new: str, *, actor, action: str, description: str, updates: dict | None = None,
           details: dict | None = None) -> OrderHistory:
    """Cancel, expire or fail a locked order; the hold goes back in the same transaction."""
    if not can_transition(order.status, new):
        raise _refuse(order, new)
    released = order.hold_amount
    ledger.release_order_hold(order)
    updates = {**(updates or {}), "hold_amount": order.hold_amount}
    return _change_status(order, new, actor=actor, action=action, description=description, updates=updates,
                          details={"hold_released": released, **(details or {})})


# --- holds at assignment --------------------------------------------------------------------------------

@transaction.atomic
def place_payin_hold(*, order: OrderHistory):
    """Reserve the trader's crypto for a just-assigned PayIn (the assignment worker calls this in its transaction).

    Raises PaymentsError `insufficient_balance` if the trader's available crypto
    cannot cover the order; the caller's transaction then rolls back as a whole.
    """
    if order.order_type != OrderType.PAY_IN:
        raise PaymentsError("Only a PayIn holds the trader's crypto.", code="invalid_order_type")
    return _place_hold(order)


@transaction.atomic
def place_payout_hold(*, order: OrderHistory):
    """Reserve the store's crypto (amount and commission) for a just-assigned PayOut."""
    if order.order_type != OrderType.PAY_OUT:
        raise PaymentsError("Only a PayOut holds the store's crypto.", code="invalid_order_type")
    return _place_hold(order)


@transaction.atomic
def place_order_hold(*, order: OrderHistory):
    """The hold a just-assigned order of either type needs (see payments.services.ledger)."""
    return _place_hold(order)


def _place_hold(order: OrderHistory):
    if order.status != Status.PENDING:
        raise ConflictError(f"The order is {order.status}; only a pending order takes a hold.",
                            code="invalid_transition")
    row = ledger.place_order_hold(order)
    record(action="order.hold_placed", target=order, description=f"Hold of {order.hold_amount} for {order}",
           details={"hold_amount": order.hold_amount, "order_type": order.order_type})
    return row


# --- the customer -------------------------------------------------------------------------------------

@transaction.atomic
def mark_paid(*, order: OrderHistory, receipt=None) -> OrderHistory:
    """The customer says they have paid a PayIn ("I have paid"), optionally with a receipt.

    The trader then has ORDER_CONFIRMATION_WINDOW to confirm before the order
    expires (never less time than it had).
    """
    checked = check_upload(receipt) if receipt is not None else None
    order = lock_order(order)
    if order.order_type != OrderType.PAY_IN:
        raise PaymentsError("Only a PayIn is paid by the customer.", code="invalid_order_type")
    if order.status != Status.PENDING:
        raise ConflictError("This order is not waiting for payment.", code="not_awaiting_payment")
    now = timezone.now()
    if order.expires_at is not None and order.expires_at <= now:
        raise ConflictError("The time to pay this order is over.", code="order_expired")
    expires_at = now + settings.ORDER_CONFIRMATION_WINDOW
    if order.expires_at is not None and order.expires_at > expires_at:
        expires_at = order.expires_at
    updates = {"paid_at": now, "expires_at": expires_at}
    receipt_name = _save_file(order.customer_receipt, checked)
    if receipt_name:
        updates["customer_receipt"] = receipt_name
    IncomingOrder.objects.unscoped().filter(pk=order.incoming_order_id, tenant_id=order.tenant_id).update(
        payment_details_submitted=True, updated_at=now)
    order.incoming_order.payment_details_submitted = True
    return _change_status(order, Status.PROCESSING, actor=None, action="order.paid",
                          description=f"Customer marked {order} as paid" + (" with a receipt" if receipt_name else ""),
                          updates=updates, details={"receipt": bool(receipt_name), "expires_at": expires_at})


# --- the trader ---------------------------------------------------------------------------------------

@transaction.atomic
def confirm_order(*, order: OrderHistory, actor, confirmed_fiat: Decimal | None = None,
                  receipt=None) -> OrderHistory:
    """The order's trader confirms: the PayIn's money arrived, or the PayOut is paid (receipt required).

    `confirmed_fiat` different from the order's amount is settled as it is
    (underpaid / overpaid), recorded on the order, audited and sent in the callback.
    """
    checked = check_upload(receipt) if receipt is not None else None
    order = lock_order(order)
    if not is_order_trader(actor, order):
        raise PermissionDenied("Only the order's trader confirms it.")
    if order.status not in (Status.PENDING, Status.PROCESSING):
        raise ConflictError(f"The order is {order.status}; it cannot be confirmed now.", code="invalid_transition")
    if order.order_type == OrderType.PAY_OUT and checked is None:
        raise PaymentsError("Attach the receipt of the payment.", code="receipt_required",
                            fields={"receipt": ["Required for a PayOut."]})
    updates = {}
    receipt_name = _save_file(order.trader_receipt, checked)
    if receipt_name:
        updates["trader_receipt"] = receipt_name
    return _complete(order, actor=actor, action="order.completed",
                     description=f"Trader confirmed {order}", confirmed_fiat=confirmed_fiat, updates=updates,
                     details={"receipt": bool(receipt_name)})


@transaction.atomic(durable=True)
def dispute_order(*, order: OrderHistory, actor, reason: str) -> OrderHistory:
    """The order's trader disputes it (e.g. the money did not arrive); support gets an appeal to resolve."""
    reason = clean_reason(reason)
    order = lock_order(order)
    if not is_order_trader(actor, order):
        raise PermissionDenied("Only the order's trader disputes it.")
    if order.status not in (Status.PENDING, Status.PROCESSING):
        raise ConflictError(f"The order is {order.status}; it cannot be disputed now.", code="invalid_transition")
    _change_status(order, Status.DISPUTED, actor=actor, action="order.disputed",
                   description=f"Trader disputed {order}: {reason}", updates={"dispute_reason": reason},
                   details={"reason": reason})
    if not Appeal.objects.unscoped().filter(order=order, status=Appeal.Status.OPEN).exists():
        _create_appeal(order, role=Appeal.OpenedBy.TRADER, actor=actor, reason=reason, evidence=None)
    return order


def _ensure_fiat_covers_payout(order: OrderHistory) -> None:
    """Refuse to send a trader off to pay a PayOut their fiat balance (with its credit) could not settle."""
    available = ledger.largest_confirmable_fiat(order)
    if available < order.total_fiat:
        raise PaymentsError(
            f"Your {order.fiat.code} balance ({available} with credit) does not cover this payout of "
            f"{order.total_fiat}; do not pay it. Cancel it or ask support.", code="insufficient_balance")


def reveal_customer_requisite(*, order: OrderHistory, viewer, reason: str = "") -> str:
    """The PayOut customer's whole card/account number: for the order's trader while the order is open,
    or staff with `can_view_sensitive_data`. Every reveal is in the audit trail."""
    if order.order_type != OrderType.PAY_OUT:
        raise PaymentsError("Only a PayOut has a customer requisite.", code="invalid_order_type")
    as_trader = is_order_trader(viewer, order)
    if as_trader:
        if order.status not in OPEN_STATUSES:
            raise ConflictError(f"The order is {order.status}; its customer requisite is no longer shown.",
                                code="order_closed")
        _ensure_fiat_covers_payout(order)
    elif not has_any_flag(viewer, VIEW_SENSITIVE):
        raise PermissionDenied("Only the order's trader, or staff allowed to see sensitive data, see it.")
    number = order.incoming_order.customer_requisite
    if not number:
        raise PaymentsError("The store gave no customer requisite for this PayOut.", code="no_customer_requisite")
    with transaction.atomic():
        record(action="order.customer_requisite_revealed", target=order, actor=viewer,
               description=f"Customer requisite of {order} shown to the {'trader' if as_trader else 'staff'}"
               + (f": {reason}" if reason else ""),
               details={"as": "trader" if as_trader else "staff", "reason": reason})
    return number


# --- cancel and expire --------------------------------------------------------------------------------

@transaction.atomic
def cancel_order(*, order: OrderHistory, actor=None, reason: str = "") -> OrderHistory:
    """Cancel an assigned order and release its hold.

    The order's trader or merchant may cancel only while it is pending (nobody
    has said they paid); staff with `can_manage_orders` whenever the transition
    table allows; `actor=None` is the system.
    """
    reason = clean_reason(reason, required=False)
    order = lock_order(order)
    if actor is not None:
        if is_order_trader(actor, order) or is_order_merchant(actor, order):
            if order.status != Status.PENDING:
                raise ConflictError("Only an order nobody has paid yet can be cancelled; open an appeal instead.",
                                    code="invalid_transition")
        elif not has_any_flag(actor, MANAGE_ORDERS):
            raise PermissionDenied("Not allowed to cancel this order.")
    return _close(order, Status.CANCELLED, actor=actor, action="order.cancelled",
                  description=f"{order} cancelled" + (f": {reason}" if reason else ""), details={"reason": reason})


def expire_due_orders(*, now: datetime | None = None, limit: int = 500) -> int:
    """Expire pending/processing orders past `expires_at`, tenant by tenant; returns how many.

    Each order in its own transaction, re-checked under its lock (a customer may
    have just marked it paid, which moves `expires_at`). No RLS bypass is needed:
    the sweep enters each tenant in turn.
    """
    now = now or timezone.now()
    expired = 0
    for tenant_id in Tenant.objects.order_by("pk").values_list("pk", flat=True):
        with tenant_context(tenant_id):
            due = list(OrderHistory.objects.filter(status__in=EXPIRING_STATUSES, expires_at__lte=now)
                       .order_by("expires_at", "pk").values_list("pk", flat=True)[:limit])
            for pk in due:
                try:
                    expired += _expire_one(pk, tenant_id, now)
                except PaymentsError:
                    logger.exception("could not expire order %s", pk)
    return expired


@transaction.atomic(durable=True)
def _expire_one(pk: int, tenant_id, now: datetime) -> int:
    order = lock_order(OrderHistory(pk=pk, tenant_id=tenant_id))
    if order.status not in EXPIRING_STATUSES or order.expires_at is None or order.expires_at > now:
        return 0
    _close(order, Status.EXPIRED, actor=None, action="order.expired",
           description=f"{order} expired unconfirmed at {order.expires_at:%Y-%m-%d %H:%M} UTC",
           details={"expires_at": order.expires_at})
    return 1


# --- appeals ------------------------------------------------------------------------------------------

def _create_appeal(order: OrderHistory, *, role: str, actor, reason: str, evidence) -> Appeal:
    appeal = Appeal(tenant_id=order.tenant_id, order=order, opened_by_role=role,
                    opened_by=actor if role != Appeal.OpenedBy.CUSTOMER else None, reason=reason)
    if evidence is not None:
        appeal.evidence.save(evidence.name, evidence.content, save=False)
    appeal.save()
    record(action="appeal.opened", target=appeal, actor=actor,
           description=f"Appeal on {order} opened by the {role}: {reason}",
           details={"order": order.pk, "role": role, "reason": reason, "evidence": evidence is not None})
    enqueue_order_event(incoming_order=order.incoming_order, event_type="appeal.opened")
    return appeal


def _check_opener(order: OrderHistory, role: str, actor) -> None:
    if role == Appeal.OpenedBy.CUSTOMER:
        return
    if role == Appeal.OpenedBy.TRADER:
        allowed = is_order_trader(actor, order)
    elif role == Appeal.OpenedBy.MERCHANT:
        allowed = is_order_merchant(actor, order)
    elif role == Appeal.OpenedBy.STAFF:
        allowed = has_any_flag(actor, VIEW_ORDERS)
    else:
        raise PaymentsError("Unknown role.", code="invalid_role")
    if not allowed:
        raise PermissionDenied(f"Not allowed to open an appeal on this order as its {role}.")


@transaction.atomic(durable=True)
def open_appeal(*, order: OrderHistory, opened_by_role: str, actor=None, reason: str,
                evidence=None) -> Appeal:
    """Open an appeal on an order; an open order is disputed meanwhile, so it cannot expire under support's eyes.

    One open appeal per order (a second is refused with 409 `appeal_open`).
    """
    reason = clean_reason(reason)
    checked = check_upload(evidence, field="evidence") if evidence is not None else None
    order = lock_order(order)
    _check_opener(order, opened_by_role, actor)
    if order.status not in APPEALABLE_STATUSES:
        raise ConflictError(f"The order is {order.status}; it cannot be appealed.", code="not_appealable")
    if Appeal.objects.unscoped().filter(order=order, status=Appeal.Status.OPEN).exists():
        raise ConflictError("An appeal on this order is already open.", code="appeal_open")
    audited = actor if opened_by_role != Appeal.OpenedBy.CUSTOMER else None  # a customer is nobody's account
    if order.status in (Status.PENDING, Status.PROCESSING):
        _change_status(order, Status.DISPUTED, actor=audited, action="order.disputed",
                       description=f"{order} disputed: appeal by the {opened_by_role}",
                       updates={"dispute_reason": reason}, details={"reason": reason, "role": opened_by_role})
    return _create_appeal(order, role=opened_by_role, actor=audited, reason=reason, evidence=checked)


@transaction.atomic(durable=True)
def resolve_appeal(*, appeal: Appeal, actor, resolution: str, note: str = "",
                   confirmed_fiat: Decimal | None = None) -> Appeal:
    """Support with `can_handle_appeals` closes an appeal: the order is completed (settled, for
    `confirmed_fiat` if given) or cancelled (hold released) — unless it already is."""
    if not has_any_flag(actor, HANDLE_APPEALS):
        raise PermissionDenied("Resolving appeals needs can_handle_appeals.")
    if resolution not in (Appeal.Resolution.COMPLETED, Appeal.Resolution.CANCELLED):
        raise PaymentsError("Resolve by completing or cancelling the order.", code="invalid_resolution",
                            fields={"resolution": ["Choose complete or cancel."]})
    note = clean_reason(note, required=False)
    order = lock_order(OrderHistory(pk=appeal.order_id, tenant_id=appeal.tenant_id))
    appeal = lock_appeal(appeal)
    if appeal.status != Appeal.Status.OPEN:
        raise ConflictError("This appeal is already resolved.", code="appeal_resolved")
    label = f"appeal #{appeal.pk}" + (f": {note}" if note else "")
    if resolution == Appeal.Resolution.COMPLETED:
        if order.status != Status.COMPLETED:
            _complete(order, actor=actor, action="order.completed",
                      description=f"{order} completed by {label}", confirmed_fiat=confirmed_fiat,
                      details={"appeal": appeal.pk})
    elif order.status != Status.CANCELLED:
        if order.status == Status.COMPLETED:
            raise ConflictError("The order is completed; it cannot be cancelled.", code="invalid_transition")
        _close(order, Status.CANCELLED, actor=actor, action="order.cancelled",
               description=f"{order} cancelled by {label}", details={"appeal": appeal.pk})
    now = timezone.now()
    updated = Appeal.objects.unscoped().filter(pk=appeal.pk, status=Appeal.Status.OPEN).update(
        status=Appeal.Status.RESOLVED, resolution=resolution, resolution_note=note, resolved_by=actor,
        resolved_at=now)
    if updated != 1:
        raise ConflictError("This appeal is already resolved.", code="appeal_resolved")
    appeal.refresh_from_db()
    record(action="appeal.resolved", target=appeal, actor=actor,
           description=f"Appeal #{appeal.pk} on {order} resolved: order {resolution}" + (f" — {note}" if note else ""),
           details={"order": order.pk, "resolution": resolution, "note": note,
                    "order_status": order.status})
    enqueue_order_event(incoming_order=order.incoming_order, event_type="appeal.resolved")
    return appeal


# --- staff ----------------------------------------------------------------------------------------------

@transaction.atomic(durable=True)
def set_order_status_by_staff(*, order: OrderHistory, status: str, actor, reason: str,
                              confirmed_fiat: Decimal | None = None) -> OrderHistory:
    """Staff with `can_manage_orders` move an order by hand, within the transition table, with a reason.

    Completing settles it (for `confirmed_fiat` if given), cancelling/expiring/
    failing releases its hold — the same ledger paths as everywhere else.
    """
    require_order_manager(actor, order)
    reason = clean_reason(reason)
    if status not in Status.values:
        raise PaymentsError("Unknown status.", code="invalid_status", fields={"status": ["Unknown status."]})
    order = lock_order(order)
    if not can_transition(order.status, status):
        raise _refuse(order, status)
    description = f"Staff set {order} to {status}: {reason}"
    details = {"reason": reason, "by_staff": True}
    if status == Status.COMPLETED:
        return _complete(order, actor=actor, action="order.status_changed", description=description,
                         confirmed_fiat=confirmed_fiat, details=details)
    if status in RELEASING_STATUSES:
        return _close(order, status, actor=actor, action="order.status_changed", description=description,
                      details=details)
    updates = {}
    if status == Status.DISPUTED:
        updates["dispute_reason"] = reason
    if status == Status.PROCESSING and order.paid_at is None:
        updates["paid_at"] = timezone.now()
    return _change_status(order, status, actor=actor, action="order.status_changed", description=description,
                          updates=updates, details=details)
