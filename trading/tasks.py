"""Celery tasks of trading: take ids, call one service. Tenant-scoped tasks carry `tenant_id` (TenantTask)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from core import logs
from tenancy.task_context import TenantTask
from trading.services.execution import process_signal
from trading.services.reconciliation import reconcile_account, reconcile_active_accounts


@shared_task(base=TenantTask, name="trading.process_signal", ignore_result=True, soft_time_limit=120,
             time_limit=150)
def process_signal_task(signal_id: int) -> str | None:
    return process_signal(signal_id=signal_id)


@shared_task(base=TenantTask, name="trading.reconcile_account", ignore_result=True, soft_time_limit=120,
             time_limit=150)
def reconcile_account_task(account_id: int, trigger: str = "beat", signal_id: int | None = None) -> None:
    with logs.bind(account_id=account_id):
        reconcile_account(account_id=account_id, trigger=trigger, signal_id=signal_id)


@shared_task(name="trading.reconcile_active_accounts", ignore_result=True, soft_time_limit=60, time_limit=90)
def reconcile_active_accounts_task() -> int:
    """Beat (TRADING_RECONCILE_SECONDS): one reconciliation pass per active account."""
    return reconcile_active_accounts()


@shared_task(name="trading.sweep_stale_signals", ignore_result=True, soft_time_limit=60, time_limit=90)
def sweep_stale_signals_task() -> int:
    """Beat: re-send signals whose message was lost (queued too long) or whose worker died (claim expired)."""
    from django.db import transaction

    from tenancy.scoping import dangerously_bypass_tenant_scope
    from trading.models import Signal, SignalStatus
    from trading.services.messaging import send_on_commit

    now = timezone.now()
    lease = timedelta(seconds=settings.TRADING_SIGNAL_CLAIM_LEASE_SECONDS)
    with dangerously_bypass_tenant_scope():
        stale = list(
            Signal.objects.filter(status=SignalStatus.QUEUED, created_at__lt=now - lease / 4).order_by()
            .values_list("pk", "tenant_id")
            .union(Signal.objects.filter(status=SignalStatus.PROCESSING, claimed_at__lt=now - lease).order_by()
                   .values_list("pk", "tenant_id"))[:500])
    with transaction.atomic():
        for pk, tenant_id in stale:
            send_on_commit("trading.process_signal", tenant_id=tenant_id, signal_id=pk)
    return len(stale)


@shared_task(name="trading.paper_tick", ignore_result=True, soft_time_limit=60, time_limit=90)
def paper_tick_task() -> int:
    """Beat (TRADING_PAPER_TICK_SECONDS): the paper exchange's prices move; stops and take-profits fire."""
    from trading.services.paper import tick_paper_books

    return tick_paper_books()


@shared_task(base=TenantTask, name="trading.deliver_notification", ignore_result=True, soft_time_limit=60,
             time_limit=90)
def deliver_notification_task(notification_id: int) -> None:
    from trading.services.telegram import deliver_notification

    deliver_notification(notification_id=notification_id)


@shared_task(name="trading.sweep_notifications", ignore_result=True, soft_time_limit=60, time_limit=90)
def sweep_notifications_task() -> int:
    """Beat (TELEGRAM_SWEEP_SECONDS): deliver outbox rows whose message was lost or whose retry is due."""
    from trading.services.telegram import sweep_notifications

    return sweep_notifications()
