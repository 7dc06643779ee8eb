"""Trader profiles and their settings, including the traffic priority that drives distribution."""

from typing import Any

from django.db import IntegrityError, transaction

from payments.errors import PaymentsError
from payments.models import ReqTrader, Trader, VerificationLevel
from payments.permissions import EDIT_REQUISITE_LIMITS, EDIT_TRADER_SETTINGS, MANAGE_TRADERS, require_any_flag
from tenancy import services as tenancy_services

from .audit_trail import record
from .changes import apply_changes, validate_model
from .guards import ensure_same_tenant

TRADER_PROFILE = ("first_name", "last_name", "avatar_url", "verification_level", "time_zone",
                  "preferred_fiat_currency", "crypto_currency")
TRADER_SETTINGS = ("pay_in", "pay_out", "in_work")
TRADER_LIMITS = ("base_pay_in_limit", "base_pay_out_limit", "pay_in_commission_percent",
                 "pay_out_commission_percent")


@transaction.atomic
def create_trader(*, tenant, user, first_name: str = "", last_name: str = "",
                  verification_level: str = VerificationLevel.UNVERIFIED, trafic_priority: int = 5,
                  preferred_fiat_currency=None, crypto_currency=None, time_zone=None,
                  actor=None) -> Trader:
    """Give `user` a trader profile in `tenant`: membership, the `trader` role, audited."""
    ensure_same_tenant(tenant.pk, preferred_fiat_currency, crypto_currency, time_zone)
    trader = Trader(tenant=tenant, user=user, first_name=first_name, last_name=last_name,
                    verification_level=verification_level, trafic_priority=trafic_priority,
                    preferred_fiat_currency=preferred_fiat_currency, crypto_currency=crypto_currency,
                    time_zone=time_zone)
    validate_model(trader, exclude=["tenant", "user", "preferred_fiat_currency", "crypto_currency", "time_zone"])
    try:
        with transaction.atomic():
            trader.save()
    except IntegrityError:
        raise PaymentsError("This user already has a trader profile.", code="trader_exists")
    tenancy_services.add_membership(tenant=tenant, user=user, actor=actor)
    tenancy_services.assign_role(tenant=tenant, user=user, role_key="trader", actor=actor)
    record(action="trader.created", target=trader, actor=actor,
           description=f"Trader profile for {user.email}", details={"user": user.pk})
    return trader


@transaction.atomic
def update_trader(*, trader: Trader, changes: dict[str, Any], actor=None) -> Trader:
    """Change a trader's profile, switches and limits; a new priority re-syncs the requisites' weights.

    Staff need `can_manage_traders` for the profile, `can_edit_trader_settings`
    (or `can_manage_traders`) for switches and priority, and `can_edit_limits`
    (or `can_edit_trader_settings`) for limits and commissions.
    """
    changes = dict(changes)
    priority = changes.pop("trafic_priority", None)
    groups = ((TRADER_PROFILE, MANAGE_TRADERS, "change trader profiles"),
              (TRADER_SETTINGS, EDIT_TRADER_SETTINGS, "change trader settings"),
              (TRADER_LIMITS, EDIT_REQUISITE_LIMITS, "change trader limits"))
    allowed = {name for fields, _, _ in groups for name in fields}
    unknown = set(changes) - allowed
    if unknown:
        raise PaymentsError(f"Not a trader setting: {', '.join(sorted(unknown))}.", code="invalid_field")
    ensure_same_tenant(trader.tenant_id, *(changes.get(name) for name in ("time_zone", "preferred_fiat_currency",
                                                                          "crypto_currency")))

    def authorize(changed: set[str]) -> None:
        if actor is None:
            return
        for fields, flags, action in groups:
            if changed & set(fields):
                require_any_flag(actor, flags, action=action)

    trader = apply_changes(trader, changes, allowed, action="trader.changed", actor=actor, authorize=authorize)
    if priority is not None and priority != trader.trafic_priority:
        set_trafic_priority(trader=trader, trafic_priority=priority, actor=actor)
        trader.refresh_from_db(fields=["trafic_priority", "updated_at"])
    return trader


@transaction.atomic
def set_trafic_priority(*, trader: Trader, trafic_priority: int, actor=None) -> int:
    """Set the trader's priority and copy it to every one of its requisites.

    Returns how many requisites were re-synced. A staff override of a single
    requisite's weight is replaced too: the trader's priority is the source of its requisites' weights.
    """
    if actor is not None:
        require_any_flag(actor, EDIT_TRADER_SETTINGS, action="change a trader's traffic priority")
    if isinstance(trafic_priority, bool) or not isinstance(trafic_priority, int) or not 0 <= trafic_priority <= 32767:
        raise PaymentsError("The traffic priority must be a whole number from 0 to 32767.", code="invalid_priority",
                            fields={"trafic_priority": ["Must be a whole number from 0 to 32767."]})
    locked = Trader.objects.unscoped().select_for_update().get(pk=trader.pk, tenant_id=trader.tenant_id)
    old = locked.trafic_priority
    if old == trafic_priority:
        return 0
    locked.trafic_priority = trafic_priority
    locked.save(update_fields=["trafic_priority", "updated_at"])
    requisites = ReqTrader.objects.unscoped().filter(tenant_id=trader.tenant_id, trader_id=trader.pk)
    requisite_ids = list(requisites.order_by("pk").values_list("pk", flat=True))
    synced = requisites.update(distribution_weight=trafic_priority, trader_priority=trafic_priority)
    trader.trafic_priority = trafic_priority
    record(action="trader.priority_changed", target=locked, actor=actor,
           description=f"Traffic priority {old} → {trafic_priority}; {synced} requisite weight(s) re-synced",
           details={"changes": {"trafic_priority": {"old": old, "new": trafic_priority}},
                    "requisites_synced": requisite_ids})
    return synced
