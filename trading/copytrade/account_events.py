"""Tell the copy-trade servers at once when an account's key, role or active flag changes (after commit), so
a revoked key or a deactivated account is cut off without waiting for the servers' periodic re-check."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from trading.models import TradingAccount

from .bus import publish_account_changed


@receiver(post_save, sender=TradingAccount, dispatch_uid="copytrade_account_saved")
@receiver(post_delete, sender=TradingAccount, dispatch_uid="copytrade_account_deleted")
def account_changed(sender, instance: TradingAccount, **kwargs) -> None:
    if kwargs.get("created"):
        return
    account_id = instance.pk
    transaction.on_commit(lambda: publish_account_changed(account_id))
