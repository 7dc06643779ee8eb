"""The paper exchange: USDⓈ-M-style perpetual futures simulated from a deterministic price series.

An `Exchange` row of kind `paper` makes `gateway_for(account)` hand the gateway a `PaperExchange` instead of a
ccxt client. It answers the ccxt methods the gateway calls (markets with precision and minimums, balance,
ticker, leverage and margin mode, market orders, reduce-only stop-loss / take-profit orders, order look-up by
id or client order id, open orders, positions, trades, cancel) with ccxt's unified shapes and raises ccxt's
exceptions, so signals → orders → positions → reconciliation run unchanged, with no network and no keys.

Prices: `PriceSeries` gives every market a price at every *step* (TRADING_PAPER_STEP_SECONDS long, counted from
the Unix epoch) from TRADING_PAPER_SEED alone: a few seeded sine waves of different periods plus seeded noise,
around the market's base price. Every account, process and run sees the same price at the same step, so fills
are reproducible. It is a demo series, not a market model (it stays within about ±5 % of the base price).

The book of an account (balance, positions, orders, trades) is one JSON document, `PaperExchangeState`, locked
(`SELECT … FOR UPDATE`) and rewritten by every call, so workers may share an account. Before it answers, a call
*catches the book up*: it walks every step since the book's last one and fires the stops, take-profits and
liquidations each move crosses (the level the price reaches first acts first), filling them at their level
(no slippage). Market orders fill at once at the current step's price; the taker fee is 0.04 %; margin is
isolated (or cross) per symbol and a new position needs its initial margin free. The beat task
`trading.paper_tick` (every TRADING_PAPER_TICK_SECONDS) catches up every paper book, so stops fire when the
price gets there, not only when someone next calls; `advance_book` moves one book ahead by hand (the demo,
tests). A book keeps its last KEEP_ORDERS orders and KEEP_TRADES trades.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import ccxt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from trading.models import PaperExchangeState, TradingAccount

TAKER_FEE = Decimal("0.0004")
MAINTENANCE_MARGIN_RATE = Decimal("0.004")
QUOTE = "USDT"
KEEP_ORDERS = 500
KEEP_TRADES = 1000
MAX_CATCH_UP_STEPS = 20_000  # a book idle for longer jumps ahead and replays only the last this many steps


@dataclass(frozen=True)
class PaperMarket:
    id: str
    base: str
    price: Decimal  # the series' centre
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    max_leverage: int

    @property
    def symbol(self) -> str:
        return f"{self.base}/{QUOTE}:{QUOTE}"


PAPER_MARKETS: dict[str, PaperMarket] = {m.id: m for m in (
    PaperMarket("BTCUSDT", "BTC", Decimal("60000"), Decimal("0.1"), Decimal("0.001"), Decimal("0.001"),
                Decimal("100"), 125),
    PaperMarket("ETHUSDT", "ETH", Decimal("3000"), Decimal("0.01"), Decimal("0.001"), Decimal("0.001"),
                Decimal("20"), 100),
    PaperMarket("SOLUSDT", "SOL", Decimal("150"), Decimal("0.01"), Decimal("0.01"), Decimal("0.01"),
                Decimal("5"), 50),
    PaperMarket("DOGEUSDT", "DOGE", Decimal("0.15"), Decimal("0.00001"), Decimal("1"), Decimal("1"),
                Decimal("5"), 50),
)}
BY_SYMBOL = {m.symbol: m for m in PAPER_MARKETS.values()}


class PriceSeries:
    """price(market, step) = base × exp(Σ aᵢ·sin(2π·step/Pᵢ + φᵢ) + noise(step)), rounded to the tick.

    The phases φᵢ and the noise come from SHA-256 of the seed, the market and the step, so the series needs no
    state and any step is computed directly.
    """

    WAVES = ((0.004, 60), (0.012, 720), (0.03, 8640))  # (amplitude, period in steps)
    NOISE = 0.0015

    def __init__(self, seed: str):
        self.seed = seed

    def _unit(self, *parts) -> float:
        digest = hashlib.sha256("|".join([self.seed, *map(str, parts)]).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    @lru_cache(maxsize=64)  # noqa: B019 - a handful of series live for the process
    def _phases(self, market_id: str) -> tuple[float, ...]:
        return tuple(2 * math.pi * self._unit("phase", market_id, i) for i in range(len(self.WAVES)))

    def price(self, market_id: str, step: int) -> Decimal:
        market = PAPER_MARKETS[market_id]
        phases = self._phases(market_id)
        x = sum(a * math.sin(2 * math.pi * step / period + phase)
                for (a, period), phase in zip(self.WAVES, phases, strict=True))
        x += self.NOISE * (2 * self._unit("noise", market_id, step) - 1)
        raw = market.price * Decimal(repr(math.exp(x)))
        return (raw / market.tick).to_integral_value(rounding=ROUND_HALF_UP) * market.tick

    def first_step_reaching(self, market_id: str, start: int, level: Decimal, *, rising: bool,
                            limit: int = 5000) -> int | None:
        """The first step after `start` whose price is at or beyond `level` (for demos and tests)."""
        for step in range(start + 1, start + 1 + limit):
            price = self.price(market_id, step)
            if (price >= level) if rising else (price <= level):
                return step
        return None


def series() -> PriceSeries:
    return PriceSeries(settings.TRADING_PAPER_SEED)


def step_at(moment: datetime | None = None) -> int:
    moment = moment or timezone.now()
    return int(moment.timestamp() // settings.TRADING_PAPER_STEP_SECONDS)


def _step_ms(step: int) -> int:
    return int(step * settings.TRADING_PAPER_STEP_SECONDS * 1000)


def _s(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _d(value) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


class Book:
    """One account's book on the paper exchange, as the JSON document `PaperExchangeState.state` holds it.

    Amounts are Decimal strings; `positions[market_id]` holds the signed amount (long > 0), entry, leverage and
    margin type of the one-way position; `orders` are plain (market) orders, `algos` conditional ones.
    """

    def __init__(self, state: dict, *, series: PriceSeries):
        self.s = state
        self.series = series
        self.fired = 0
        state.setdefault("balance", _s(Decimal(str(settings.TRADING_PAPER_BALANCE))))
        state.setdefault("seq", 1)
        state.setdefault("positions", {})
        state.setdefault("orders", {})
        state.setdefault("algos", {})
        state.setdefault("trades", [])

    # --- clock and prices ---------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self.s["step"]

    def price(self, market_id: str) -> Decimal:
        return self.series.price(market_id, self.step)

    def now_ms(self) -> int:
        return max(int(timezone.now().timestamp() * 1000), _step_ms(self.step))

    def next_id(self) -> str:
        self.s["seq"] += 1
        return str(self.s["seq"])

    def catch_up(self, to_step: int) -> None:
        """Walk every step up to `to_step`, firing what each price move crosses."""
        if "step" not in self.s:
            self.s["step"] = to_step
            return
        if to_step <= self.step:
            return
        active = {a["symbol"] for a in self.s["algos"].values() if a["status"] == "open"}
        active |= {sym for sym, p in self.s["positions"].items() if _d(p["amount"])}
        if not active:
            self.s["step"] = to_step
            return
        start = max(self.step, to_step - MAX_CATCH_UP_STEPS)
        for step in range(start + 1, to_step + 1):
            for market_id in sorted(active):
                self._move(market_id, self.series.price(market_id, step - 1), self.series.price(market_id, step),
                           step)
            self.s["step"] = step

    def _move(self, market_id: str, old: Decimal, new: Decimal, step: int) -> None:
        """The price went from `old` to `new` at `step`: fire stops, take-profits and liquidation it crossed,
        nearest to `old` first."""
        low, high = min(old, new), max(old, new)
        while True:
            events = []
            liquidation = self._liquidation_price(market_id)
            if liquidation and low <= liquidation <= high:
                events.append((abs(liquidation - old), 0, "liquidation", liquidation))
            for algo in self.s["algos"].values():
                if algo["symbol"] == market_id and algo["status"] == "open":
                    trigger = _d(algo["trigger"])
                    if low <= trigger <= high:
                        events.append((abs(trigger - old), 1, algo["id"], trigger))
            if not events:
                return
            _, _, what, level = min(events)
            when = _step_ms(step)
            if what == "liquidation":
                self._liquidate(market_id, level, when)
            else:
                self._trigger(self.s["algos"][what], level, when)
            self.fired += 1

    # --- margin -------------------------------------------------------------------------------------
    def position(self, market_id: str) -> dict:
        return self.s["positions"].setdefault(market_id, {"amount": "0", "entry": "0", "leverage": 20,
                                                          "margin_type": "cross", "updated": 0})

    def _liquidation_price(self, market_id: str) -> Decimal:
        position = self.s["positions"].get(market_id)
        if not position or not _d(position["amount"]) or position["margin_type"] != "isolated":
            return Decimal(0)
        distance = Decimal(1) / position["leverage"] - MAINTENANCE_MARGIN_RATE
        factor = (1 - distance) if _d(position["amount"]) > 0 else (1 + distance)
        return (_d(position["entry"]) * factor).quantize(PAPER_MARKETS[market_id].tick)

    def unrealized(self, market_id: str) -> Decimal:
        position = self.s["positions"].get(market_id) or {}
        amount = _d(position.get("amount"))
        return (self.price(market_id) - _d(position["entry"])) * amount if amount else Decimal(0)

    def margin(self, market_id: str) -> Decimal:
        position = self.s["positions"].get(market_id) or {}
        amount = _d(position.get("amount"))
        return abs(amount) * _d(position["entry"]) / position["leverage"] if amount else Decimal(0)

    def totals(self) -> tuple[Decimal, Decimal, Decimal]:
        """(wallet balance, unrealized PnL, margin in use)."""
        markets = list(self.s["positions"])
        return (_d(self.s["balance"]), sum((self.unrealized(m) for m in markets), Decimal(0)),
                sum((self.margin(m) for m in markets), Decimal(0)))

    # --- fills --------------------------------------------------------------------------------------
    def new_order(self, *, market_id: str, side: str, amount: Decimal, client_id: str,
                  reduce_only: bool) -> dict:
        market = PAPER_MARKETS[market_id]
        if amount < market.min_qty or amount % market.step:
            raise ccxt.InvalidOrder(f"paper: amount {amount} is not a multiple of {market.step} (minimum "
                                    f"{market.min_qty}).")
        if any(o["client_id"] == client_id for o in self.s["orders"].values()):
            raise ccxt.InvalidOrder("paper: ClientOrderId is duplicated.")
        position = self.position(market_id)
        held = _d(position["amount"])
        signed = amount if side == "buy" else -amount
        if reduce_only and (not held or (held > 0) == (signed > 0) or amount > abs(held)):
            raise ccxt.InvalidOrder("paper: ReduceOnly Order is rejected (nothing to reduce).")
        price = self.price(market_id)
        opening = not held or (held > 0) == (signed > 0)
        if not reduce_only and opening:
            if amount * price < market.min_notional:
                raise ccxt.InvalidOrder(f"paper: order value must be at least {market.min_notional} {QUOTE}.")
            balance, unrealized, used = self.totals()
            needed = amount * price / position["leverage"]
            if needed > balance + unrealized - used:
                raise ccxt.InsufficientFunds(f"paper: margin is insufficient ({needed:.2f} {QUOTE} needed, "
                                             f"{balance + unrealized - used:.2f} free).")
        now = self.now_ms()
        order = {"id": self.next_id(), "client_id": client_id, "symbol": market_id, "side": side, "type": "market",
                 "amount": _s(amount), "filled": "0", "average": None, "fee": "0", "status": "open",
                 "reduce_only": reduce_only, "stop_price": None, "time": now,
                 "updated": now}
        self.s["orders"][order["id"]] = order
        self._fill(order, price, now)
        return order

    def _fill(self, order: dict, price: Decimal, when: int) -> None:
        """Fill all of `order` at `price`: one trade; position, wallet and realized PnL updated."""
        market_id = order["symbol"]
        quantity = _d(order["amount"])
        signed = quantity if order["side"] == "buy" else -quantity
        position = self.position(market_id)
        held, entry = _d(position["amount"]), _d(position["entry"])
        realized = Decimal(0)
        if held and (held > 0) != (signed > 0):
            closing = min(abs(signed), abs(held))
            realized = (price - entry) * closing * (1 if held > 0 else -1)
            remaining = held + signed
            if remaining and (remaining > 0) != (held > 0):
                entry = price  # flipped: the rest opens at this price
            elif not remaining:
                entry = Decimal(0)
        else:
            remaining = held + signed
            entry = ((entry * abs(held) + price * quantity) / abs(remaining)).quantize(Decimal("0.00000001"))
        position.update(amount=_s(remaining), entry=_s(entry), updated=when)
        fee = (price * quantity * TAKER_FEE).quantize(Decimal("0.00000001"))
        self.s["balance"] = _s(_d(self.s["balance"]) + realized - fee)
        order.update(status="closed", filled=_s(quantity), average=_s(price), fee=_s(fee), updated=when)
        self.s["trades"].append({"id": self.next_id(), "order": order["id"], "symbol": market_id,
                                 "side": order["side"], "price": _s(price), "amount": _s(quantity), "fee": _s(fee),
                                 "realized_pnl": _s(realized), "time": when})
        self._prune()

    def new_algo(self, *, market_id: str, side: str, amount: Decimal, client_id: str, kind: str,
                 trigger: Decimal, reduce_only: bool) -> dict:
        market = PAPER_MARKETS[market_id]
        if trigger <= 0 or trigger % market.tick:
            raise ccxt.InvalidOrder(f"paper: trigger price {trigger} is not a multiple of {market.tick}.")
        if any(a["client_id"] == client_id for a in self.s["algos"].values()):
            raise ccxt.InvalidOrder("paper: ClientOrderId is duplicated.")
        price = self.price(market_id)
        falling = (kind == "stop_market") == (side == "sell")
        if (price <= trigger) if falling else (price >= trigger):
            raise ccxt.OrderImmediatelyFillable(f"paper: order would immediately trigger (price {price}).")
        now = self.now_ms()
        algo = {"id": self.next_id(), "client_id": client_id, "symbol": market_id, "side": side, "type": kind,
                "amount": _s(amount), "trigger": _s(trigger), "status": "open", "reduce_only": reduce_only,
                "time": now, "updated": now, "actual_order_id": None}
        self.s["algos"][algo["id"]] = algo
        return algo

    def _trigger(self, algo: dict, level: Decimal, when: int) -> None:
        held = _d(self.position(algo["symbol"])["amount"])
        closes = held and (held > 0) == (algo["side"] == "sell")
        quantity = min(_d(algo["amount"]), abs(held))
        if algo["reduce_only"] and (not closes or not quantity):
            algo.update(status="expired", updated=when)
            return
        order = {"id": self.next_id(), "client_id": algo["client_id"], "symbol": algo["symbol"],
                 "side": algo["side"], "type": "market", "amount": _s(quantity), "filled": "0", "average": None,
                 "fee": "0", "status": "open", "reduce_only": algo["reduce_only"], "stop_price": algo["trigger"],
                 "orig_type": algo["type"].upper(), "time": when, "updated": when}
        self.s["orders"][order["id"]] = order
        self._fill(order, level, when)
        algo.update(status="closed", updated=when, actual_order_id=order["id"])

    def _liquidate(self, market_id: str, level: Decimal, when: int) -> None:
        held = _d(self.position(market_id)["amount"])
        order = {"id": self.next_id(), "client_id": f"autoclose-{when}", "symbol": market_id,
                 "side": "sell" if held > 0 else "buy", "type": "limit", "amount": _s(abs(held)), "filled": "0",
                 "average": None, "fee": "0", "status": "open", "reduce_only": True, "stop_price": None,
                 "orig_type": "LIQUIDATION", "time": when, "updated": when}
        self.s["orders"][order["id"]] = order
        self._fill(order, level, when)
        for algo in self.s["algos"].values():  # the exchange drops the position's conditional orders
            if algo["symbol"] == market_id and algo["status"] == "open" and algo["reduce_only"]:
                algo.update(status="expired", updated=when)

    def _prune(self) -> None:
        for key, keep in (("orders", KEEP_ORDERS), ("algos", KEEP_ORDERS)):
            rows = self.s[key]
            done = [k for k, v in rows.items() if v["status"] != "open"]
            for k in done[: max(0, len(rows) - keep)]:
                del rows[k]
        if len(self.s["trades"]) > KEEP_TRADES:
            del self.s["trades"][: len(self.s["trades"]) - KEEP_TRADES]


@contextmanager
def open_book(account_id: int, *, to_step: int | None = None, tenant_id=None) -> Iterator[Book]:
    """The account's book, locked, caught up to `to_step` (default: now), saved when the block ends.

    A block that raises (a refused order) rolls everything back, the catch-up included: the series is
    deterministic, so the next call replays the same steps to the same result.
    """
    with transaction.atomic():
        row = PaperExchangeState.objects.select_for_update().filter(account_id=account_id).first()
        if row is None:
            if tenant_id is None:
                tenant_id = TradingAccount.objects.values_list("tenant_id", flat=True).get(pk=account_id)
            try:
                with transaction.atomic():
                    row = PaperExchangeState.objects.create(account_id=account_id, state={}, tenant_id=tenant_id)
            except IntegrityError:
                row = PaperExchangeState.objects.select_for_update().get(account_id=account_id)
        book = Book(row.state, series=series())
        book.catch_up(max(to_step or 0, step_at()))
        yield book
        row.state = book.s
        row.save(update_fields=["state", "updated_at"])


def advance_book(account: TradingAccount, *, steps: int) -> int:
    """Move the account's book `steps` steps past where it is (ahead of the clock, if need be), firing what
    the moves cross; returns how many stops, take-profits and liquidations fired. The book then waits for the
    clock to catch up."""
    with open_book(account.pk, tenant_id=account.tenant_id) as book:
        before = book.fired
        book.catch_up(book.step + steps)
        return book.fired - before


def catch_up_book(account: TradingAccount, *, now: datetime | None = None) -> int:
    """Bring the book to the step of `now` (default: the clock's); returns how many stops, take-profits and
    liquidations fired."""
    with open_book(account.pk, tenant_id=account.tenant_id, to_step=step_at(now)) as book:
        return book.fired


class PaperExchange:
    """The ccxt methods `trading.exchanges.client.Gateway` calls, answered from the account's paper book."""

    id = "paper"
    rateLimit = 0  # noqa: N815 - ccxt's attribute name
    has = {"fetchLeverageTiers": False, "createStopLossOrder": True, "createTakeProfitOrder": True}

    def __init__(self, account: TradingAccount):
        self.account_id = account.pk
        self.tenant_id = account.tenant_id
        self.markets: dict = {}
        self.markets_by_id: dict = {}

    # --- markets ------------------------------------------------------------------------------------
    def load_markets(self, reload: bool = False, params=None) -> dict:
        if not self.markets or reload:
            self.set_markets({m.symbol: _unified_market(m) for m in PAPER_MARKETS.values()})
        return self.markets

    def set_markets(self, markets: dict, currencies=None) -> dict:
        self.markets = markets
        self.markets_by_id = {m["id"]: [m] for m in markets.values()}
        return markets

    def market(self, symbol: str) -> dict:
        self.load_markets()
        found = self.markets.get(symbol) or (self.markets_by_id.get(symbol) or [None])[0]
        if found is None:
            raise ccxt.BadSymbol(f"paper does not have market symbol {symbol}")
        return found

    def _market_id(self, symbol: str | None) -> str:
        return self.market(symbol)["id"]

    def _book(self):
        return open_book(self.account_id, tenant_id=self.tenant_id)

    # --- reads --------------------------------------------------------------------------------------
    def fetch_balance(self, params=None) -> dict:
        with self._book() as book:
            balance, unrealized, used = book.totals()
        equity = balance + unrealized
        free = equity - used
        return {"info": {"totalWalletBalance": _s(balance), "totalUnrealizedProfit": _s(unrealized),
                         "totalMarginBalance": _s(equity), "availableBalance": _s(free)},
                QUOTE: {"free": _s(free), "used": _s(used), "total": _s(equity)},
                "free": {QUOTE: _s(free)}, "used": {QUOTE: _s(used)}, "total": {QUOTE: _s(equity)}}

    def fetch_ticker(self, symbol: str, params=None) -> dict:
        market_id = self._market_id(symbol)
        with self._book() as book:
            price, now = book.price(market_id), book.now_ms()
        return {"symbol": self.market(symbol)["symbol"], "last": _s(price), "close": _s(price), "bid": _s(price),
                "ask": _s(price), "timestamp": now, "datetime": _iso(now), "info": {"step": book.step}}

    def fetch_order(self, id: str | None, symbol: str | None = None, params=None) -> dict:  # noqa: A002
        params = params or {}
        client_id = params.get("clientOrderId")
        with self._book() as book:
            rows = book.s["algos"] if params.get("trigger") else book.s["orders"]
            found = rows.get(str(id)) if id else next(
                (o for o in reversed(rows.values()) if client_id and o["client_id"] == client_id), None)
            if found is None or (symbol and found["symbol"] != self._market_id(symbol)):
                raise ccxt.OrderNotFound(f"paper: order {id or client_id} does not exist.")
            return self._unified_order(found, conditional=bool(params.get("trigger")))

    def fetch_open_orders(self, symbol=None, since=None, limit=None, params=None) -> list[dict]:
        params = params or {}
        conditional = bool(params.get("trigger"))
        wanted = self._market_id(symbol) if symbol else None
        with self._book() as book:
            rows = book.s["algos"] if conditional else book.s["orders"]
            return [self._unified_order(o, conditional=conditional) for o in rows.values()
                    if o["status"] == "open" and (wanted is None or o["symbol"] == wanted)]

    def fetch_positions(self, symbols=None, params=None) -> list[dict]:
        with self._book() as book:
            rows = []
            for market_id, p in book.s["positions"].items():
                amount = _d(p["amount"])
                if not amount:
                    continue
                market = PAPER_MARKETS[market_id]
                liquidation = book._liquidation_price(market_id)
                rows.append({
                    "symbol": market.symbol, "side": "long" if amount > 0 else "short", "contracts": _s(abs(amount)),
                    "contractSize": "1", "entryPrice": p["entry"], "markPrice": _s(book.price(market_id)),
                    "notional": _s(abs(amount) * book.price(market_id)),
                    "unrealizedPnl": _s(book.unrealized(market_id)), "leverage": p["leverage"],
                    "marginMode": p["margin_type"], "initialMargin": _s(book.margin(market_id)),
                    "liquidationPrice": _s(liquidation) if liquidation else None, "timestamp": p["updated"],
                    "info": {"symbol": market_id, "positionAmt": p["amount"]}})
            return rows

    def fetch_my_trades(self, symbol=None, since=None, limit=None, params=None) -> list[dict]:
        wanted = self._market_id(symbol) if symbol else None
        with self._book() as book:
            trades = [t for t in book.s["trades"] if (wanted is None or t["symbol"] == wanted)
                      and (since is None or t["time"] >= since)]
        trades = trades[:limit] if limit else trades
        return [{"id": t["id"], "order": t["order"], "symbol": PAPER_MARKETS[t["symbol"]].symbol, "side": t["side"],
                 "price": t["price"], "amount": t["amount"], "cost": _s(_d(t["price"]) * _d(t["amount"])),
                 "fee": {"cost": t["fee"], "currency": QUOTE}, "timestamp": t["time"], "datetime": _iso(t["time"]),
                 "takerOrMaker": "taker", "info": {"realizedPnl": t["realized_pnl"], "orderId": t["order"]}}
                for t in trades]

    # --- writes -------------------------------------------------------------------------------------
    def set_margin_mode(self, margin_mode: str, symbol: str, params=None) -> dict:
        market_id = self._market_id(symbol)
        wanted = {"isolated": "isolated", "cross": "cross", "crossed": "cross"}.get((margin_mode or "").lower())
        if wanted is None:
            raise ccxt.BadRequest(f"paper: margin mode {margin_mode!r} is isolated or cross.")
        with self._book() as book:
            position = book.position(market_id)
            if position["margin_type"] == wanted:
                raise ccxt.MarginModeAlreadySet("paper: no need to change margin type.")
            if _d(position["amount"]):
                raise ccxt.OperationRejected("paper: margin type cannot be changed while a position is open.")
            position["margin_type"] = wanted
        return {"info": {"code": 200, "msg": "success"}}

    def set_leverage(self, leverage: int, symbol: str, params=None) -> dict:
        market_id = self._market_id(symbol)
        if not 1 <= int(leverage) <= PAPER_MARKETS[market_id].max_leverage:
            raise ccxt.BadRequest(f"paper: leverage {leverage} is not valid for {symbol}.")
        with self._book() as book:
            book.position(market_id)["leverage"] = int(leverage)
        return {"info": {"leverage": int(leverage), "symbol": market_id}}

    def create_order(self, symbol: str, type: str, side: str, amount, price=None, params=None) -> dict:  # noqa: A002
        params = dict(params or {})
        market_id = self._market_id(symbol)
        if type != "market":
            raise ccxt.InvalidOrder("paper: only market orders (with stop-loss / take-profit triggers).")
        if side not in ("buy", "sell"):
            raise ccxt.InvalidOrder(f"paper: side {side!r} is buy or sell.")
        client_id = params.get("clientOrderId") or ""
        reduce_only = bool(params.get("reduceOnly"))
        amount = _d(amount)
        with self._book() as book:
            client_id = client_id or f"paper-{book.next_id()}"
            for key, kind in (("stopLossPrice", "stop_market"), ("takeProfitPrice", "take_profit_market")):
                if params.get(key) is not None:
                    algo = book.new_algo(market_id=market_id, side=side, amount=amount, client_id=client_id,
                                         kind=kind, trigger=_d(params[key]), reduce_only=reduce_only)
                    return self._unified_order(algo, conditional=True)
            order = book.new_order(market_id=market_id, side=side, amount=amount, client_id=client_id,
                                   reduce_only=reduce_only)
            return self._unified_order(order, conditional=False)

    def cancel_order(self, id: str, symbol: str | None = None, params=None) -> dict:  # noqa: A002
        params = params or {}
        conditional = bool(params.get("trigger"))
        with self._book() as book:
            rows = book.s["algos"] if conditional else book.s["orders"]
            order = rows.get(str(id))
            if order is None:
                raise ccxt.OrderNotFound(f"paper: order {id} does not exist.")
            if order["status"] != "open":
                raise ccxt.InvalidOrder(f"paper: order {id} is {order['status']}, not open.")
            order.update(status="canceled", updated=book.now_ms())
            return self._unified_order(order, conditional=conditional)

    # --- shapes -------------------------------------------------------------------------------------
    @staticmethod
    def _unified_order(row: dict, *, conditional: bool) -> dict:
        market = PAPER_MARKETS[row["symbol"]]
        amount = _d(row["amount"])
        filled = _d(row.get("filled"))
        raw_status = {"open": "NEW", "closed": "FILLED" if not conditional else "FINISHED", "canceled": "CANCELED",
                      "expired": "EXPIRED"}[row["status"]]
        info = {"orderId" if not conditional else "algoId": row["id"], "status": raw_status,
                "clientOrderId": row["client_id"], "origType": row.get("orig_type") or row["type"].upper()}
        if conditional:
            info.update(algoStatus=raw_status, clientAlgoId=row["client_id"], actualOrderId=row["actual_order_id"])
        trigger = row.get("trigger") or row.get("stop_price")
        return {"id": row["id"], "clientOrderId": row["client_id"], "symbol": market.symbol, "side": row["side"],
                "type": row["type"], "amount": _s(amount), "filled": _s(filled), "remaining": _s(amount - filled),
                "average": row.get("average"), "price": row.get("average"), "triggerPrice": trigger,
                "stopPrice": trigger, "reduceOnly": row["reduce_only"], "status": row["status"],
                "timestamp": row["time"], "datetime": _iso(row["time"]), "lastUpdateTimestamp": row["updated"],
                "fee": {"cost": row.get("fee") or "0", "currency": QUOTE}, "trades": [], "info": info}


def _unified_market(market: PaperMarket) -> dict:
    return {"id": market.id, "symbol": market.symbol, "base": market.base, "quote": QUOTE, "settle": QUOTE,
            "type": "swap", "swap": True, "future": False, "spot": False, "contract": True, "linear": True,
            "inverse": False, "contractSize": 1, "active": True,
            "precision": {"amount": _s(market.step), "price": _s(market.tick)},
            "limits": {"amount": {"min": _s(market.min_qty), "max": None}, "cost": {"min": _s(market.min_notional)},
                       "leverage": {"min": 1, "max": market.max_leverage}, "price": {"min": None, "max": None}},
            "info": {"symbol": market.id}}
