"""Assignment (stage 2): give one incoming order a trader's requisite.

One short transaction per order, all or nothing:

1. Lock the incoming order (`new`/`retrying`, due) with `FOR UPDATE SKIP LOCKED`:
   a second message for the same order, or the sweeper, skips it while a live
   task holds it, and a cancel by the store waits for us and then sees the result.
   The same statement reads what the attempt's events show (`_LOCK_ORDER_SQL`).
2. Find and lock the best requisite (`_CANDIDATE_SQL`): an approved requisite of
   a trader in work, in the order's currency, method and bank, whose switches
   allow the order type and whose static limits take the amount, ordered by
   the trader's `trafic_priority` (kept on the requisite as `trader_priority`),
   then `last_used_at` (NULLS FIRST: round-robin),
   `LIMIT 1 FOR UPDATE OF r SKIP LOCKED` (the NO KEY UPDATE strength, as for the
   order: we change no key, so rows that merely reference the requisite or the
   order are never blocked by our locks). PostgreSQL walks the index
   `ix_req_traders_rotation` in that order and stops at the first requisite that
   fits and is free, so the rows it reads do not grow with the number of
   requisites (issue 21; planned for each order's values, see
   `_plan_the_search_for_its_values`).
3. Check the dynamic limits *after* the lock, in a new statement, from the
   requisite's kept turnover (`requisite_turnover`, payments.services.turnover:
   lifetime and today's sums, exact because every change of what counts writes
   it in its own transaction) and, for a rolling window, the window's orders in
   `order_history`: holding the requisite's row lock serialises every assignment to
   it, and in READ COMMITTED each statement sees what the previous holder
   committed. (REPEATABLE READ or SERIALIZABLE would be the textbook answer; the
   row lock gives the same guarantee here without serialization failures to retry, and
   a REPEATABLE READ snapshot taken before the lock would miss the previous
   holder's order.) A candidate that fails is passed over for the next one, at
   most ASSIGNMENT_MAX_CANDIDATES in one attempt, and goes to the back of its
   round (`last_used_at` = now, as if it had taken its turn): requisites that hit
   their limits stop being used and so sort first, and would otherwise be
   locked and checked by every order before any other (a full requisite costs
   one check per round, which is why the limits are not a filter of the walk).
4. Write `order_history` (with its hold amount), mark the incoming order
   `assigned` (compare-and-swap), bump `last_used_at`, place the hold on the
   balance row the search locked (payments.services.ledger), add the amount to
   the requisite's kept turnover (after the balance rows, the order execution
   takes them in too), audit, and write
   the store's callback event — or, when nothing fits, count a failed attempt:
   `retrying` with a growing, jittered delay in `next_attempt_at`, or `failed`
   after ASSIGNMENT_MAX_ATTEMPTS. The first claim of an order also writes its
   `order.created` event, ahead of those (intake writes none).

The worker's time is the service's throughput (bench/assignment.py), so this
path reads nothing twice and compiles nothing per order: its statements are
written out here or compiled once (core.sql), the events are built from the
rows in hand (payments.callbacks.bodies.order_event_data_in_hand), and rows
written together go in one INSERT. About ten statements per assigned order.

The database row is the truth and a Celery message only a hint. Retries are not
broker ETAs: `sweep_due_orders` (beat) sends a message for every open order
whose time has come and that no live task holds, so a lost message, Redis down
at intake, or a worker killed mid-transaction (PostgreSQL rolls it back) only
delays an order. `order_history.incoming_order_id` is unique besides.

Limits (fiat, `full_requisites_settings`), counted over the requisite's orders
that are not cancelled, failed or expired (a confirmed amount counts instead of
the requested one), this order included:
- `lower_limit` / `upper_limit`: the order amount (static, in the search);
- `turnover_day_max`: turnover since 00:00 UTC;
- `total_limit`: turnover over the requisite's lifetime;
- `turnover_limit_minutes`: when set, `turnover_day_max` also caps the turnover
  of the rolling window of that many minutes before now (a 1440-minute window
  is a rolling day that does not reset at midnight).
"""

import logging
import random
import time as time_module
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from functools import partial

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import logs, messaging, metrics, sql
from payments.callbacks.bodies import OrderNames, order_event_data_in_hand
from payments.callbacks.events import enqueue_order_created_once, enqueue_order_event, write_order_events
from payments.errors import PaymentsError
from payments.models import BalanceTrader, IncomingOrder, OrderHistory, OrderType
from payments.models.fields import CRYPTO_PLACES, FIAT_PLACES
from tenancy.models import Tenant
from tenancy.scoping import current_tenant_id, tenant_context

from . import dispatch, ledger, turnover
from .audit_trail import entry, record, record_all

logger = logging.getLogger(__name__)

CRYPTO_STEP = Decimal(1).scaleb(-CRYPTO_PLACES)
FIAT_STEP = Decimal(1).scaleb(-FIAT_PLACES)
OPEN_STATUSES = [IncomingOrder.Status.NEW, IncomingOrder.Status.RETRYING]
# The tasks that assign one order, and several of one tenant (payments.tasks), sent by name (core.messaging).
ASSIGN_ORDER_TASK = "payments.assign_incoming_order"
ASSIGN_ORDERS_TASK = "payments.assign_incoming_orders"
# Orders that no longer count towards a requisite's turnover.
NOT_COUNTED = [OrderHistory.Status.CANCELLED, OrderHistory.Status.FAILED, OrderHistory.Status.EXPIRED]


