"""Trader requisites: creation (number encrypted), settings, distribution controls, audited reveal.

No function here logs a number or puts one in an error or audit entry; only
`reveal_requisite_number` returns it, to staff with `can_view_sensitive_data`,
and records that it did.
"""

import re
from typing import Any

from django.db import IntegrityError, transaction

from payments.errors import PaymentsError
from payments.models import (
    AvailableBankMethod,
    Bank,
    FiatCurrency,
    FullRequisitesSettings,
    OwnerOfRequisites,
    PaymentMethod,
    ReqTrader,
    RequisiteStatus,
    Trader,
)
from payments.models.traders import normalise_requisite_number, requisite_number_digest
from payments.permissions import EDIT_REQUISITE_LIMITS, EDIT_TRADER_SETTINGS, VIEW_SENSITIVE, require_any_flag

from .audit_trail import record
from .changes import apply_changes, validate_model
from .guards import ensure_same_tenant

# Card and account numbers, IBANs (up to 34), phone numbers for fast payments (+7…).
REQUISITE_NUMBER = re.compile(r"^\+?[0-9A-Za-z]{6,34}$")
SETTINGS_SWITCHES = ("pay_in", "pay_out")
SETTINGS_LIMITS = ("lower_limit", "upper_limit", "total_limit", "turnover_day_max", "turnover_limit_minutes")


def check_requisite_number(raw: str) -> str:
    number = normalise_requisite_number(raw)
    if not REQUISITE_NUMBER.match(number):
        # The message never repeats what was typed.
        raise PaymentsError("Enter the card, account or phone number: 6–34 letters or digits.",
                            code="invalid_requisite_number",
                            fields={"req_number": ["Enter 6–34 letters or digits (spaces and dashes are ignored)."]})
    return number


def ensure_unique_number(*, tenant_id, method: PaymentMethod, number: str, exclude_pk=None) -> None:
    clash = ReqTrader.objects.unscoped().filter(tenant_id=tenant_id, method=method,
                                                req_number_digest=requisite_number_digest(number))
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise PaymentsError("This number is already registered for this method.", code="duplicate_requisite",
                            fields={"req_number": ["Already registered for this method."]})


def ensure_bank_offers_method(bank: Bank, method: PaymentMethod) -> None:
    offered = AvailableBankMethod.objects.unscoped().filter(tenant_id=bank.tenant_id, bank=bank, method=method,
                                                            is_active=True).exists()
    if not offered:
        raise PaymentsError(f"{bank.name} does not offer {method.name}.", code="method_not_available",
                            fields={"method": [f"{bank.name} does not offer this method."]})


def ensure_bank_serves_currency(bank: Bank, fiat: FiatCurrency) -> None:
    """A requisite's bank belongs to its currency's country (reference rows without a country are not bound).

    The store API lists and accepts only what some bank of a store's currency offers
    (payments.selectors.offers.served_offers); requisites keep to the same rule, so no requisite can exist for
    a method or bank intake refuses.
    """
    if bank.country_id and fiat.country_id and bank.country_id != fiat.country_id:
        raise PaymentsError(f"{bank.name} is not a bank of {fiat.code}.", code="bank_not_in_currency",
                            fields={"bank": [f"Pick a bank of {fiat.code}."]})


