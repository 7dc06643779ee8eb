"""The daily loss brake: an account whose loss since the day's start passes its limit is paused."""

from trading import selectors
from trading.models import AccountStatus, TradingAccount


def check_daily_loss(account: TradingAccount, *, config=None) -> bool:
    """Pause `account` when realized + unrealized loss since 00:00 UTC (or its last resume) reaches the
    daily loss limit; True when the account is (now) over the limit."""
    config = config or selectors.effective_settings(account)
    if config.daily_loss_limit is None:
        return False
    loss = selectors.loss_today(account)
    if loss < config.daily_loss_limit:
        return False
    if account.status == AccountStatus.ACTIVE:
        from trading.services.accounts import pause_account

        pause_account(actor=None, account=account,
                      reason=f"daily loss limit reached (loss {loss:.2f} ≥ {config.daily_loss_limit})")
        account.status = AccountStatus.PAUSED
    return True
