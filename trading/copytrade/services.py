"""The database side of the copy-trade server. Synchronous: the asyncio server runs each call in its thread
pool, and each call is one short transaction inside the account's tenant.

The hot path is `record_master_event`: a master's OPEN becomes the trade row and one delivery row per
recipient (their own symbol/side/lots), committed before anything is sent, in a handful of statements
whatever the number of followers.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from tenancy.scoping import dangerously_bypass_tenant_scope, tenant_context
from trading.models import (
    AccountRole,
    CopiedTrade,
    CopiedTradeStatus,
    CopyDelivery,
    CopyMode,
    CopySettings,
    DeliveryKind,
    DeliveryStatus,
    EAConnection,
    LotMode,
    MasterTrade,
    MasterTradeStatus,
    Notification,
    NotificationKind,
    TradingAccount,
)
from trading.services.accounts import api_key_digest

from . import fast_insert
from . import options as copy_options
from .fast_insert import DeliveryRow, insert_deliveries
from .protocol import Ack, MasterEvent, Nack, ProtocolError, number, signal_line


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a connection is, fixed at AUTH; `digest` lets the server notice a rotated key."""

    account_id: int
    tenant_id: uuid.UUID
    role: str
    name: str
    digest: str


@dataclass(slots=True)
class Outgoing:
    """A stored delivery ready to send: the follower and its SIGNAL line."""

    follower_id: int
    seq: int
    line: str


@dataclass(slots=True)
class EventResult:
    ticket: int
    duplicate: bool = False
    deliveries: list[Outgoing] = field(default_factory=list)
    skipped: int = 0


def _ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def _line(delivery: CopyDelivery | DeliveryRow, *, follower_ticket: int | None, master_ticket: int) -> str:
    return signal_line(seq=delivery.seq, ts_ms=_ms(delivery.created_at), kind=delivery.kind,
                       master_ticket=master_ticket, follower_ticket=follower_ticket, symbol=delivery.symbol,
                       side=delivery.side, lots=delivery.lots, price=delivery.price, stop_loss=delivery.stop_loss,
                       take_profit=delivery.take_profit, ratio=delivery.ratio)


# --- identity ---------------------------------------------------------------------------------------------

def authenticate(raw_key: str) -> Identity | str:
    """The account of an `sk_live_` key, or why not (unknown key, inactive account).

    The key names its account across tenants (its digest is unique), so this one look-up bypasses the tenant
    scope; everything after it runs inside the account's tenant.
    """
    if not raw_key.startswith("sk_live_"):
        return "invalid api key"
    digest = api_key_digest(raw_key)
    with dangerously_bypass_tenant_scope():
        row = (TradingAccount.objects.filter(api_key_digest=digest)
               .values("id", "tenant_id", "role", "name", "is_active").first())
    if row is None:
        return "invalid api key"
    if not row["is_active"]:
        return "account is inactive"
    return Identity(row["id"], row["tenant_id"], row["role"], row["name"], digest)


def still_valid(identities: list[Identity]) -> set[int]:
    """Which of these connections may stay: same key, still active. One query for all of them."""
    if not identities:
        return set()
    with dangerously_bypass_tenant_scope():
        rows = TradingAccount.objects.filter(pk__in=[i.account_id for i in identities]).values_list(
            "id", "api_key_digest", "is_active")
        current = {pk: (digest, active) for pk, digest, active in rows}
    return {i.account_id for i in identities
            if current.get(i.account_id, ("", False))[1] and current[i.account_id][0] == i.digest}


def connection_opened(identity: Identity, *, server_id: str, remote_addr: str) -> None:
    now = timezone.now()
    with tenant_context(identity.tenant_id):
        EAConnection.objects.update_or_create(
            account_id=identity.account_id,
            defaults={"connected": True, "server_id": server_id, "remote_addr": remote_addr[:64],
                      "connected_at": now, "last_seen_at": now, "tenant_id": identity.tenant_id})


def connection_closed(identity: Identity, *, server_id: str) -> None:
    """Marks the EA offline unless another server has it by now (a reconnect that raced the close)."""
    with tenant_context(identity.tenant_id):
        EAConnection.objects.filter(account_id=identity.account_id, server_id=server_id).update(
            connected=False, disconnected_at=timezone.now())


