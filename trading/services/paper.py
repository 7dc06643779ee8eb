"""The paper exchange's clock: catch every paper book up to now, so stops and take-profits fire on time."""

import logging
from datetime import datetime

from django.db import transaction

from tenancy.scoping import dangerously_bypass_tenant_scope, tenant_context
from trading.models import AccountStatus, ExchangeKind, PaperExchangeState, TradingAccount
from trading.services.messaging import send_on_commit

logger = logging.getLogger(__name__)


def tick_paper_books(*, now: datetime | None = None) -> int:
    """Beat (TRADING_PAPER_TICK_SECONDS): advance the book of every trading paper account to the price step of
    `now` (default: the clock's). An account where a stop, take-profit or liquidation fired gets a
    reconciliation pass at once, so its position shows closed without waiting for the reconciliation beat.
    Returns how many fired in all."""
    from trading.exchanges.paper import catch_up_book

    with dangerously_bypass_tenant_scope():
        books = list(PaperExchangeState.objects.filter(
            account__exchange__kind=ExchangeKind.PAPER, account__is_active=True).exclude(
            account__status=AccountStatus.DISABLED).values_list("account_id", "tenant_id"))
    fired_total = 0
    for account_id, tenant_id in books:
        with tenant_context(tenant_id):
            account = TradingAccount.objects.get(pk=account_id)
            with transaction.atomic():
                fired = catch_up_book(account, now=now)
                if fired:
                    send_on_commit("trading.reconcile_account", tenant_id=tenant_id, account_id=account_id,
                                   trigger="paper_tick")
        fired_total += fired
    return fired_total
