"""The stale-signal sweeper finds lost and abandoned signals (and runs on SQLite, the zero-setup demo)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from trading.models import Signal, SignalStatus
from trading.tasks import sweep_stale_signals_task

from .factories import SignalFactory


@pytest.mark.django_db
def test_the_sweeper_resends_queued_and_abandoned_signals_only(in_tenant, settings,
                                                              django_capture_on_commit_callbacks):
    settings.TRADING_SIGNAL_CLAIM_LEASE_SECONDS = 120
    lost = SignalFactory(status=SignalStatus.QUEUED)
    SignalFactory(status=SignalStatus.PROCESSING, claimed_at=timezone.now() - timedelta(minutes=5))  # worker died
    SignalFactory(status=SignalStatus.QUEUED)  # fresh: its message is still on its way
    SignalFactory(status=SignalStatus.PROCESSING, claimed_at=timezone.now())  # a live worker holds it
    Signal.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=1))

    with django_capture_on_commit_callbacks() as callbacks:
        count = sweep_stale_signals_task()

    assert count == 2 and len(callbacks) == 2