def store_heartbeats(beats: dict[int, tuple[uuid.UUID, Decimal | None, Decimal | None, object]]) -> None:
    """The last PING of each account: `{account_id: (tenant_id, balance, equity, seen_at)}`, batched."""
    by_tenant: dict = defaultdict(list)
    for account_id, (tenant_id, balance, equity, seen_at) in beats.items():
        by_tenant[tenant_id].append((account_id, balance, equity, seen_at))
    for tenant_id, rows in by_tenant.items():
        with tenant_context(tenant_id), transaction.atomic():
            for account_id, balance, equity, seen_at in rows:
                values = {"last_seen_at": seen_at}
                if equity is not None:
                    values.update(balance=balance, equity=equity)
                EAConnection.objects.filter(account_id=account_id).update(**values)


# --- the master's events ------------------------------------------------------------------------------------

@dataclass(slots=True)
class Recipients:
    """The followers an OPEN goes to, with the copy options and last equity of those that have them."""

    ids: list[int]
    settings: dict[int, CopySettings]
    equity: dict[int, Decimal]


def _recipients_of_open(master: TradingAccount) -> Recipients:
    """Routing by the master's copy mode; an inactive follower gets nothing. Three small queries whatever
    the number of followers (ids only: loading whole accounts would decrypt their secrets)."""
    if master.copy_mode == CopyMode.RECORD:
        return Recipients([], {}, {})
    followers = TradingAccount.objects.filter(is_active=True, role=AccountRole.FOLLOWER)
    if master.copy_mode == CopyMode.ONE_TO_ONE:
        if not master.partner_id:
            return Recipients([], {}, {})
        followers = followers.filter(pk=master.partner_id)
    else:
        followers = followers.filter(following_id=master.pk)
    ids = list(followers.order_by("id").values_list("id", flat=True))
    if not ids:
        return Recipients([], {}, {})
    settings = {s.account_id: s for s in CopySettings.objects.filter(account_id__in=followers.values("id"))}
    equity = {}
    if any(s.lot_mode == LotMode.EQUITY_RATIO for s in settings.values()):
        equity = dict(EAConnection.objects.filter(account_id__in=followers.values("id"), equity__isnull=False)
                      .values_list("account_id", "equity"))
    return Recipients(ids, settings, equity)


def _equity_of(account: TradingAccount) -> Decimal | None:
    try:
        return account.ea_connection.equity
    except EAConnection.DoesNotExist:
        return None


def record_master_event(identity: Identity, event: MasterEvent) -> EventResult:
    """Store a master's OPEN/MODIFY/CLOSE and its deliveries; return what to send.

    A repeated event (the master re-sends what it had no `OK` for after a reconnect) stores nothing new and
    returns the deliveries of that trade still unacknowledged, to send again.
    """
    with tenant_context(identity.tenant_id), transaction.atomic():
        master = (TradingAccount.objects.select_related("ea_connection")
                  .only("id", "tenant_id", "copy_mode", "partner_id", "ea_connection__equity")
                  .filter(pk=identity.account_id, is_active=True, role=AccountRole.MASTER).first())
        if master is None:
            raise ProtocolError("AUTH", "account is not an active master")
        if event.kind == DeliveryKind.OPEN:
            return _record_open(master, event)
        trade = MasterTrade.objects.select_for_update().filter(master=master, ticket=event.ticket).first()
        if trade is None:
            raise ProtocolError("NOT_FOUND", f"no trade with ticket {event.ticket}")
        if event.kind == DeliveryKind.MODIFY:
            return _record_modify(trade, event)
        return _record_close(trade, event)


def _pending_of(trade: MasterTrade, kind: str) -> EventResult:
    result = EventResult(ticket=trade.ticket, duplicate=True)
    pending = CopyDelivery.objects.filter(master_trade=trade, kind=kind, status=DeliveryStatus.PENDING)
    tickets = dict(CopiedTrade.objects.filter(master_trade=trade).values_list("follower_id", "follower_ticket"))
    result.deliveries = [Outgoing(d.follower_id, d.seq, _line(d, follower_ticket=tickets.get(d.follower_id),
                                                               master_ticket=trade.ticket)) for d in pending]
    return result


