"""Withdrawals and top-ups of crypto balances (see payments.models.transfers for the life of a request).

- A merchant asks to withdraw from a store's balance; a trader asks to withdraw
  from or top up the crypto of one of their balances. A withdrawal holds its
  amount at once (refused when the available balance cannot cover it).
- Staff with the owner's flag decide: approving a withdrawal takes the hold back
  and the amount off the balance in one `withdrawal` row; approving a top-up posts
  a `deposit`; declining (a reason is required) releases a withdrawal's hold.
Every movement goes through payments.services.ledger, so each balance still
equals the sum of its history; each step is audited.
"""

import re
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from payments.errors import ConflictError, PaymentsError
from payments.models import BalanceStore, BalanceTrader, CryptoTransfer, MovementKind, TransferNetwork
from payments.models.fields import CRYPTO_PLACES
from payments.permissions import MANAGE_MERCHANTS, MANAGE_TRADERS, has_any_flag
from tenancy.authz import member_tenant_ids

from . import ledger
from .audit_trail import record
from .execution import clean_reason
from .locks import lock_store_balance, lock_trader_balance

Direction = CryptoTransfer.Direction
Status = CryptoTransfer.Status

# What an address looks like on each network (a typo is caught here, not on the chain).
ADDRESS_PATTERNS = {
    TransferNetwork.TRC20: (re.compile(r"T[1-9A-HJ-NP-Za-km-z]{33}"), "a TRON address: T and 33 more characters"),
    TransferNetwork.ERC20: (re.compile(r"0x[0-9a-fA-F]{40}"), "an Ethereum address: 0x and 40 hex digits"),
    TransferNetwork.BEP20: (re.compile(r"0x[0-9a-fA-F]{40}"), "a BNB Smart Chain address: 0x and 40 hex digits"),
    TransferNetwork.TON: (re.compile(r"[A-Za-z0-9_-]{48}|-?[0-9]:[0-9a-fA-F]{64}"),
                          "a TON address: 48 characters, or workchain:64 hex digits"),
}
MAX_AMOUNT = Decimal(10) ** 11


def _field_error(field: str, message: str, code: str = "invalid_input") -> PaymentsError:
    return PaymentsError(message, code=code, fields={field: [message]})


def check_address(network: str, address: str) -> str:
    address = (address or "").strip()
    if network not in TransferNetwork.values:
        raise _field_error("network", "Choose a network.")
    pattern, shape = ADDRESS_PATTERNS[TransferNetwork(network)]
    if not pattern.fullmatch(address):
        raise _field_error("address", f"This is not a valid {network} address: expected {shape}.")
    return address


def check_amount(amount) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise _field_error("amount", "Enter a positive amount.")
    if amount.as_tuple().exponent < -CRYPTO_PLACES:
        raise _field_error("amount", f"At most {CRYPTO_PLACES} decimal places.")
    if amount >= MAX_AMOUNT:
        raise _field_error("amount", "That amount is too large.")
    return amount


# The longest decision reason kept (CryptoTransfer.decision_reason).
DECISION_REASON_MAX = CryptoTransfer._meta.get_field("decision_reason").max_length


def _refuse_over_available(available: Decimal, amount: Decimal, code: str) -> None:
    if amount > available:
        raise _field_error("amount", f"You can withdraw at most {available.normalize():f} {code} "
                                     f"(the available balance).", code="insufficient_balance")


def _owner_flags(transfer: CryptoTransfer) -> tuple[str, ...]:
    return MANAGE_MERCHANTS if transfer.store_balance_id else MANAGE_TRADERS


def may_decide(user, transfer: CryptoTransfer) -> bool:
    """Staff of the request's operator (a super admin: any) with the owner's flag: can_manage_merchants for a
    store, can_manage_traders for a trader. A flag is not a pass into another operator."""
    if not has_any_flag(user, _owner_flags(transfer)):
        return False
    return bool(user.is_superuser) or transfer.tenant_id in member_tenant_ids(user)


def _details(transfer: CryptoTransfer, balance) -> dict:
    return {"direction": transfer.direction, "amount": transfer.amount, "network": transfer.network,
            "address": transfer.address, "balance": balance.pk, "status": transfer.status}


@transaction.atomic
def request_store_withdrawal(*, store_balance: BalanceStore, amount: Decimal, network: str, address: str,
                             actor) -> CryptoTransfer:
    """The merchant (the store's owner) asks to withdraw; the amount is held at once."""
    if store_balance.store.merchant.user_id != getattr(actor, "pk", None):
        raise PermissionDenied("Only the store's merchant may ask for a withdrawal.")
    amount = check_amount(amount)
    address = check_address(network, address)
    balance = lock_store_balance(tenant_id=store_balance.tenant_id, store_id=store_balance.store_id,
                                 crypto_currency_id=store_balance.crypto_currency_id)
    _refuse_over_available(balance.available, amount, balance.crypto_currency.code)
    transfer = CryptoTransfer.objects.create(
        tenant_id=balance.tenant_id, direction=Direction.WITHDRAWAL, store_balance=balance, amount=amount,
        network=network, address=address, requested_by=actor)
    ledger.store_entry(balance, kind=MovementKind.HOLD, hold_change=amount,
                       description=f"Hold for withdrawal #{transfer.pk}")
    record(action="transfer.requested", target=transfer, actor=actor,
           description=f"Withdrawal of {amount} {balance.crypto_currency.code} from {balance.store}",
           details=_details(transfer, balance))
    return transfer