def _sql_list(statuses) -> str:
    """Status constants as an SQL list for the statements below (enum values, never input)."""
    return ", ".join(f"'{status}'" for status in statuses)


OPEN_IN_SQL = _sql_list(OPEN_STATUSES)
REASON_MAX_LENGTH = 500

NO_CANDIDATE = "No free requisite fits this order (currency, method, bank, limits, trader balance)."


class Outcome(StrEnum):
    ASSIGNED = "assigned"
    RETRYING = "retrying"
    FAILED = "failed"
    SKIPPED = "skipped"  # not open, not due yet, or held by another live task: nothing changed


@dataclass(frozen=True)
class AssignmentResult:
    order_id: int
    outcome: Outcome
    order: OrderHistory | None = None
    reason: str = ""
    next_attempt_at: datetime | None = None

    @property
    def assigned(self) -> bool:
        return self.outcome == Outcome.ASSIGNED


@dataclass(frozen=True)
class Candidate:
    requisite_id: int
    trader_id: int
    method_id: int
    bank_id: int
    commission_percent: Decimal
    total_limit: Decimal | None
    turnover_day_max: Decimal | None
    turnover_limit_minutes: int | None
    method_code: str
    bank_name: str
    trader_balance: BalanceTrader | None  # a PayIn's: the trader's balance row, locked with the requisite

    @property
    def has_dynamic_limits(self) -> bool:
        return self.total_limit is not None or self.turnover_day_max is not None


class _StopAttempt(Exception):
    """Nothing this attempt can do (e.g. the store cannot cover a PayOut): roll back, count the attempt."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- assigning one order --------------------------------------------------------------------------------

def assign_incoming_order(*, order_id: int, tenant_id, claim: datetime | None = None) -> AssignmentResult:
    """Assign incoming order `order_id` of tenant `tenant_id`, or count a failed attempt (see the module doc).

    Safe to call any number of times, concurrently too: only one call can hold
    the order, and an order that is no longer open is left alone. An unexpected
    error rolls everything back, is counted as a failed attempt (so an order that
    always breaks ends `failed` instead of circling forever) and is re-raised.

    `claim`: the end of this worker's claim on the order (`claim_orders`); the order is attempted only
    while its `next_attempt_at` still is that claim. Without it, only when it is due.
    """
    with tenant_context(tenant_id):
        now = timezone.now()
        try:
            with transaction.atomic():  # not durable: the demo seeding assigns inside its own transaction
                return _assign_locked(order_id, now, claim)
        except _StopAttempt as stop:
            return _count_failed_attempt_again(order_id, stop.reason, now)
        except Exception as exc:
            logger.exception("Assignment of incoming order %s broke", order_id)
            _count_failed_attempt_again(order_id, f"Internal error while assigning ({type(exc).__name__}).", now)
            raise


def _assign_locked(order_id: int, now: datetime, claim: datetime | None = None) -> AssignmentResult:
    claimed = _lock_open_order(order_id)
    if claimed is None:
        return AssignmentResult(order_id, Outcome.SKIPPED, reason="Not open, or held by another task.")
    order = claimed.order
    if claim is not None:
        if order.next_attempt_at != claim:  # its claim ran out and another message took it over
            return AssignmentResult(order_id, Outcome.SKIPPED, reason="Claimed by another task.")
    elif order.next_attempt_at is not None and order.next_attempt_at > now:
        return AssignmentResult(order_id, Outcome.SKIPPED, reason="Not due yet.",
                                next_attempt_at=order.next_attempt_at)
    tried: list[int] = []
    reason = NO_CANDIDATE
    _plan_the_search_for_its_values()
    for _ in range(max(1, settings.ASSIGNMENT_MAX_CANDIDATES)):
        candidate = _lock_best_candidate(order, exclude=tried)
        if candidate is None:
            break
        tried.append(candidate.requisite_id)
        over = _dynamic_limit_exceeded(candidate, order, now)
        if over:
            reason = over
            # Its turn came and it could not take it: to the back of the round, or requisites that hit
            # their limits (no longer used, so sorted first) would be tried first by every order.
            _touch_requisite(candidate.requisite_id, now)
            continue
        return _record_assignment(claimed, candidate, now)
    if tried and reason == NO_CANDIDATE:
        reason = f"Requisites {tried} were taken meanwhile."
    return _count_failed_attempt(order, reason, now, claimed=claimed)


@dataclass(frozen=True)
class _ClaimedOrder:
    """The locked open order with what its events show, read in the same statement."""

    order: IncomingOrder
    names: OrderNames
    callback_url: str
    created_event: tuple[str, dict] | None  # its `order.created`, when no earlier transaction wrote it


# One statement for the order's row lock and what the attempt's events need: the store's callback URL, the
# names the event shows, and whether the order's `order.created` was written (by an earlier attempt or a
# cancel that lost the race): the first claim writes it, with the order as it is now.
_LOCK_ORDER_SQL = f"""
SELECT o.*, f.code AS names_fiat, c.code AS names_crypto, pm.code AS names_method, bk.name AS names_bank,
       s.callback_url AS store_callback_url,
       EXISTS (SELECT 1 FROM callback_events e
               WHERE e.incoming_order_id = o.id AND e.event_type = 'order.created') AS created_announced