def _record_open(master: TradingAccount, event: MasterEvent) -> EventResult:
    now = timezone.now()
    trade, created = MasterTrade.objects.get_or_create(
        master=master, ticket=event.ticket,
        defaults={"symbol": event.symbol, "side": event.side, "lots": event.lots, "initial_lots": event.lots,
                  "open_price": event.price, "stop_loss": event.stop_loss, "take_profit": event.take_profit,
                  "opened_at": now, "tenant_id": master.tenant_id})
    if not created:
        return _pending_of(trade, DeliveryKind.OPEN)
    master_equity = _equity_of(master)
    recipients = _recipients_of_open(master)
    rows, skipped = [], 0
    plain = None  # the copy for followers with default options is the same for all of them
    for follower_id in recipients.ids:
        settings = recipients.settings.get(follower_id)
        if settings is None:
            if plain is None:
                plain = copy_options.follower_open(copy_options.DEFAULT_SETTINGS, symbol=event.symbol,
                                                   side=event.side, lots=event.lots, stop_loss=event.stop_loss,
                                                   take_profit=event.take_profit, follower_equity=None,
                                                   master_equity=master_equity)
            order = plain
        else:
            order = copy_options.follower_open(settings, symbol=event.symbol, side=event.side, lots=event.lots,
                                               stop_loss=event.stop_loss, take_profit=event.take_profit,
                                               follower_equity=recipients.equity.get(follower_id),
                                               master_equity=master_equity)
        if isinstance(order, copy_options.Skip):
            # Blocked symbols are not copied at all; anything else is kept as a skipped delivery, with why.
            if order.filtered:
                continue
            skipped += 1
            rows.append(DeliveryRow(master.tenant_id, follower_id, trade.pk, DeliveryKind.OPEN, event.symbol,
                                    event.side, Decimal(0), event.price, None, None, Decimal(1),
                                    DeliveryStatus.SKIPPED, order.reason[:200], now))
            continue
        rows.append(DeliveryRow(master.tenant_id, follower_id, trade.pk, DeliveryKind.OPEN, order.symbol, order.side,
                                order.lots, event.price, order.stop_loss, order.take_profit, Decimal(1),
                                DeliveryStatus.PENDING, "", now))
    insert_deliveries(rows)
    result = EventResult(ticket=trade.ticket, skipped=skipped)
    result.deliveries = [Outgoing(d.follower_id, d.seq, _line(d, follower_ticket=None, master_ticket=trade.ticket))
                         for d in rows if d.status == DeliveryStatus.PENDING]
    return result


def _copies_of(trade: MasterTrade) -> list[tuple[CopyDelivery, CopiedTrade | None]]:
    """Each follower the OPEN went to (not refused or skipped), with its paired trade when it has one."""
    opens = list(CopyDelivery.objects.filter(master_trade=trade, kind=DeliveryKind.OPEN,
                                             status__in=[DeliveryStatus.PENDING, DeliveryStatus.ACKED]))
    pairs = {pair.follower_id: pair for pair in CopiedTrade.objects.filter(master_trade=trade)}
    return [(open_, pairs.get(open_.follower_id)) for open_ in opens
            if pairs.get(open_.follower_id) is None or pairs[open_.follower_id].status == CopiedTradeStatus.OPEN]


def _follow_up(trade: MasterTrade, kind: str, *, make) -> EventResult:
    now = timezone.now()
    rows, tickets = [], {}
    for open_, pair in _copies_of(trade):
        values = make(open_, pair)
        if values is None:
            continue
        rows.append(DeliveryRow(trade.tenant_id, open_.follower_id, trade.pk, kind, open_.symbol, open_.side,
                                values["lots"], values["price"], values.get("stop_loss"), values.get("take_profit"),
                                values.get("ratio", Decimal(1)), DeliveryStatus.PENDING, "", now))
        tickets[open_.follower_id] = pair.follower_ticket if pair else None
    insert_deliveries(rows)
    result = EventResult(ticket=trade.ticket)
    result.deliveries = [Outgoing(d.follower_id, d.seq, _line(d, follower_ticket=tickets[d.follower_id],
                                                               master_ticket=trade.ticket)) for d in rows]
    return result


def _record_modify(trade: MasterTrade, event: MasterEvent) -> EventResult:
    if trade.status != MasterTradeStatus.OPEN:
        raise ProtocolError("NOT_FOUND", f"trade {event.ticket} is closed")
    if (trade.stop_loss, trade.take_profit) == (event.stop_loss, event.take_profit):
        return _pending_of(trade, DeliveryKind.MODIFY)
    trade.stop_loss, trade.take_profit = event.stop_loss, event.take_profit
    trade.save(update_fields=["stop_loss", "take_profit"])
    settings_by_follower = {s.account_id: s for s in CopySettings.objects.filter(
        account_id__in=CopyDelivery.objects.filter(master_trade=trade, kind=DeliveryKind.OPEN).values("follower_id"))}

    def make(open_, pair):
        options = settings_by_follower.get(open_.follower_id, copy_options.DEFAULT_SETTINGS)
        sl, tp = copy_options.map_stops(options, event.stop_loss, event.take_profit)
        return {"lots": pair.lots if pair else open_.lots, "price": event.price, "stop_loss": sl, "take_profit": tp}

    return _follow_up(trade, DeliveryKind.MODIFY, make=make)


