"""Copy-trading account changes made by their owner (seed 001 and its next steps): rename, on/off, delete,
copy mode, partner, follow/unfollow, listing, copy options, master-token rotation — each audited, each
taking the acting person. The copy-trade servers hear of key/active changes through account_events."""

from django.db import IntegrityError, transaction
from django.db.models.deletion import ProtectedError, RestrictedError

from audit.services import record_event
from core.errors import DomainError
from trading.models import AccountRole, CopyMode, CopySettings, TradingAccount
from trading.services.accounts import _new_master_token

COPY_OPTION_FIELDS = ("lot_mode", "lot_value", "lot_step", "min_lots", "max_lots", "symbol_prefix",
                      "symbol_suffix", "symbol_map", "reverse", "max_delay_seconds", "allowed_symbols",
                      "blocked_symbols")


def _locked(account: TradingAccount) -> TradingAccount:
    return TradingAccount.objects.select_for_update().get(pk=account.pk)


@transaction.atomic
def rename_account(*, actor, account: TradingAccount, name: str) -> TradingAccount:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DomainError("Give the account a name (at most 100 characters).", code="validation_error",
                          fields={"name": ["A name of 1 to 100 characters."]})
    account = _locked(account)
    before = account.name
    account.name = name
    account.save(update_fields=["name", "updated_at"])
    record_event(action="trading.account_renamed", actor=actor, target=account,
                 description=f"Trading account {before} renamed to {name}", details={"before": before, "after": name})
    return account


@transaction.atomic
def set_account_active(*, actor, account: TradingAccount, active: bool) -> TradingAccount:
    """The owner's switch: an inactive account copies and trades nothing (its EA is cut off at once)."""
    account = _locked(account)
    if account.is_active != active:
        account.is_active = active
        account.save(update_fields=["is_active", "updated_at"])
        record_event(action="trading.account_activated" if active else "trading.account_deactivated",
                     actor=actor, target=account,
                     description=f"{account.name} switched {'on' if active else 'off'}")
    return account


@transaction.atomic
def delete_account(*, actor, account: TradingAccount) -> None:
    """Delete the account with its copy history; an account with exchange orders or positions is kept (those
    are records of real money) — switch it off instead."""
    account = _locked(account)
    record_event(action="trading.account_deleted", actor=actor, target=account,
                 description=f"Trading account {account.name} ({account.role}) deleted",
                 details={"role": account.role, "last4": account.api_key_last4})
    try:
        with transaction.atomic():
            account.delete()
    except (ProtectedError, RestrictedError, IntegrityError) as exc:
        raise DomainError("This account has exchange history and cannot be deleted; switch it off instead.",
                          code="account_has_history") from exc


@transaction.atomic
def set_copy_mode(*, actor, account: TradingAccount, copy_mode: str) -> TradingAccount:
    if account.role != AccountRole.MASTER:
        raise DomainError("Only a master has a copy mode.", code="not_a_master")
    if copy_mode not in CopyMode.values:
        raise DomainError("The mode is PUBSUB, 1TO1 or RECORD.", code="validation_error",
                          fields={"copy_mode": ["Choose PUBSUB, 1TO1 or RECORD."]})
    account = _locked(account)
    before = account.copy_mode
    if before != copy_mode:
        account.copy_mode = copy_mode
        account.save(update_fields=["copy_mode", "updated_at"])
        record_event(action="trading.copy_mode_changed", actor=actor, target=account,
                     description=f"{account.name}: copy mode {before} → {copy_mode}",
                     details={"before": before, "after": copy_mode})
    return account


@transaction.atomic
def set_partner(*, actor, account: TradingAccount, partner: TradingAccount | None) -> TradingAccount:
    """A master's 1TO1 partner: one of its own followers (or none)."""
    if account.role != AccountRole.MASTER:
        raise DomainError("Only a master has a partner.", code="not_a_master")
    if partner is not None and partner.following_id != account.pk:
        raise DomainError("The partner must be one of this master's followers.", code="validation_error",
                          fields={"partner": ["Choose one of your followers."]})
    account = _locked(account)
    account.partner = partner
    account.save(update_fields=["partner", "updated_at"])
    record_event(action="trading.partner_set", actor=actor, target=account,
                 description=f"{account.name}: partner {partner.name if partner else 'none'}",
                 details={"partner_id": partner.pk if partner else None})
    return account