FROM incoming_orders o
JOIN fiat_currencies f ON f.id = o.fiat_currency_id
JOIN crypto_currencies c ON c.id = o.crypto_currency_id
JOIN merchant_stores s ON s.id = o.store_id
LEFT JOIN payment_methods pm ON pm.id = o.payment_method_id
LEFT JOIN banks bk ON bk.id = o.bank_id
WHERE o.id = %(id)s AND o.tenant_id = %(tenant)s AND o.status IN ({OPEN_IN_SQL})
{{locking}}
"""  # noqa: S608 (status constants from the enums, no input)


def _lock_open_order(order_id: int) -> _ClaimedOrder | None:
    """The open order `order_id` locked (`FOR NO KEY UPDATE SKIP LOCKED`: None when another task holds it)."""
    locking = "FOR NO KEY UPDATE OF o SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    rows = IncomingOrder.objects.raw(_LOCK_ORDER_SQL.format(locking=locking),
                                     {"id": order_id, "tenant": _tenant_param(current_tenant_id())})
    order = next(iter(rows), None)
    if order is None:
        return None
    names = OrderNames(fiat_currency=order.names_fiat, crypto_currency=order.names_crypto,
                       method=order.names_method, bank=order.names_bank)
    created = None
    if not order.created_announced:
        created = ("order.created", order_event_data_in_hand(order, names=names))
    return _ClaimedOrder(order=order, names=names, callback_url=order.store_callback_url, created_event=created)


def _touch_requisite(requisite_id: int, now: datetime) -> None:
    """The requisite's `last_used_at` = now: it has had its turn of the round-robin."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE req_traders SET last_used_at = %s WHERE id = %s",
                       [connection.ops.adapt_datetimefield_value(now), requisite_id])


# The candidate search (step 2 above). {placeholders} are filled from fixed fragments only; values are parameters.
# PostgreSQL walks ix_req_traders_rotation (tenant, currency, priority, last_used_at NULLS FIRST, id, over the
# approved requisites not excluded) in this ORDER BY and joins each requisite's trader, user, settings (and
# PayIn: balance) by key, stopping at the first that passes every filter and is not locked: the rows read do
# not grow with the number of requisites. The turnover limits are not filtered here but checked on the
# locked candidate from its turnover row (`_dynamic_limit_exceeded`): a requisite that is full then goes to
# the back of its round, so it costs one check per round, where a filter would leave it at the front of the
# index (it is never used) for every later search to walk past.
_CANDIDATE_SQL = """
SELECT c.*, pm.code, bk.name FROM (
SELECT r.id, r.trader_id, r.method_id, r.bank_id, t.{commission_column},
       s.total_limit, s.turnover_day_max, s.turnover_limit_minutes, {balance_columns}
FROM req_traders r
JOIN traders t ON t.id = r.trader_id
JOIN users u ON u.id = t.user_id
JOIN full_requisites_settings s ON s.requisite_id = r.id
{balance_join}
WHERE r.tenant_id = %(tenant)s
  AND r.fiat_id = %(fiat)s
  AND r.status = 'approve'
  AND NOT r.is_excluded_from_distribution
  AND t.in_work
  AND u.status <> 'blocked'
  AND t.{flag_column} AND s.{flag_column}
  AND (s.lower_limit IS NULL OR s.lower_limit <= CAST(%(amount)s AS NUMERIC))
  AND (s.upper_limit IS NULL OR s.upper_limit >= CAST(%(amount)s AS NUMERIC))
  {extra_filters}
ORDER BY r.trader_priority ASC, r.last_used_at ASC NULLS FIRST, r.id ASC
LIMIT 1
{locking}
) c
JOIN payment_methods pm ON pm.id = c.method_id
JOIN banks bk ON bk.id = c.bank_id
"""
# PayIn: the trader's available crypto (balance − hold) in the order's pair covers the order. The balance
# row is locked with the requisite (SKIP LOCKED: a trader busy with another order is passed over rather than
# waited for), and PostgreSQL re-checks the condition on the row as last committed once it holds the lock,
# so the hold placed afterwards cannot fail for want of balance. The row comes back as it is locked, and the
# hold is placed on it without reading it again.
_BALANCE_FIELDS = ["id", "tenant_id", "trader_id", "fiat_currency_id", "crypto_currency_id", "crypto_balance",
                   "crypto_hold"]