@transaction.atomic
def create_requisite(*, trader: Trader, fiat: FiatCurrency, method: PaymentMethod, bank: Bank, req_number: str,
                     owner_of_requisites: OwnerOfRequisites | None = None,
                     status: str = RequisiteStatus.PENDING, settings: dict[str, Any] | None = None,
                     actor=None) -> ReqTrader:
    """Add a requisite; its distribution weight starts as the trader's traffic priority (the priority is the
    source of every requisite's weight)."""
    ensure_same_tenant(trader.tenant_id, fiat, method, bank, owner_of_requisites)
    if owner_of_requisites is not None and owner_of_requisites.trader_id != trader.pk:
        raise PaymentsError("The owner belongs to another trader.", code="invalid_owner",
                            fields={"owner_of_requisites": ["Pick an owner of this trader."]})
    if status not in RequisiteStatus.values:
        raise PaymentsError("Unknown requisite status.", code="invalid_status", fields={"status": ["Unknown."]})
    number = check_requisite_number(req_number)
    ensure_bank_serves_currency(bank, fiat)
    ensure_bank_offers_method(bank, method)
    ensure_unique_number(tenant_id=trader.tenant_id, method=method, number=number)
    requisite = ReqTrader(tenant_id=trader.tenant_id, trader=trader, owner_of_requisites=owner_of_requisites,
                          fiat=fiat, method=method, bank=bank, status=status,
                          distribution_weight=trader.trafic_priority)
    requisite.set_number(number)
    try:
        with transaction.atomic():
            requisite.save()
    except IntegrityError:
        raise PaymentsError("This number is already registered for this method.", code="duplicate_requisite",
                            fields={"req_number": ["Already registered for this method."]})
    values = dict(settings or {})
    unknown = set(values) - set(SETTINGS_SWITCHES) - set(SETTINGS_LIMITS)
    if unknown:
        raise PaymentsError(f"Not a requisite setting: {', '.join(sorted(unknown))}.", code="invalid_field")
    requisite_settings = FullRequisitesSettings(tenant_id=trader.tenant_id, requisite=requisite, **values)
    _check_settings(requisite_settings)
    requisite_settings.save()
    record(action="requisite.created", target=requisite, actor=actor,
           description=f"Requisite {requisite.masked_number} of trader {trader.pk}",
           details={"trader": trader.pk, "bank": bank.pk, "method": method.pk, "number_last4":
                    requisite.req_number_last4, "distribution_weight": requisite.distribution_weight,
                    "settings": values})
    return requisite


@transaction.atomic
def change_requisite_number(*, requisite: ReqTrader, req_number: str, actor=None) -> ReqTrader:
    if actor is not None:
        require_any_flag(actor, EDIT_TRADER_SETTINGS, action="change a requisite's number")
    number = check_requisite_number(req_number)
    locked = ReqTrader.objects.unscoped().select_for_update().get(pk=requisite.pk, tenant_id=requisite.tenant_id)
    if requisite_number_digest(number) == locked.req_number_digest:
        return locked
    ensure_unique_number(tenant_id=locked.tenant_id, method=locked.method, number=number, exclude_pk=locked.pk)
    old_last4 = locked.req_number_last4
    locked.set_number(number)
    locked.save(update_fields=["req_number", "req_number_last4", "req_number_digest", "updated_at"])
    record(action="requisite.number_changed", target=locked, actor=actor,
           description=f"Requisite number changed: {old_last4 and '•••• ' + old_last4} → {locked.masked_number}",
           details={"old_last4": old_last4, "new_last4": locked.req_number_last4})
    return locked


@transaction.atomic
def update_requisite(*, requisite: ReqTrader, changes: dict[str, Any], actor=None) -> ReqTrader:
    """Plain requisite fields (status, owner, bank, method, fiat); distribution controls have their own services."""
    allowed = {"status", "owner_of_requisites", "bank", "method", "fiat"}
    if actor is not None:
        require_any_flag(actor, EDIT_TRADER_SETTINGS, action="change requisites")
    if "status" in changes and changes["status"] not in RequisiteStatus.values:
        raise PaymentsError("Unknown requisite status.", code="invalid_status", fields={"status": ["Unknown."]})
    ensure_same_tenant(requisite.tenant_id, *(changes.get(name) for name in ("owner_of_requisites", "bank",
                                                                             "method", "fiat")))
    owner = changes.get("owner_of_requisites")
    if owner is not None and owner.trader_id != requisite.trader_id:
        raise PaymentsError("The owner belongs to another trader.", code="invalid_owner",
                            fields={"owner_of_requisites": ["Pick an owner of this trader."]})
    bank, method = changes.get("bank", requisite.bank), changes.get("method", requisite.method)
    if "bank" in changes or "method" in changes:
        ensure_bank_offers_method(bank, method)
        ensure_unique_number(tenant_id=requisite.tenant_id, method=method, number=requisite.req_number,
                              exclude_pk=requisite.pk)
    return apply_changes(requisite, changes, allowed, action="requisite.changed", actor=actor)


