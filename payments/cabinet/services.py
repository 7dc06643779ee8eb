"""What merchants and traders may change about their own rows from the cabinet.

The staff services (payments.services.*) check staff flags for whoever they
are given as `actor`, so a trader or merchant acting on their own data
comes through here instead: each function checks that the actor owns the row,
changes only what owners may change, and audits with the owner as actor.

The rule: owners edit their own settings, staff keep the limits and everything
that decides who gets orders:
- A trader switches themselves in and out of work, adds requisites (they start
  `pending` until staff approve them), turns each requisite's PayIn/PayOut on
  or off, and pauses/resumes an approved requisite. Limits (lower/upper, day
  turnover, total, window), the distribution weight, exclusion, approval and
  rejection stay with staff in Django admin (`can_edit_limits` /
  `can_edit_trader_settings`); the trader sees them read-only.
- A merchant creates stores (closed to new orders until staff have set the
  store's commissions and opened its traffic), rotates keys and the callback
  secret, and sets the callback URL and which order types the store sends.
  Limits, commissions, `access` and `trafic_access` are staff's.
"""

from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction

from payments.callbacks.destinations import check_callback_url
from payments.errors import ConflictError, PaymentsError
from payments.models import (
    Bank,
    CryptoCurrency,
    FiatCurrency,
    FullRequisitesSettings,
    Merchant,
    MerchantStore,
    OwnerOfRequisites,
    PaymentMethod,
    ReqTrader,
    RequisiteStatus,
    Trader,
)
from payments.services import merchants as merchant_services
from payments.services import requisites as requisite_services
from payments.services.audit_trail import record
from payments.services.changes import apply_changes

OWNER_STORE_SETTINGS = ("callback_url", "pay_in_enabled", "pay_out_enabled")


def _ensure_owner(profile: Trader | Merchant, actor) -> None:
    if actor is None or profile.user_id != actor.pk:
        raise PermissionDenied("Only the owner may change this from the cabinet.")


@transaction.atomic
def set_trader_in_work(*, trader: Trader, in_work: bool, actor) -> Trader:
    """The trader's own switch: in work, the assignment worker may pick their requisites."""
    _ensure_owner(trader, actor)
    return apply_changes(trader, {"in_work": bool(in_work)}, {"in_work"}, action="trader.changed",
                         actor=actor)


@transaction.atomic
def add_requisite(*, trader: Trader, fiat: FiatCurrency, method: PaymentMethod, bank: Bank, req_number: str,
                  owner_of_requisites: OwnerOfRequisites | None = None, new_owner_name: str = "",
                  pay_in: bool = True, pay_out: bool = True, actor) -> ReqTrader:
    """A new requisite of the trader, `pending` until staff approve it; the number is encrypted at once."""
    _ensure_owner(trader, actor)
    if owner_of_requisites is None and new_owner_name.strip():
        owner_of_requisites, _ = OwnerOfRequisites.objects.unscoped().get_or_create(
            tenant_id=trader.tenant_id, trader=trader, full_name=new_owner_name.strip())
    return requisite_services.create_requisite(
        trader=trader, fiat=fiat, method=method, bank=bank, req_number=req_number,
        owner_of_requisites=owner_of_requisites, status=RequisiteStatus.PENDING,
        settings={"pay_in": bool(pay_in), "pay_out": bool(pay_out)}, actor=actor)


@transaction.atomic
def set_requisite_switches(*, requisite: ReqTrader, pay_in: bool, pay_out: bool,
                           actor) -> FullRequisitesSettings:
    """Turn a requisite's PayIn / PayOut on or off (its limits are staff's)."""
    _ensure_owner(requisite.trader, actor)
    settings_row, _ = FullRequisitesSettings.objects.unscoped().get_or_create(
        tenant_id=requisite.tenant_id, requisite_id=requisite.pk)
    return apply_changes(settings_row, {"pay_in": bool(pay_in), "pay_out": bool(pay_out)}, {"pay_in", "pay_out"},
                         action="requisite.settings_changed", actor=actor)