def _closes_in_flight(trade: MasterTrade) -> dict[int, Decimal]:
    """Lots of each follower's earlier closes of `trade` that are sent but not yet answered: the follower's
    ticket shrinks by them when the EA applies them, so the next close must not count them again."""
    closing: dict[int, Decimal] = defaultdict(Decimal)
    sent = CopyDelivery.objects.filter(master_trade=trade, kind=DeliveryKind.CLOSE, status=DeliveryStatus.PENDING)
    for follower_id, lots in sent.values_list("follower_id", "lots"):
        closing[follower_id] += lots
    return closing


def _record_close(trade: MasterTrade, event: MasterEvent) -> EventResult:
    if trade.status == MasterTradeStatus.CLOSED or trade.last_close == event.close_fingerprint:
        return _pending_of(trade, DeliveryKind.CLOSE)
    full = event.ratio >= 1 or event.lots >= trade.lots
    now = timezone.now()
    trade.profit = F("profit") + event.profit
    trade.last_close = event.close_fingerprint
    if full:
        trade.status, trade.closed_at, trade.close_price, trade.lots = MasterTradeStatus.CLOSED, now, event.price, 0
    else:
        trade.lots = trade.lots - event.lots
    trade.save(update_fields=["profit", "last_close", "status", "closed_at", "close_price", "lots"])
    ratio = Decimal(1) if full else event.ratio
    settings_by_follower = {s.account_id: s for s in CopySettings.objects.filter(
        account_id__in=CopyDelivery.objects.filter(master_trade=trade, kind=DeliveryKind.OPEN).values("follower_id"))}
    # The followers' copies are locked before the closes in flight are read: an answer being stored changes a
    # close's status and its copy's lots in one transaction, and `held` below must see both from before it or
    # both from after it (seen half-way, an answered close counted twice left nothing to close). Locked in
    # follower order, as the answer writer locks them.
    list(CopiedTrade.objects.select_for_update().filter(master_trade=trade).order_by("follower_id")
         .values_list("pk", flat=True))
    closing = _closes_in_flight(trade)

    def make(open_, pair):
        held = max((pair.lots if pair else open_.lots) - closing.get(open_.follower_id, 0), Decimal(0))
        if full:
            lots = held
            if lots <= 0:
                return None
        else:
            options = settings_by_follower.get(open_.follower_id, copy_options.DEFAULT_SETTINGS)
            lots = copy_options.round_lots(options, held * ratio)
            if lots <= 0:
                return None
        return {"lots": lots, "price": event.price, "ratio": ratio}

    return _follow_up(trade, DeliveryKind.CLOSE, make=make)


# --- the follower's side --------------------------------------------------------------------------------------

@dataclass(slots=True)
class Answer:
    """One ACK or NACK received, queued for the batched writer."""

    follower_id: int
    tenant_id: uuid.UUID
    message: Ack | Nack


def store_answers(answers: list[Answer]) -> list[tuple[int, int]]:
    """Write a batch of ACK/NACKs: deliveries, paired trades, and a notification per copied trade.

    Only the follower's own pending deliveries change (another account's seq, or a repeated ACK, changes
    nothing). Returns (follower_id, seq) of answers naming no delivery of that follower, to report.
    """
    by_tenant: dict = defaultdict(list)
    for answer in answers:
        by_tenant[answer.tenant_id].append(answer)
    unknown: list[tuple[int, int]] = []
    for tenant_id, batch in by_tenant.items():
        with tenant_context(tenant_id), transaction.atomic():
            unknown.extend(_store_tenant_answers(batch))
    return unknown