@transaction.atomic
def set_distribution_weight(*, requisite: ReqTrader, distribution_weight: int, actor=None,
                            reason: str = "") -> ReqTrader:
    """Staff override of one requisite's weight; the next priority change of its trader replaces it."""
    if actor is not None:
        require_any_flag(actor, EDIT_TRADER_SETTINGS, action="override a distribution weight")
    if isinstance(distribution_weight, bool) or not isinstance(distribution_weight, int) \
            or not 0 <= distribution_weight <= 32767:
        raise PaymentsError("The weight must be a whole number from 0 to 32767.", code="invalid_weight",
                            fields={"distribution_weight": ["Must be a whole number from 0 to 32767."]})
    locked = ReqTrader.objects.unscoped().select_for_update().get(pk=requisite.pk, tenant_id=requisite.tenant_id)
    old = locked.distribution_weight
    if old == distribution_weight:
        return locked
    locked.distribution_weight = distribution_weight
    locked.save(update_fields=["distribution_weight", "updated_at"])
    record(action="requisite.weight_overridden", target=locked, actor=actor,
           description=f"Distribution weight {old} → {distribution_weight}" + (f": {reason}" if reason else ""),
           details={"changes": {"distribution_weight": {"old": old, "new": distribution_weight}},
                    "reason": reason})
    return locked


@transaction.atomic
def set_requisite_exclusion(*, requisite: ReqTrader, excluded: bool, actor=None, reason: str = "") -> ReqTrader:
    """Take a requisite out of (or back into) automatic distribution by hand."""
    if actor is not None:
        require_any_flag(actor, EDIT_TRADER_SETTINGS, action="exclude requisites from distribution")
    locked = ReqTrader.objects.unscoped().select_for_update().get(pk=requisite.pk, tenant_id=requisite.tenant_id)
    old = locked.is_excluded_from_distribution
    if old == bool(excluded):
        return locked
    locked.is_excluded_from_distribution = bool(excluded)
    locked.save(update_fields=["is_excluded_from_distribution", "updated_at"])
    record(action="requisite.exclusion_changed", target=locked, actor=actor,
           description=("Excluded from" if excluded else "Returned to") + " distribution"
           + (f": {reason}" if reason else ""),
           details={"changes": {"is_excluded_from_distribution": {"old": old, "new": bool(excluded)}},
                    "reason": reason})
    return locked


@transaction.atomic
def update_requisite_settings(*, requisite: ReqTrader, changes: dict[str, Any],
                              actor=None) -> FullRequisitesSettings:
    """Switches need `can_edit_trader_settings`; limits `can_edit_limits` or `can_edit_trader_settings`."""
    settings_row, _ = FullRequisitesSettings.objects.unscoped().get_or_create(
        tenant_id=requisite.tenant_id, requisite_id=requisite.pk)

    def authorize(changed: set[str]) -> None:
        if actor is None:
            return
        if changed & set(SETTINGS_SWITCHES):
            require_any_flag(actor, EDIT_TRADER_SETTINGS, action="change requisite switches")
        if changed & set(SETTINGS_LIMITS):
            require_any_flag(actor, EDIT_REQUISITE_LIMITS, action="change requisite limits")

    return apply_changes(settings_row, changes, set(SETTINGS_SWITCHES) | set(SETTINGS_LIMITS),
                         action="requisite.settings_changed", actor=actor, validate=_check_settings,
                         authorize=authorize)


def _check_settings(row: FullRequisitesSettings) -> None:
    for name in ("lower_limit", "upper_limit", "total_limit", "turnover_day_max"):
        value = getattr(row, name)
        if value is not None and value < 0:
            raise PaymentsError("Limits cannot be negative.", code="invalid_limits", fields={name: ["Must be ≥ 0."]})
    if row.lower_limit is not None and row.upper_limit is not None and row.upper_limit < row.lower_limit:
        raise PaymentsError("The upper limit must not be below the lower limit.", code="invalid_limits",
                            fields={"upper_limit": ["Must be at least the lower limit."]})
    validate_model(row, exclude=["tenant", "requisite"])


def reveal_requisite_number(*, requisite: ReqTrader, viewer, reason: str = "") -> str:
    """The whole number, for staff with `can_view_sensitive_data`; every reveal is in the audit trail."""
    require_any_flag(viewer, VIEW_SENSITIVE, action="see whole requisite numbers")
    with transaction.atomic():
        record(action="requisite.number_revealed", target=requisite, actor=viewer,
               description=f"Whole number of requisite {requisite.masked_number} shown"
               + (f": {reason}" if reason else ""),
               details={"reason": reason})
    return requisite.req_number