def _switch_status(*, requisite: ReqTrader, expected: str, new: str, action: str, actor) -> ReqTrader:
    _ensure_owner(requisite.trader, actor)
    locked = ReqTrader.objects.unscoped().select_for_update().get(pk=requisite.pk, tenant_id=requisite.tenant_id)
    if locked.status != expected:
        raise ConflictError(f"Only a requisite that is {RequisiteStatus(expected).label.lower()} can be "
                            f"{'paused' if new == RequisiteStatus.PAUSED else 'resumed'}; this one is "
                            f"{locked.get_status_display().lower()}.", code="requisite_status")
    locked.status = new
    locked.save(update_fields=["status", "updated_at"])
    record(action=action, target=locked, actor=actor, description=f"Requisite {locked.masked_number}",
           details={"changes": {"status": {"old": expected, "new": new}}})
    return locked


@transaction.atomic
def pause_requisite(*, requisite: ReqTrader, actor) -> ReqTrader:
    """Approved → paused: no new orders go to it; orders already assigned stay."""
    return _switch_status(requisite=requisite, expected=RequisiteStatus.APPROVE, new=RequisiteStatus.PAUSED,
                          action="requisite.paused", actor=actor)


@transaction.atomic
def resume_requisite(*, requisite: ReqTrader, actor) -> ReqTrader:
    """Paused → approved. Staff stop a requisite with `rejected` or the exclusion switch, which stay theirs."""
    return _switch_status(requisite=requisite, expected=RequisiteStatus.PAUSED, new=RequisiteStatus.APPROVE,
                          action="requisite.resumed", actor=actor)


@transaction.atomic
def create_store(*, merchant: Merchant, store_name: str, crypto_currency: CryptoCurrency,
                 fiat_currency: FiatCurrency, lower_limit: Decimal, upper_limit: Decimal,
                 callback_url: str = "", actor) -> tuple[MerchantStore, str]:
    """A new store with fresh keys (the raw private key is returned, its only appearance).

    Commissions start at zero and are staff's to set, so the store starts closed
    to new orders (`trafic_access` off) until staff have reviewed it.
    """
    _ensure_owner(merchant, actor)
    if MerchantStore.objects.unscoped().filter(tenant_id=merchant.tenant_id, merchant=merchant,
                                               store_name=store_name).exists():
        raise PaymentsError("You already have a store with this name.", code="duplicate_store",
                            fields={"store_name": ["You already have a store with this name."]})
    return merchant_services.create_store(
        merchant=merchant, store_name=store_name, crypto_currency=crypto_currency, fiat_currency=fiat_currency,
        lower_limit=lower_limit, upper_limit=upper_limit, callback_url=callback_url, trafic_access=False,
        actor=actor)


@transaction.atomic
def update_store_settings(*, store: MerchantStore, changes: dict, actor) -> MerchantStore:
    """The owner's part of a store's settings: callback URL and which order types it sends."""
    _ensure_owner(store.merchant, actor)
    unknown = set(changes) - set(OWNER_STORE_SETTINGS)
    if unknown:
        raise PermissionDenied(f"Staff change {', '.join(sorted(unknown))}.")
    return apply_changes(store, changes, set(OWNER_STORE_SETTINGS), action="store.changed", actor=actor,
                         validate=lambda row: check_callback_url(row.callback_url))


@transaction.atomic
def rotate_store_keys(*, store: MerchantStore, actor) -> str:
    _ensure_owner(store.merchant, actor)
    return merchant_services.rotate_store_keys(store=store, actor=actor)


@transaction.atomic
def rotate_store_secret(*, store: MerchantStore, actor) -> str:
    _ensure_owner(store.merchant, actor)
    return merchant_services.rotate_store_secret(store=store, actor=actor)
