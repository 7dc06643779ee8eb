"""The merchant's view of an order's status, kept on `incoming_orders.state` (see the model's field).

It is the execution status once the order is assigned, else the intake status. The merchant's order list
filters by it through one index; joining every order to its execution row to compute it took a quarter of a
second at 100 000 orders (bench/pages.py). Every change of either status writes it in the same transaction:
- intake: a new order is `new` (the field's default);
- assignment: assigned → `pending` (the new execution row's status), retrying or failed → that status
  (payments.services.assignment, in the same UPDATE);
- the store's cancel of an order not assigned → `cancelled` (payments.services.orders and intake);
- every status change of the execution row → its status (`follow_execution`, from execution._change_status).
`mismatches()` lists the orders whose kept state differs (the tests walk the flows and check it is empty);
`recount()` rewrites it (repair, and tests that write orders directly).
"""

from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce

from payments.models import IncomingOrder, OrderHistory


def follow_execution(order: OrderHistory) -> None:
    """`order`'s status changed: its incoming order's state follows, in the caller's transaction."""
    IncomingOrder.objects.unscoped().filter(pk=order.incoming_order_id, tenant_id=order.tenant_id).update(
        state=order.status)


def _expected():
    execution = OrderHistory.objects.unscoped().filter(incoming_order_id=OuterRef("pk")).values("status")[:1]
    return Coalesce(Subquery(execution), F("status"))


def mismatches() -> list[tuple]:
    """(id, kept state, expected state) of every order of the current tenant whose state is wrong."""
    return list(IncomingOrder.objects.annotate(expected=_expected()).exclude(state=F("expected"))
                .values_list("id", "state", "expected"))


def recount() -> int:
    """Rewrite the current tenant's states from the two statuses; the number of rows changed."""
    return IncomingOrder.objects.annotate(expected=_expected()).exclude(state=F("expected")).update(
        state=_expected())