def _store_tenant_answers(batch: list[Answer]) -> list[tuple[int, int]]:
    now = timezone.now()
    wanted = {(a.follower_id, a.message.seq): a for a in batch}
    rows = (CopyDelivery.objects.select_for_update(of=("self",)).select_related("master_trade")
            .filter(seq__in=[seq for _, seq in wanted]).order_by("seq"))
    found, changed = set(), []
    opens, closes, modifies = [], [], []
    for delivery in rows:
        answer = wanted.get((delivery.follower_id, delivery.seq))
        if answer is None:
            continue  # another account's seq: not this follower's to answer
        found.add((delivery.follower_id, delivery.seq))
        if delivery.status != DeliveryStatus.PENDING:
            continue
        message = answer.message
        delivery.acked_at = now
        if isinstance(message, Ack):
            delivery.status, delivery.follower_ticket = DeliveryStatus.ACKED, message.ticket or None
            {DeliveryKind.OPEN: opens, DeliveryKind.CLOSE: closes,
             DeliveryKind.MODIFY: modifies}[delivery.kind].append((delivery, message))
        else:
            delivery.status, delivery.reason = DeliveryStatus.NACKED, message.reason[:200]
            if delivery.kind == DeliveryKind.OPEN:
                opens.append((delivery, message))
        changed.append(delivery)
    fast_insert.update_answers(changed)
    _pair_opens(opens, now)
    # In (trade, follower) order: the copies of one trade are locked in the order a master's close locks them.
    for delivery, message in sorted(closes, key=lambda item: (item[0].master_trade_id, item[0].follower_id)):
        _pair_close(delivery, message, now)
    return [key for key in wanted if key not in found]


def _pair_opens(opens: list, now) -> None:
    if not opens:
        return
    pairs, notices = [], []
    owners = {pk: (user_id, name) for pk, user_id, name in TradingAccount.objects.filter(
        pk__in={d.follower_id for d, _ in opens}).values_list("pk", "user_id", "name")}
    for delivery, message in opens:
        acked = isinstance(message, Ack)
        pairs.append(CopiedTrade(
            follower_id=delivery.follower_id, master_trade_id=delivery.master_trade_id, tenant_id=delivery.tenant_id,
            follower_ticket=message.ticket if acked else None, symbol=delivery.symbol, side=delivery.side,
            lots=delivery.lots if acked else 0, opened_at=now,
            status=CopiedTradeStatus.OPEN if acked else CopiedTradeStatus.FAILED,
            reason="" if acked else message.reason[:200]))
        if acked:
            user_id, name = owners[delivery.follower_id]
            notices.append(Notification(
                user_id=user_id, account_id=delivery.follower_id, kind=NotificationKind.TRADE_COPIED,
                tenant_id=delivery.tenant_id, dedupe_key=f"copied:{delivery.seq}",
                text=(f"📋 {name} copied {delivery.side} {number(delivery.lots)} {delivery.symbol} "
                      f"(master ticket {delivery.master_trade.ticket}, your ticket {message.ticket})"),
                details={"seq": delivery.seq, "master_ticket": delivery.master_trade.ticket,
                         "follower_ticket": message.ticket, "symbol": delivery.symbol, "side": delivery.side,
                         "lots": number(delivery.lots)}))
    CopiedTrade.objects.bulk_create(pairs, update_conflicts=True, unique_fields=["follower", "master_trade"],
                                    update_fields=["follower_ticket", "status", "lots", "reason"])
    Notification.objects.bulk_create(notices, ignore_conflicts=True)


def _pair_close(delivery: CopyDelivery, message: Ack, now) -> None:
    pair = CopiedTrade.objects.select_for_update().filter(follower_id=delivery.follower_id,
                                                          master_trade_id=delivery.master_trade_id).first()
    if pair is None:
        return
    pair.profit += message.profit or 0
    pair.lots = max(pair.lots - delivery.lots, Decimal(0))
    if delivery.ratio >= 1 or pair.lots <= 0:
        pair.status, pair.closed_at, pair.lots = CopiedTradeStatus.CLOSED, now, Decimal(0)
    pair.save(update_fields=["profit", "lots", "status", "closed_at"])


# --- catch-up --------------------------------------------------------------------------------------------------

def pending_seqs(account_ids: list[int], *, older_than_seconds: float) -> dict[int, set[int]]:
    """The seqs pending for longer than a live send takes, per connected follower: one query for the whole
    process (across tenants, ids only). The server compares them with what each connection was sent."""
    if not account_ids:
        return {}
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    found: dict[int, set[int]] = defaultdict(set)
    with dangerously_bypass_tenant_scope():
        for follower_id, seq in CopyDelivery.objects.filter(
                follower_id__in=account_ids, status=DeliveryStatus.PENDING, created_at__lt=cutoff).values_list(
                "follower_id", "seq"):
            found[follower_id].add(seq)
    return found