@transaction.atomic
def request_trader_transfer(*, trader_balance: BalanceTrader, direction: str, amount: Decimal, network: str,
                            address: str, actor) -> CryptoTransfer:
    """The trader asks to withdraw crypto (held at once) or to top it up (credited when staff approve)."""
    if trader_balance.trader.user_id != getattr(actor, "pk", None):
        raise PermissionDenied("Only the trader may ask for a transfer of their balance.")
    if direction not in Direction.values:
        raise _field_error("direction", "Choose withdrawal or top-up.")
    amount = check_amount(amount)
    address = check_address(network, address)
    balance = lock_trader_balance(tenant_id=trader_balance.tenant_id, trader_id=trader_balance.trader_id,
                                  fiat_currency_id=trader_balance.fiat_currency_id,
                                  crypto_currency_id=trader_balance.crypto_currency_id)
    if direction == Direction.WITHDRAWAL:
        _refuse_over_available(balance.crypto_available, amount, balance.crypto_currency.code)
    transfer = CryptoTransfer.objects.create(
        tenant_id=balance.tenant_id, direction=direction, trader_balance=balance, amount=amount, network=network,
        address=address, requested_by=actor)
    if direction == Direction.WITHDRAWAL:
        ledger.trader_crypto_entry(balance, kind=MovementKind.HOLD, hold_change=amount,
                                   description=f"Hold for withdrawal #{transfer.pk}")
    record(action="transfer.requested", target=transfer, actor=actor,
           description=f"{transfer.get_direction_display()} of {amount} {balance.crypto_currency.code} "
                       f"for {balance.trader}", details=_details(transfer, balance))
    return transfer


def _lock_pending(transfer: CryptoTransfer, actor) -> tuple[CryptoTransfer, BalanceStore | BalanceTrader]:
    if not may_decide(actor, transfer):
        raise PermissionDenied(f"Deciding this request needs {' or '.join(_owner_flags(transfer))}.")
    locked = (CryptoTransfer.objects.unscoped().select_for_update(of=("self",))
              .select_related("store_balance", "trader_balance").get(pk=transfer.pk, tenant_id=transfer.tenant_id))
    if locked.status != Status.PENDING:
        raise ConflictError(f"This request is already {locked.get_status_display().lower()}.")
    if locked.store_balance_id:
        sb = locked.store_balance
        balance = lock_store_balance(tenant_id=sb.tenant_id, store_id=sb.store_id,
                                     crypto_currency_id=sb.crypto_currency_id)
    else:
        tb = locked.trader_balance
        balance = lock_trader_balance(tenant_id=tb.tenant_id, trader_id=tb.trader_id,
                                      fiat_currency_id=tb.fiat_currency_id, crypto_currency_id=tb.crypto_currency_id)
    return locked, balance


def _entry(transfer: CryptoTransfer, balance, **movement):
    if transfer.store_balance_id:
        return ledger.store_entry(balance, **movement)
    return ledger.trader_crypto_entry(balance, **movement)


def _close(transfer: CryptoTransfer, *, status: str, actor, reason: str, tx_reference: str = "") -> None:
    transfer.status = status
    transfer.decided_by = actor
    transfer.decided_at = timezone.now()
    transfer.decision_reason = reason
    transfer.tx_reference = tx_reference
    transfer.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "tx_reference"])


@transaction.atomic
def approve_transfer(*, transfer: CryptoTransfer, actor, reason: str = "", tx_reference: str = "") -> CryptoTransfer:
    """Settle: a withdrawal leaves the balance (its hold comes back in the same row); a top-up is deposited."""
    reason = clean_reason(reason, required=False, max_length=DECISION_REASON_MAX)
    locked, balance = _lock_pending(transfer, actor)
    label = f"{locked.get_direction_display()} #{locked.pk} to {locked.network} {locked.address}"
    if locked.direction == Direction.WITHDRAWAL:
        _entry(locked, balance, kind=MovementKind.WITHDRAWAL, amount=-locked.amount, hold_change=-locked.amount,
               description=label, actor=actor)
    else:
        _entry(locked, balance, kind=MovementKind.DEPOSIT, amount=locked.amount, description=label, actor=actor)
    _close(locked, status=Status.SETTLED, actor=actor, reason=reason, tx_reference=tx_reference.strip())
    record(action="transfer.approved", target=locked, actor=actor, description=f"{label}: settled",
           details={**_details(locked, balance), "reason": locked.decision_reason,
                    "tx_reference": locked.tx_reference})
    return locked


@transaction.atomic
def decline_transfer(*, transfer: CryptoTransfer, actor, reason: str) -> CryptoTransfer:
    """Refuse with a reason; a withdrawal's hold is released."""
    reason = clean_reason(reason, max_length=DECISION_REASON_MAX)
    locked, balance = _lock_pending(transfer, actor)
    if locked.direction == Direction.WITHDRAWAL:
        _entry(locked, balance, kind=MovementKind.RELEASE, hold_change=-locked.amount,
               description=f"Withdrawal #{locked.pk} declined", actor=actor)
    _close(locked, status=Status.DECLINED, actor=actor, reason=reason)
    record(action="transfer.declined", target=locked, actor=actor,
           description=f"{locked.get_direction_display()} #{locked.pk} declined",
           details={**_details(locked, balance), "reason": reason})
    return locked


__all__ = ["approve_transfer", "check_address", "decline_transfer", "may_decide", "request_store_withdrawal",
           "request_trader_transfer"]