_BALANCE_COLUMNS = ", ".join(f"b.{name} AS b_{name}" for name in _BALANCE_FIELDS)
_NO_BALANCE_COLUMNS = ", ".join(f"NULL AS b_{name}" for name in _BALANCE_FIELDS)
_BALANCE_JOIN = """JOIN balance_traders b ON b.trader_id = r.trader_id AND b.tenant_id = r.tenant_id
  AND b.fiat_currency_id = %(fiat)s AND b.crypto_currency_id = %(crypto)s
  AND b.crypto_balance - b.crypto_hold >= CAST(%(crypto_amount)s AS NUMERIC)"""


def _plan_the_search_for_its_values() -> None:
    """Have PostgreSQL walk the index for the candidate search (settings of this transaction only).

    The walk reads a few rows, but the planner cannot know it: it estimates how many requisites pass
    every filter (trader, user, settings, balance) from independent column statistics, often a handful
    out of 100 000, and then finds joining them all and sorting the few cheaper than walking the index
    in order — seconds at 100 000 requisites, where the walk takes a millisecond. `enable_sort = off`
    leaves it the walk (a sort is still made where nothing else can give the order; nothing later in
    the assignment sorts). `plan_cache_mode = force_custom_plan`: psycopg prepares a statement run often
    (DATABASE_PREPARE_THRESHOLD), and a generic plan would not know the tenant and currency either.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
                           "set_config('enable_sort', 'off', true)")


def _lock_best_candidate(order: IncomingOrder, *, exclude: list[int]) -> Candidate | None:
    pay_in = order.order_type == OrderType.PAY_IN
    ops = connection.ops
    params = {"tenant": _tenant_param(order.tenant_id), "fiat": order.fiat_currency_id,
              "amount": ops.adapt_decimalfield_value(order.total_fiat, 20, 2)}
    extra = []
    if order.payment_method_id is not None:
        extra.append("AND r.method_id = %(method)s")
        params["method"] = order.payment_method_id
    if order.bank_id is not None:
        extra.append("AND r.bank_id = %(bank)s")
        params["bank"] = order.bank_id
    if exclude:
        names = [f"exclude{i}" for i in range(len(exclude))]
        extra.append("AND r.id NOT IN ({})".format(", ".join(f"%({name})s" for name in names)))
        params.update(zip(names, exclude, strict=True))
    if pay_in:
        params["crypto"] = order.crypto_currency_id
        params["crypto_amount"] = ops.adapt_decimalfield_value(order.amount_currency, 20, 8)
    locking = ""
    if connection.features.has_select_for_update_skip_locked:  # SQLite (the demo) serialises writers instead
        locking = f"FOR NO KEY UPDATE OF {'r, b' if pay_in else 'r'} SKIP LOCKED"
    sql = _CANDIDATE_SQL.format(
        commission_column="pay_in_commission_percent" if pay_in else "pay_out_commission_percent",
        flag_column="pay_in" if pay_in else "pay_out",
        balance_join=_BALANCE_JOIN if pay_in else "",
        balance_columns=_BALANCE_COLUMNS if pay_in else _NO_BALANCE_COLUMNS,
        extra_filters="\n  ".join(extra),
        locking=locking,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    balance = None
    if pay_in:
        values = list(row[8:15])
        values[5:7] = [_crypto(value) for value in values[5:7]]
        balance = BalanceTrader.from_db(connection.alias, _BALANCE_FIELDS, values)
    return Candidate(requisite_id=row[0], trader_id=row[1], method_id=row[2], bank_id=row[3],
                     commission_percent=_decimal(row[4]), total_limit=_decimal(row[5]),
                     turnover_day_max=_decimal(row[6]), turnover_limit_minutes=row[7],
                     method_code=row[15], bank_name=row[16], trader_balance=balance)


def _tenant_param(tenant_id):
    """The tenant id as the backend stores it (a UUID on PostgreSQL, 32 hex digits on SQLite)."""
    return Tenant._meta.pk.get_db_prep_value(tenant_id, connection)


def _decimal(value) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))  # SQLite hands back floats and ints


def _crypto(value) -> Decimal:
    """A crypto amount read by raw SQL, as the ORM would give it (SQLite hands back floats)."""
    return value if isinstance(value, Decimal) else _decimal(value).quantize(CRYPTO_STEP)


def _fiat(value) -> Decimal:
    """A fiat sum read by raw SQL (None: nothing counted), to the cent (SQLite sums in floats)."""
    return _decimal(value or 0).quantize(FIAT_STEP)


def _day_start(now: datetime) -> datetime:
    return datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)


# The locked requisite's turnover (payments.services.turnover), and when needed the rolling window's and
# the day's from order_history (the window's few orders; the day's only when another worker's clock has
# already moved the row to a later day).
_TURNOVER_SQL = """
SELECT v.total, v.day, v.day_total, {window}, {day}
FROM (SELECT 1 AS one) k LEFT JOIN requisite_turnover v ON v.requisite_id = %(requisite)s
"""
_COUNTED_SINCE_SQL = f"""(SELECT SUM(COALESCE(confirmed_fiat, total_fiat)) FROM order_history
   WHERE requisite_id = %(requisite)s AND status NOT IN ({_sql_list(NOT_COUNTED)}) AND created_at >= %({{since}})s)
