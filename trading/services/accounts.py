"""Trading accounts, their keys and credentials, risk settings, and pause/resume — each action audited."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import record_event
from core import crypto
from core.errors import DomainError
from trading.models import (
    AccountRole,
    AccountStatus,
    CopyMode,
    CredentialStatus,
    Exchange,
    ExchangeCredential,
    TradingAccount,
    TradingSettings,
)
from trading.models.accounts import API_KEY_PREFIX, MASTER_TOKEN_PREFIX

API_KEY_PURPOSE = "trading.account_api_key"
WEBHOOK_TOKEN_PURPOSE = "trading.webhook_token"


def api_key_digest(raw_key: str) -> str:
    return crypto.digest(raw_key, purpose=API_KEY_PURPOSE)


def webhook_token_digest(token: str) -> str:
    return crypto.digest(token, purpose=WEBHOOK_TOKEN_PURPOSE)


def _new_api_key() -> str:
    return API_KEY_PREFIX + crypto.new_token(24)


def _new_master_token() -> str:
    return MASTER_TOKEN_PREFIX + crypto.new_token(12).replace("-", "x").replace("_", "y")


def _set_api_key(account: TradingAccount) -> str:
    raw = _new_api_key()
    account.api_key_digest = api_key_digest(raw)
    account.api_key_encrypted = raw
    account.api_key_last4 = raw[-4:]
    account.api_key_rotated_at = timezone.now()
    return raw


def _set_webhook_secrets(account: TradingAccount) -> None:
    token = crypto.new_token(24)
    account.webhook_token_digest = webhook_token_digest(token)
    account.webhook_token_encrypted = token
    account.webhook_passphrase = crypto.new_token(12)


@transaction.atomic
def create_trading_account(*, actor, user, name: str, role: str = AccountRole.FOLLOWER,
                           exchange: Exchange | None = None, copy_mode: str = CopyMode.PUBSUB,
                           following: TradingAccount | None = None) -> TradingAccount:
    """A new account with a fresh `sk_live_` key, webhook token and passphrase; masters get an `MST-` token."""
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the account a name.", code="validation_error", fields={"name": ["Required."]})
    if role not in AccountRole.values:
        raise DomainError("Role is master or follower.", code="validation_error", fields={"role": ["Invalid."]})
    account = TradingAccount(user=user, name=name, role=role, exchange=exchange, copy_mode=copy_mode,
                             following=following,
                             master_token=_new_master_token() if role == AccountRole.MASTER else None)
    _set_api_key(account)
    _set_webhook_secrets(account)
    try:
        account.full_clean(exclude=["api_key_encrypted", "webhook_token_encrypted", "webhook_passphrase", "tenant"])
    except ValidationError as exc:
        raise DomainError("The account is not valid.", code="validation_error", fields=exc.message_dict) from exc
    account.save()
    record_event(action="trading.account_created", actor=actor, target=account,
                 description=f"Trading account {account.name} ({account.role}) created",
                 details={"role": account.role, "exchange": exchange.name if exchange else None})
    return account


@transaction.atomic
def rotate_api_key(*, actor, account: TradingAccount) -> str:
    """Replace the account's `sk_live_` key; the old one stops working at once. Returns the new key
    (shown once here; afterwards masked, revealed only after a fresh password/MFA check)."""
    account = TradingAccount.objects.select_for_update().get(pk=account.pk)
    raw = _set_api_key(account)
    account.save(update_fields=["api_key_digest", "api_key_encrypted", "api_key_last4", "api_key_rotated_at",
                                "updated_at"])
    record_event(action="trading.api_key_rotated", actor=actor, target=account,
                 description=f"API key of {account.name} rotated", details={"last4": account.api_key_last4})
    return raw


@transaction.atomic
def rotate_webhook_secrets(*, actor, account: TradingAccount) -> TradingAccount:
    """New webhook token and passphrase: the old webhook URL stops working at once."""
    account = TradingAccount.objects.select_for_update().get(pk=account.pk)
    _set_webhook_secrets(account)
    account.save(update_fields=["webhook_token_digest", "webhook_token_encrypted", "webhook_passphrase",
                                "updated_at"])
    record_event(action="trading.webhook_rotated", actor=actor, target=account,
                 description=f"Webhook token and passphrase of {account.name} replaced")
    return account


def add_credential(*, actor, account: TradingAccount, api_key: str, secret: str, passphrase: str = "",
                   check: bool = True) -> ExchangeCredential:
    """Store an exchange key (encrypted), after a real authenticated call proves it works.

    A key the exchange refuses is not stored (DomainError); an exchange that does not answer is, too, an
    error — the user retries. Earlier active keys of the account are revoked: orders use the newest.
    """
    from trading.exchanges.client import ExchangeRefused, ExchangeUnavailable, gateway_for_credential

    api_key, secret, passphrase = (api_key or "").strip(), (secret or "").strip(), (passphrase or "").strip()
    if not api_key or not secret:
        raise DomainError("Both the API key and the secret are needed.", code="validation_error",
                          fields={"api_key": ["Required."], "secret": ["Required."]})
    if account.exchange is None:
        raise DomainError("Choose the account's exchange first.", code="no_exchange")
    credential = ExchangeCredential(account=account, api_key=api_key, secret=secret, passphrase=passphrase,
                                    api_key_last4=api_key[-4:], tenant_id=account.tenant_id,
                                    created_at=timezone.now())
    if check:
        try:
            gateway_for_credential(account.exchange, credential).check_credentials()
        except ExchangeRefused as exc:
            raise DomainError(f"The exchange refused this key: {exc}", code="credential_refused") from exc
        except ExchangeUnavailable as exc:
            raise DomainError(f"The exchange did not answer; try again: {exc}", code="exchange_unavailable") from exc
        credential.checked_at = timezone.now()
    with transaction.atomic():
        ExchangeCredential.objects.filter(account=account, status=CredentialStatus.ACTIVE).update(
            status=CredentialStatus.REVOKED)
        credential.save()
        record_event(action="trading.credential_added", actor=actor, target=account,
                     description=f"Exchange key {credential.api_key_masked} added to {account.name}",
                     details={"credential_id": credential.pk, "last4": credential.api_key_last4,
                              "checked": bool(check)})
    return credential


@transaction.atomic
def revoke_credential(*, actor, credential: ExchangeCredential) -> None:
    ExchangeCredential.objects.filter(pk=credential.pk).update(status=CredentialStatus.REVOKED)
    record_event(action="trading.credential_revoked", actor=actor, target=credential.account,
                 description=f"Exchange key {credential.api_key_masked} revoked",
                 details={"credential_id": credential.pk, "last4": credential.api_key_last4})


SETTINGS_FIELDS = ("risk_per_trade", "min_leverage", "max_leverage", "require_stop_loss", "max_open_positions",
                   "daily_loss_limit")


@transaction.atomic
def update_settings(*, actor, user, account: TradingAccount | None = None, market_max_leverage: int | None = None,
                    **values) -> TradingSettings:
    """Create or change the user's settings, or `account`'s override of them.

    Rules: risk in (0, 10] %, 1 ≤ min ≤ max leverage ≤ what the market allows (`market_max_leverage`,
    when the caller knows the market), daily loss limit positive or empty.
    """
    unknown = set(values) - set(SETTINGS_FIELDS)
    if unknown:
        raise DomainError(f"Unknown settings: {', '.join(sorted(unknown))}.", code="validation_error")
    if account is not None:
        row = TradingSettings.objects.select_for_update().filter(account=account).first()
        if row is None:
            base = TradingSettings.objects.filter(user=user, account__isnull=True).first()
            row = TradingSettings(user=user, account=account, **{f: getattr(base, f) for f in SETTINGS_FIELDS}
                                  if base else {})
    else:
        row = (TradingSettings.objects.select_for_update().filter(user=user, account__isnull=True).first()
               or TradingSettings(user=user))
    before = {field: str(getattr(row, field)) for field in SETTINGS_FIELDS}
    for field, value in values.items():
        setattr(row, field, value)
    errors: dict[str, list[str]] = {}
    risk = Decimal(str(row.risk_per_trade))
    if not Decimal(0) < risk <= Decimal(10):
        errors["risk_per_trade"] = ["Risk per trade is a percent in (0, 10]."]
    if int(row.min_leverage) < 1:
        errors["min_leverage"] = ["The minimum leverage is at least 1."]
    if int(row.max_leverage) < int(row.min_leverage):
        errors["max_leverage"] = ["The maximum leverage is below the minimum."]
    if market_max_leverage is not None and int(row.max_leverage) > market_max_leverage:
        errors["max_leverage"] = [f"The market allows at most {market_max_leverage}x."]
    if row.daily_loss_limit is not None and Decimal(str(row.daily_loss_limit)) <= 0:
        errors["daily_loss_limit"] = ["The daily loss limit is a positive amount, or empty for none."]
    if errors:
        raise DomainError("The settings are not valid.", code="validation_error", fields=errors)
    row.save()
    after = {field: str(getattr(row, field)) for field in SETTINGS_FIELDS}
    record_event(action="trading.settings_changed", actor=actor, target=row,
                 description=f"Trading settings of {account or user} changed",
                 details={"before": before, "after": after, "account_id": account.pk if account else None})
    return row


@transaction.atomic
def pause_account(*, actor, account: TradingAccount, reason: str) -> bool:
    """Stop taking signals on the account (the risk brake, or a person). False when it was not active."""
    changed = TradingAccount.objects.filter(pk=account.pk, status=AccountStatus.ACTIVE).update(
        status=AccountStatus.PAUSED, pause_reason=reason[:200], paused_at=timezone.now(), updated_at=timezone.now())
    if changed:
        record_event(action="trading.account_paused", actor=actor, target=account,
                     description=f"{account.name} paused: {reason}", details={"reason": reason})
        from trading.models import NotificationKind
        from trading.services.notifications import enqueue_notification

        enqueue_notification(account=account, kind=NotificationKind.ACCOUNT_PAUSED,
                             text=f"⏸ {account.name} is paused: {reason}. New signals are rejected until you "
                                  f"resume it.", dedupe_key=f"pause:{account.pk}:{timezone.now():%Y%m%d%H%M%S%f}")
    return bool(changed)


@transaction.atomic
def resume_account(*, actor, account: TradingAccount) -> bool:
    changed = TradingAccount.objects.filter(pk=account.pk, status=AccountStatus.PAUSED).update(
        status=AccountStatus.ACTIVE, pause_reason="", paused_at=None, resumed_at=timezone.now(),
        updated_at=timezone.now())
    if changed:
        record_event(action="trading.account_resumed", actor=actor, target=account,
                     description=f"{account.name} resumed")
    return bool(changed)