def catch_up(identity: Identity, *, already_sent: frozenset | set = frozenset(),
             snapshot: bool = True) -> tuple[list[Outgoing], list[str]]:
    """What a (re)connecting follower is sent, in order: every pending delivery still worth applying, then
    a snapshot of its masters' open trades. `already_sent`: seqs this connection has had (not sent again).

    Deliveries no longer worth applying are marked skipped, with why: an OPEN of a trade already closed or
    older than the follower's maximum delay, a MODIFY/CLOSE of a trade it never opened."""
    now = timezone.now()
    with tenant_context(identity.tenant_id), transaction.atomic():
        options = CopySettings.objects.filter(account_id=identity.account_id).first() or copy_options.DEFAULT_SETTINGS
        pending = list(CopyDelivery.objects.select_related("master_trade")
                       .filter(follower_id=identity.account_id, status=DeliveryStatus.PENDING).order_by("seq"))
        pairs = {p.master_trade_id: p for p in CopiedTrade.objects.filter(follower_id=identity.account_id)}
        holding = {trade_id for trade_id, p in pairs.items() if p.status == CopiedTradeStatus.OPEN}
        out, skipped = [], []
        max_age = timedelta(seconds=options.max_delay_seconds) if options.max_delay_seconds else None
        for delivery in pending:
            trade = delivery.master_trade
            reason = ""
            if delivery.kind == DeliveryKind.OPEN:
                if trade.status == MasterTradeStatus.CLOSED:
                    reason = "the master closed the trade before it could be delivered"
                elif max_age is not None and now - trade.opened_at > max_age:
                    reason = f"older than the maximum signal delay ({options.max_delay_seconds} s)"
                else:
                    holding.add(trade.pk)
            elif trade.pk not in holding:
                reason = "the trade was never opened on this account"
            elif delivery.kind == DeliveryKind.MODIFY and trade.status == MasterTradeStatus.CLOSED:
                reason = "the trade is closed"
            if reason:
                delivery.status, delivery.reason, delivery.acked_at = DeliveryStatus.SKIPPED, reason, now
                skipped.append(delivery)
                continue
            if delivery.seq in already_sent:
                continue
            pair = pairs.get(trade.pk)
            out.append(Outgoing(identity.account_id, delivery.seq,
                                _line(delivery, follower_ticket=pair.follower_ticket if pair else None,
                                      master_ticket=trade.ticket)))
        for delivery in skipped:  # rare; conditional, so an ACK written meanwhile is never overwritten
            CopyDelivery.objects.filter(seq=delivery.seq, status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.SKIPPED, reason=delivery.reason, acked_at=now)
        skipped_opens = [d for d in skipped if d.kind == DeliveryKind.OPEN]
        CopiedTrade.objects.bulk_create(
            [CopiedTrade(follower_id=identity.account_id, master_trade_id=d.master_trade_id, symbol=d.symbol,
                         side=d.side, lots=0, status=CopiedTradeStatus.SKIPPED, reason=d.reason,
                         tenant_id=identity.tenant_id) for d in skipped_opens], ignore_conflicts=True)
        return out, (_snapshot(identity, options, pairs) if snapshot else [])


def _snapshot(identity: Identity, options: CopySettings, pairs: dict) -> list[str]:
    account = TradingAccount.objects.get(pk=identity.account_id)
    masters = TradingAccount.objects.filter(Q(pk=account.following_id) | Q(partner_id=account.pk),
                                            role=AccountRole.MASTER)
    trades = MasterTrade.objects.filter(master__in=masters, status=MasterTradeStatus.OPEN).order_by("opened_at", "id")
    lines = []
    for trade in trades:
        pair = pairs.get(trade.pk)
        if pair is not None:
            symbol, side, lots, ticket = pair.symbol, pair.side, pair.lots, pair.follower_ticket
            if pair.status != CopiedTradeStatus.OPEN:
                continue
        else:
            symbol = copy_options.map_symbol(options, trade.symbol)
            side, lots, ticket = copy_options.map_side(options, trade.side), Decimal(0), None
        sl, tp = copy_options.map_stops(options, trade.stop_loss, trade.take_profit)
        lines.append(f"SNAPSHOT:TRADE:{trade.ticket}:{ticket or 0}:{symbol}:{side}:{number(lots)}:"
                     f"{number(trade.open_price)}:{number(sl)}:{number(tp)}")
    return [f"SNAPSHOT:BEGIN:{len(lines)}", *lines, "SNAPSHOT:END"]