"""  # noqa: S608 (status constants from the enums, no input)


def _dynamic_limit_exceeded(candidate: Candidate, order: IncomingOrder, now: datetime) -> str:
    """Why the locked candidate cannot take `order` (empty: it can), from what is committed now.

    Its turnover row changes only in transactions that hold the requisite's lock (assignment) or that
    lower it or settle an order (payments.services.turnover): read after the lock, in a new statement,
    it is exact, as the sums over order_history were.
    """
    if not candidate.has_dynamic_limits:
        return ""
    day_start = _day_start(now)
    window_start = None
    if candidate.turnover_limit_minutes and candidate.turnover_day_max is not None:
        window_start = now - timedelta(minutes=candidate.turnover_limit_minutes)
    adapt = connection.ops.adapt_datetimefield_value
    params = {"requisite": candidate.requisite_id, "day_start": adapt(day_start),
              "window_start": adapt(window_start or now)}
    window_sql = _COUNTED_SINCE_SQL.format(since="window_start") if window_start else "NULL"
    day_sql = _COUNTED_SINCE_SQL.format(since="day_start")
    with connection.cursor() as cursor:
        cursor.execute(_TURNOVER_SQL.format(window=window_sql, day="NULL"), params)
        total, stored_day, stored_day_total, window, _ = cursor.fetchone()
        kept = turnover.Turnover(_fiat(total), _date(stored_day), _fiat(stored_day_total))
        day = kept.on(turnover.utc_day(now))
        if day is None and candidate.turnover_day_max is not None:  # the row is on a later day than our clock
            cursor.execute(_TURNOVER_SQL.format(window="NULL", day=day_sql), params)
            day = cursor.fetchone()[4]
    total, day, window = kept.total, _fiat(day), _fiat(window)
    requested = order.total_fiat
    checks = (
        ("daily turnover", candidate.turnover_day_max, day),
        ("lifetime turnover", candidate.total_limit, total),
        (f"turnover of the last {candidate.turnover_limit_minutes} minutes",
         candidate.turnover_day_max if window_start else None, window),
    )
    for label, cap, used in checks:
        if cap is not None and used + requested > cap:
            return (f"Requisite {candidate.requisite_id}: {label} {used} + {requested} "
                    f"would exceed its limit {cap}.")
    return ""


def _date(value):
    """A date read by raw SQL (SQLite hands back text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def trader_commission(amount_currency: Decimal, percent: Decimal) -> Decimal:
    """The trader's commission in crypto: `percent` of the order's crypto amount, 8 places, half up."""
    with localcontext() as ctx:
        ctx.prec = 60
        return (amount_currency * percent / 100).quantize(CRYPTO_STEP, rounding=ROUND_HALF_UP)


def _record_assignment(claimed: _ClaimedOrder, candidate: Candidate, now: datetime) -> AssignmentResult:
    """Write the assignment: the execution row (with its hold), the order `assigned`, the requisite's turn,
    the hold's balance movement, the audit entries and the store's events — a statement each, or one for
    several rows, each compiled once (a worker spends its time here, see bench/assignment.py)."""
    order = claimed.order
    assigned = OrderHistory(
        tenant_id=order.tenant_id, client_id=order.client_id, incoming_order=order, hash_id=order.hash_id,
        trader_id=candidate.trader_id, requisite_id=candidate.requisite_id, merchant_id=order.merchant_id,
        store_id=order.store_id, method_id=candidate.method_id, bank_id=candidate.bank_id,
        crypto_currency_id=order.crypto_currency_id, fiat_id=order.fiat_currency_id, order_type=order.order_type,
        exchange_rate=order.exchange_rate, amount_currency=order.amount_currency, total_fiat=order.total_fiat,
        store_commission=order.store_commission,
        trader_commission=trader_commission(order.amount_currency, candidate.commission_percent),
        status=OrderHistory.Status.PENDING, expires_at=now + settings.ORDER_PAYMENT_WINDOW, created_at=now,
    )
    assigned.hold_amount = ledger.order_hold_amount(assigned)
    sql.insert(assigned, connection)
    old_status = order.status
    if _mark_assigned(order, candidate, now) != 1:  # cannot happen while we hold the row lock
        raise RuntimeError(f"Incoming order {order.pk} changed under its lock.")
    _touch_requisite(candidate.requisite_id, now)
    try:
        ledger.hold_for_new_order(assigned, trader_balance=candidate.trader_balance)
    except PaymentsError as exc:
        # PayIn: cannot happen, the trader's balance is locked and checked by the search. PayOut: the
        # store's balance does not cover the payout, which no other requisite changes.
        raise _StopAttempt(f"The hold could not be placed: {exc}") from exc
    # After the hold (balance rows before the turnover row, as in execution's status changes).
    turnover.add(tenant_id=order.tenant_id, requisite_id=candidate.requisite_id, created_at=now,
                 amount=order.total_fiat)
    record_all([
        entry(action="order.hold_placed", target=assigned, description=f"Hold of {assigned.hold_amount} for {assigned}",
              details={"hold_amount": assigned.hold_amount, "order_type": assigned.order_type}),
        entry(action="order.assigned", target=order,
              description=f"{order} assigned to requisite {candidate.requisite_id} of trader {candidate.trader_id}",
              details={"changes": {"status": {"old": old_status, "new": order.status}}, "order": assigned.pk,
                       "requisite": candidate.requisite_id, "trader": candidate.trader_id,
                       "trader_commission": assigned.trader_commission, "attempt": order.retry_count + 1}),
    ])
    names = replace(claimed.names, method=candidate.method_code, bank=candidate.bank_name)
    _write_events(claimed, [("order.assigned", order_event_data_in_hand(order, names=names, assigned=assigned))])
    return AssignmentResult(order.pk, Outcome.ASSIGNED, order=assigned)


_MARK_ASSIGNED_SQL = f"""
UPDATE incoming_orders SET status = %(status)s, state = %(state)s, payment_method_id = %(method)s,
       bank_id = %(bank)s, last_attempt_at = %(now)s, next_attempt_at = NULL, dispatched_at = NULL, failure_reason = '',
       updated_at = %(now)s
WHERE id = %(id)s AND status IN ({OPEN_IN_SQL})
"""  # noqa: S608 (status constants from the enums, no input)


def _mark_assigned(order: IncomingOrder, candidate: Candidate, now: datetime) -> int:
    """Compare-and-swap the locked order to `assigned` (in the database and on `order`); rows changed."""
    with connection.cursor() as cursor:
        # The merchant's state is the new execution row's (payments.services.order_state).
        cursor.execute(_MARK_ASSIGNED_SQL, {"status": IncomingOrder.Status.ASSIGNED,
                                            "state": OrderHistory.Status.PENDING, "method": candidate.method_id,
                                            "bank": candidate.bank_id,
                                            "now": connection.ops.adapt_datetimefield_value(now), "id": order.pk})
        swapped = cursor.rowcount
    order.status, order.payment_method_id, order.bank_id = IncomingOrder.Status.ASSIGNED, candidate.method_id, \
        candidate.bank_id
    order.state = OrderHistory.Status.PENDING
    order.last_attempt_at, order.next_attempt_at, order.dispatched_at, order.failure_reason = now, None, None, ""
    order.updated_at = now
    return swapped


def _write_events(claimed: _ClaimedOrder, events: list[tuple[str, dict]]) -> None:
    """The attempt's events, after its `order.created` when this is the order's first claim, in one INSERT."""
    pending = [claimed.created_event] if claimed.created_event else []
    write_order_events(incoming_order=claimed.order, callback_url=claimed.callback_url, events=pending + events)


# --- failed attempts ------------------------------------------------------------------------------------

def retry_delay(failed_attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: d = base·2^(n−1) capped, drawn from [d/2, d].

    Half fixed, half random ("equal jitter"): orders that failed together spread
    out, and below the cap a delay is never shorter than the one before it.
    """
    base = settings.ASSIGNMENT_RETRY_BASE_DELAY.total_seconds()
    cap = settings.ASSIGNMENT_RETRY_MAX_DELAY.total_seconds()
    full = min(cap, base * 2 ** min(max(failed_attempts, 1) - 1, 32))
    return timedelta(seconds=full / 2 + random.uniform(0, full / 2))


_COUNT_FAILED_SQL = f"""
UPDATE incoming_orders SET status = %(status)s, state = %(status)s, retry_count = %(attempts)s,
       last_attempt_at = %(now)s, next_attempt_at = %(next)s, failure_reason = %(reason)s, dispatched_at = NULL,
       updated_at = %(now)s
WHERE id = %(id)s AND status IN ({OPEN_IN_SQL})
"""  # noqa: S608 (status constants from the enums, no input)


def _count_failed_attempt(order: IncomingOrder, reason: str, now: datetime, *,
                          claimed: _ClaimedOrder | None = None) -> AssignmentResult:
    """Write the failed attempt on the locked, open order: `retrying` with its next time, or `failed`.

    `claimed`: the order as `_lock_open_order` read it, whose events are written from what is in hand.
    """
    attempts = order.retry_count + 1
    final = attempts >= settings.ASSIGNMENT_MAX_ATTEMPTS
    reason = reason[:REASON_MAX_LENGTH]
    if final:
        reason = f"Not assigned after {attempts} attempts. {reason}"[:REASON_MAX_LENGTH]
    new_status = IncomingOrder.Status.FAILED if final else IncomingOrder.Status.RETRYING
    next_attempt_at = None if final else now + retry_delay(attempts)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_FAILED_SQL, {"status": new_status, "attempts": attempts, "now": adapt(now),
                                           "next": adapt(next_attempt_at), "reason": reason, "id": order.pk})
        swapped = cursor.rowcount
    if not swapped:
        return AssignmentResult(order.pk, Outcome.SKIPPED, reason="The order changed meanwhile.")
    old_status = order.status
    order.status, order.state, order.retry_count, order.last_attempt_at = new_status, new_status, attempts, now
    order.next_attempt_at, order.failure_reason, order.dispatched_at, order.updated_at = \
        next_attempt_at, reason, None, now
    if new_status != old_status:
        record(action="order.assignment_failed" if final else "order.assignment_retrying", target=order,
               description=f"{order}: {reason}",
               details={"changes": {"status": {"old": old_status, "new": new_status}}, "attempts": attempts,
                        "next_attempt_at": next_attempt_at, "reason": reason})
    if claimed is not None:
        _write_events(claimed, [("order.failed", order_event_data_in_hand(order, names=claimed.names))]
                      if final else [])
    elif final:
        enqueue_order_event(incoming_order=order, event_type="order.failed")
    return AssignmentResult(order.pk, Outcome.FAILED if final else Outcome.RETRYING, reason=reason,
                            next_attempt_at=next_attempt_at)


@transaction.atomic
def _count_failed_attempt_again(order_id: int, reason: str, now: datetime) -> AssignmentResult:
    """After a rolled-back attempt: lock the order anew (if still ours to count) and count the attempt."""
    order = (IncomingOrder.objects.select_for_update(skip_locked=True, of=("self",), no_key=True)
             .filter(pk=order_id, status__in=OPEN_STATUSES).first())
    if order is None:
        return AssignmentResult(order_id, Outcome.SKIPPED, reason="Not open, or held by another task.")
    # The rolled-back attempt took its order.created with it; this one must not fail for the event's sake,
    # or an order that always breaks would never be counted (the next claim writes the event instead).
    try:
        with transaction.atomic():
            enqueue_order_created_once(incoming_order=order)
    except Exception:
        logger.exception("Could not write order.created of incoming order %s", order_id)
    return _count_failed_attempt(order, reason, now)


# --- claims: the worker's short lease (payments.services.dispatch) ---------------------------------------

_CLAIM_SQL = f"""
UPDATE incoming_orders SET next_attempt_at = %(until)s, dispatched_at = NULL
WHERE id IN (
    SELECT id FROM incoming_orders
    WHERE tenant_id = %(tenant)s AND id IN ({{ids}}) AND status IN ({OPEN_IN_SQL})
      AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s {{or_ours}})
    {{locking}}
)
RETURNING id
"""  # noqa: S608 (status constants from the enums, placeholders for ids; values are parameters)


def claim_orders(order_ids: list[int], *, now: datetime, ours: datetime | None = None) -> tuple[list[int], datetime]:
    """Claim the due, open orders among `order_ids` for this worker: their `next_attempt_at` becomes the end of
    the claim lease (returned) and their dispatch mark is cleared, in one committed statement, before any
    of them is worked on. A worker killed with the claim leaves them due again when it runs out, whatever
    queue they came from; orders held by a live task (row locked, or claimed and not run out) are left out.

    `ours`: the end of this worker's earlier claim on them, renewed now.
    """
    until = now + timedelta(seconds=settings.ASSIGNMENT_CLAIM_LEASE_SECONDS)
    if not order_ids:
        return [], until
    adapt = connection.ops.adapt_datetimefield_value
    names = [f"id{i}" for i in range(len(order_ids))]
    params = {"until": adapt(until), "now": adapt(now), "tenant": _tenant_param(current_tenant_id()),
              **dict(zip(names, order_ids, strict=True))}
    or_ours = ""
    if ours is not None:
        or_ours, params["ours"] = "OR next_attempt_at = %(ours)s", adapt(ours)
    locking = "FOR NO KEY UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    statement = _CLAIM_SQL.format(ids=", ".join(f"%({name})s" for name in names), or_ours=or_ours,
                                  locking=locking)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
        claimed = {row[0] for row in cursor.fetchall()}
    return [order_id for order_id in order_ids if order_id in claimed], until


def assign_dispatched_orders(*, order_ids: list[int], tenant_id) -> list[AssignmentResult]:
    """What a worker does with a message: claim its orders, then assign them one after another.

    Each is its own assignment (its own transaction); one that raises is left to the sweeper (its claim
    runs out) and the rest go on. The claim of those still waiting is renewed when half of it has gone,
    so a long batch does not have its tail re-sent. A duplicate or late message is harmless: what is
    not open, held by another task, or not due is not claimed.
    """
    results: list[AssignmentResult] = []
    with tenant_context(tenant_id):
        started = time_module.monotonic()
        pending, until = claim_orders(order_ids, now=timezone.now())
        half_lease = settings.ASSIGNMENT_CLAIM_LEASE_SECONDS / 2
        while pending:
            if time_module.monotonic() - started > half_lease:
                pending, until = claim_orders(pending, now=timezone.now(), ours=until)
                started = time_module.monotonic()
                if not pending:
                    break
            order_id = pending.pop(0)
            with logs.bind(order_id=order_id):
                try:
                    result = assign_incoming_order(order_id=order_id, tenant_id=tenant_id, claim=until)
                except SoftTimeLimitExceeded:
                    raise
                except Exception:
                    metrics.count("p2p_order_assignment_failures_total", reason="internal_error", final="false")
                    logger.exception("Assigning incoming order %s failed; the sweeper will retry it", order_id)
                    continue
            results.append(result)
            _count(result)
    return results


def _count(result: AssignmentResult) -> None:
    """The result in /metrics: intake → assigned latency, or a failed attempt by reason class."""
    if result.outcome == Outcome.ASSIGNED and result.order is not None:
        created = result.order.incoming_order.created_at
        metrics.observe("p2p_order_assignment_latency_seconds",
                        max(0.0, (result.order.created_at - created).total_seconds()))
    elif result.outcome in (Outcome.RETRYING, Outcome.FAILED):
        metrics.count("p2p_order_assignment_failures_total", reason=metrics.assignment_failure_reason(result.reason),
                      final="true" if result.outcome == Outcome.FAILED else "false")


# --- the sweeper ----------------------------------------------------------------------------------------

def dispatch_lease() -> timedelta:
    """How long a message handed to the broker owns its order while the queue is short (see sweep_due_orders)."""
    return timedelta(seconds=settings.ASSIGNMENT_DISPATCH_LEASE_SECONDS)


_SWEEP_DUE_SQL = f"""
UPDATE incoming_orders SET dispatched_at = %(now)s
WHERE id IN (
    SELECT id FROM incoming_orders
    WHERE tenant_id = %(tenant)s AND status IN ({OPEN_IN_SQL})
      AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)
      AND (dispatched_at IS NULL {{or_lost}})
    ORDER BY COALESCE(next_attempt_at, created_at), id
    LIMIT %(limit)s
    {{locking}}
)
RETURNING id
"""  # noqa: S608 (status constants from the enums, no input)


def sweep_due_orders(*, now: datetime | None = None, limit: int | None = None) -> int:
    """Send an assignment message for every open order that is due and that no message or live worker owns;
    returns how many (the rules: payments.services.dispatch).

    Due: `next_attempt_at` has come (NULL for a `new` order nobody claimed yet; a retry's time; the end
    of a worker's claim). Unowned: no message out (`dispatched_at` NULL: the hint was dropped, or a
    worker took it), or the message looks lost in the broker — handed over before
    `dispatch.resend_cutoff` (never behind a backlog longer than ASSIGNMENT_SWEEP_QUEUE_SLACK). Claiming
    moves `dispatched_at` to now in one UPDATE over rows taken with `FOR UPDATE SKIP LOCKED`, so an
    order a worker is assigning right now is skipped, and two sweepers never send the same order twice.

    Tenant by tenant inside each tenant's context (as the callback and expiry
    sweepers do) instead of bypassing RLS: the tenants table is small, the scope
    stays enforced, and no audit entry is needed for a bypass every few seconds.
    """
    now = now or timezone.now()
    limit = limit or settings.ASSIGNMENT_SWEEP_BATCH
    cutoff = dispatch.resend_cutoff(ASSIGN_ORDER_TASK, now=now,
                                    dispatch_lease=settings.ASSIGNMENT_DISPATCH_LEASE_SECONDS,
                                    claim_lease=settings.ASSIGNMENT_CLAIM_LEASE_SECONDS,
                                    slack=settings.ASSIGNMENT_SWEEP_QUEUE_SLACK)
    ops = connection.ops
    statement = _SWEEP_DUE_SQL.format(
        or_lost="" if cutoff is None else "OR dispatched_at <= %(stale)s",
        locking="FOR NO KEY UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else "")
    sent = 0
    for tenant_id in Tenant.objects.order_by("created_at").values_list("pk", flat=True):
        if sent >= limit:
            break
        with tenant_context(tenant_id):
            params = {"now": ops.adapt_datetimefield_value(now), "tenant": _tenant_param(tenant_id),
                      "limit": limit - sent}
            if cutoff is not None:
                params["stale"] = ops.adapt_datetimefield_value(cutoff)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, params)
                claimed = sorted(row[0] for row in cursor.fetchall())
            sent += _dispatch(claimed, tenant_id, now)
    if sent:
        logger.info("Assignment sweeper sent %s due orders", sent)
    return sent


def _dispatch(order_ids: list[int], tenant_id, marked_at: datetime) -> int:
    """Send one message per claimed order as a hint (core.messaging: never blocks on the broker;
    a message it cannot send gives its order back to the next sweep at once).

    One message per order, not coalesced batches: a sweep sends orders that are due now (retries),
    and a batch would make each wait behind the others' attempts in one worker.
    """
    tenant = {"tenant_id": str(tenant_id)}
    for order_id in order_ids:
        messaging.send(ASSIGN_ORDER_TASK, args=[order_id], kwargs=tenant,
                       on_drop=partial(give_back_dispatch, order_id, tenant_id, marked_at))
    return len(order_ids)


def give_back_dispatch(order_id: int, tenant_id, marked_at: datetime) -> None:
    """The message of an order marked sent at `marked_at` was not handed to the broker: no message owns it now,
    so the next sweep sends it (unless a later message or a worker's claim has moved the mark meanwhile)."""
    with tenant_context(tenant_id):
        IncomingOrder.objects.filter(pk=order_id, status__in=OPEN_STATUSES,
                                     dispatched_at__lte=marked_at).update(dispatched_at=None)


__all__ = ["AssignmentResult", "Candidate", "Outcome", "assign_dispatched_orders", "assign_incoming_order",
           "claim_orders", "dispatch_lease", "give_back_dispatch", "retry_delay", "sweep_due_orders",
           "trader_commission"]