@transaction.atomic
def rotate_master_token(*, actor, account: TradingAccount) -> str:
    """A new `MST-` token: people who have not followed yet need the new one; current followers stay."""
    if account.role != AccountRole.MASTER:
        raise DomainError("Only a master has a master token.", code="not_a_master")
    account = _locked(account)
    account.master_token = _new_master_token()
    account.save(update_fields=["master_token", "updated_at"])
    record_event(action="trading.master_token_rotated", actor=actor, target=account,
                 description=f"Master token of {account.name} replaced")
    return account.master_token


@transaction.atomic
def follow_master(*, actor, follower: TradingAccount, master_token: str) -> TradingAccount:
    """Follow the master whose token was given. The token is looked up inside the current tenant only, and
    the master must be listed or belong to the same person."""
    if follower.role != AccountRole.FOLLOWER:
        raise DomainError("Only a follower account can follow a master.", code="validation_error",
                          fields={"follower": ["Choose one of your follower accounts."]})
    token = (master_token or "").strip()
    master = TradingAccount.objects.filter(master_token=token, role=AccountRole.MASTER).first() if token else None
    if master is not None and master.user_id != follower.user_id:
        listed = CopySettings.objects.filter(account=master, listed=True).exists()
        master = master if listed else None
    if master is None or not master.is_active:
        raise DomainError("No active master has this token.", code="validation_error",
                          fields={"master_token": ["No active master has this token."]})
    follower = _locked(follower)
    follower.following = master
    follower.save(update_fields=["following", "updated_at"])
    record_event(action="trading.master_followed", actor=actor, target=follower,
                 description=f"{follower.name} follows {master.name}", details={"master_id": master.pk})
    return follower


@transaction.atomic
def unfollow(*, actor, follower: TradingAccount) -> TradingAccount:
    follower = _locked(follower)
    before = follower.following_id
    if before:
        follower.following = None
        follower.save(update_fields=["following", "updated_at"])
        TradingAccount.objects.filter(pk=before, partner=follower).update(partner=None)
        record_event(action="trading.master_unfollowed", actor=actor, target=follower,
                     description=f"{follower.name} stopped following", details={"master_id": before})
    return follower


def _settings_row(account: TradingAccount) -> CopySettings:
    row = CopySettings.objects.select_for_update().filter(account=account).first()
    return row or CopySettings(account=account, tenant_id=account.tenant_id)


@transaction.atomic
def set_listed(*, actor, account: TradingAccount, listed: bool) -> CopySettings:
    if account.role != AccountRole.MASTER:
        raise DomainError("Only a master can be listed.", code="not_a_master")
    row = _settings_row(account)
    row.listed = listed
    row.save()
    record_event(action="trading.master_listed" if listed else "trading.master_unlisted", actor=actor,
                 target=account, description=f"{account.name} {'shown on' if listed else 'hidden from'} /masters")
    return row


@transaction.atomic
def update_copy_options(*, actor, account: TradingAccount, **values) -> CopySettings:
    """A follower's copy options; the lot bounds are checked here (the database checks them too)."""
    unknown = set(values) - set(COPY_OPTION_FIELDS)
    if unknown:
        raise DomainError(f"Unknown options: {', '.join(sorted(unknown))}.", code="validation_error")
    row = _settings_row(account)
    before = {field: str(getattr(row, field)) for field in COPY_OPTION_FIELDS}
    for field, value in values.items():
        setattr(row, field, value)
    errors: dict[str, list[str]] = {}
    if row.lot_step <= 0:
        errors["lot_step"] = ["The lot step is above 0."]
    if row.lot_value < 0:
        errors["lot_value"] = ["The lot value is 0 or more."]
    if row.max_lots < row.min_lots:
        errors["max_lots"] = ["The maximum lots are below the minimum."]
    if errors:
        raise DomainError("The copy options are not valid.", code="validation_error", fields=errors)
    row.save()
    record_event(action="trading.copy_options_changed", actor=actor, target=account,
                 description=f"Copy options of {account.name} changed",
                 details={"before": before, "after": {field: str(getattr(row, field)) for field in COPY_OPTION_FIELDS}})
    return row
