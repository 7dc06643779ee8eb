"""The staff dashboard on the admin index: what needs a person now, per operator the viewer works in.

Each operator costs the same handful of grouped or limited queries however many orders it has (a test holds
this with django_assert_num_queries), and each is read inside that operator's tenant context, so row-level
security applies as on every other page.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from payments.models import Appeal, CallbackEvent, IncomingOrder, MerchantStore, OrderHistory
from tenancy.scoping import tenant_context

Status = OrderHistory.Status
OPEN = (Status.PENDING, Status.PROCESSING, Status.DISPUTED)
# An order this close to its deadline is "expiring"; an intake row waiting longer than this is "stuck".
EXPIRING_WITHIN = timedelta(minutes=10)
STUCK_AFTER = timedelta(minutes=5)
LIST_SIZE = 10
INTAKE_WAITING = (IncomingOrder.Status.NEW, IncomingOrder.Status.PROCESSING, IncomingOrder.Status.RETRYING)


@dataclass
class OperatorDashboard:
    tenant: object
    by_status: list[tuple[str, str, int, int]] = field(default_factory=list)  # status, label, open/all, today
    waiting_intake: int = 0
    stuck_intake: int = 0
    attention: list = field(default_factory=list)  # open orders past or near their deadline
    open_appeals: int = 0
    oldest_appeals: list = field(default_factory=list)
    failing_stores: list = field(default_factory=list)
    volume: list[dict] = field(default_factory=list)  # per merchant and currency, completed today


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def operator_dashboard(tenant, *, now: datetime | None = None) -> OperatorDashboard:
    """Ten queries for one operator, whatever its size."""
    now = now or timezone.now()
    today = day_start(now)
    board = OperatorDashboard(tenant=tenant)
    with tenant_context(tenant):
        # Two index ranges (the open orders by status; today's orders by time), not one OR over the whole table.
        open_now = dict(OrderHistory.objects.filter(status__in=OPEN).values("status").annotate(n=Count("id"))
                        .values_list("status", "n").order_by())
        made_today = dict(OrderHistory.objects.filter(created_at__gte=today).values("status")
                          .annotate(n=Count("id")).values_list("status", "n").order_by())
        board.by_status = [(value, label, open_now.get(value, 0) if value in OPEN else made_today.get(value, 0),
                            made_today.get(value, 0)) for value, label in Status.choices]

        intake = IncomingOrder.objects.filter(status__in=INTAKE_WAITING).aggregate(
            waiting=Count("id"), stuck=Count("id", filter=Q(created_at__lt=now - STUCK_AFTER)))
        board.waiting_intake, board.stuck_intake = intake["waiting"], intake["stuck"]

        # The ids first, through the open orders' deadline index, then those rows with their store and trader.
        soonest = list(OrderHistory.objects.filter(status__in=(Status.PENDING, Status.PROCESSING),
                                                   expires_at__lte=now + EXPIRING_WITHIN)
                       .order_by("expires_at", "pk").values_list("pk", flat=True)[:LIST_SIZE])
        board.attention = list(OrderHistory.objects.filter(pk__in=soonest).select_related("store", "fiat", "trader")
                               .order_by("expires_at", "pk"))
        for order in board.attention:
            order.overdue = order.expires_at <= now  # the sweeper is behind, or the order is stuck

        appeals = Appeal.objects.filter(status=Appeal.Status.OPEN)
        board.oldest_appeals = list(appeals.select_related("order").order_by("created_at", "pk")[:LIST_SIZE])
        board.open_appeals = appeals.count()

        failing = (CallbackEvent.objects.filter(status=CallbackEvent.Status.PENDING, attempts__gt=0)
                   .values("store_id").annotate(n=Count("id"), since=Min("created_at"), last_error=Max("last_error")))
        failing_by_store = {row["store_id"]: row for row in failing.order_by("-n")[:LIST_SIZE]}
        flagged = MerchantStore.objects.filter(Q(callback_flagged_at__isnull=False) | Q(pk__in=list(failing_by_store)))
        board.failing_stores = [
            {"store": store, "pending": failing_by_store.get(store.pk, {}).get("n", 0),
             "flagged_at": store.callback_flagged_at,
             "last_error": failing_by_store.get(store.pk, {}).get("last_error", "")}
            for store in flagged.order_by("store_name")[:LIST_SIZE]]

        board.volume = list(
            OrderHistory.objects.filter(status=Status.COMPLETED, completed_at__gte=today)
            .values("merchant_id", "merchant__first_name", "merchant__last_name", "fiat__code",
                    "crypto_currency__code")
            .annotate(orders=Count("id"), fiat=Sum("confirmed_fiat"), crypto=Sum("amount_currency"))
            .order_by("-fiat")[:LIST_SIZE])
    return board


def staff_dashboard(tenants, *, now: datetime | None = None) -> list[OperatorDashboard]:
    """One dashboard per operator of `tenants` (the viewer's own: tenancy.authz.member_tenant_ids)."""
    now = now or timezone.now()
    return [operator_dashboard(tenant, now=now) for tenant in tenants]
