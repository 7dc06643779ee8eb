"""A local fake of Binance USDⓈ-M futures REST (fapi), for tests and the benchmark.

It speaks the wire format the real `ccxt.binanceusdm` client sends and parses: signed requests
(`X-MBX-APIKEY` header, `timestamp`, HMAC-SHA256 `signature` over the query string or form body,
checked like Binance does), Binance's JSON error bodies (`{"code": -2013, "msg": "Order does not
exist."}` with HTTP 400), one-way positions (`positionSide` BOTH), market orders filled at the
current price, conditional orders through the algo-order endpoints ccxt uses for stop-loss and
take-profit orders (`/fapi/v1/algoOrder`), isolated margin and liquidation.

Test controls are plain methods of `FakeBinance` (the test owns the object): `set_price` (fires the
conditional orders and liquidations the move crosses), `close_position_manually`, `place_external_order`
(an orphan order someone placed by hand), `lose_answers` (the order is made but the answer never
arrives), `latency` (seconds added to every answer).

    with FakeBinance() as fake:
        fake.add_account("key", "secret", balance=Decimal("10000"))
        fake.base_url   # http://127.0.0.1:<port>, the Exchange.api_base_url
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

TAKER_FEE = Decimal("0.0004")
MAINTENANCE_MARGIN_RATE = Decimal("0.004")


@dataclass
class FakeMarket:
    symbol: str  # exchange id, e.g. BTCUSDT
    base: str
    price: Decimal
    tick_size: Decimal = Decimal("0.10")
    step_size: Decimal = Decimal("0.001")
    min_qty: Decimal = Decimal("0.001")
    min_notional: Decimal = Decimal("100")
    max_leverage: int = 125


DEFAULT_MARKETS = (
    FakeMarket("BTCUSDT", "BTC", Decimal("60000")),
    FakeMarket("ETHUSDT", "ETH", Decimal("3000"), tick_size=Decimal("0.01"), min_notional=Decimal("20"),
               max_leverage=100),
    FakeMarket("DOGEUSDT", "DOGE", Decimal("0.15"), tick_size=Decimal("0.00001"), step_size=Decimal("1"),
               min_qty=Decimal("1"), min_notional=Decimal("5"), max_leverage=50),
)


@dataclass
class FakePosition:
    amount: Decimal = Decimal("0")  # signed: > 0 long, < 0 short
    entry_price: Decimal = Decimal("0")
    leverage: int = 20
    margin_type: str = "cross"
    update_time: int = 0


@dataclass
class FakeAccount:
    api_key: str
    secret: str
    balance: Decimal
    positions: dict[str, FakePosition] = field(default_factory=dict)
    orders: dict[int, dict] = field(default_factory=dict)  # orderId -> order
    algo_orders: dict[int, dict] = field(default_factory=dict)  # algoId -> algo order
    trades: list[dict] = field(default_factory=list)

    def position(self, symbol: str) -> FakePosition:
        return self.positions.setdefault(symbol, FakePosition())


class BinanceError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400):
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def _ms() -> int:
    return int(time.time() * 1000)


def _s(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


class FakeBinance:
    """The exchange's state and rules; `start()` serves it over HTTP on 127.0.0.1 (a free port)."""

    def __init__(self, markets=DEFAULT_MARKETS, *, latency: float = 0.0, check_signatures: bool = True):
        self.markets = {market.symbol: dataclasses.replace(market) for market in markets}  # copies: tests move prices
        self.accounts: dict[str, FakeAccount] = {}
        self.latency = latency
        self.check_signatures = check_signatures
        self.lock = threading.RLock()
        self._ids = itertools.count(8_000_000_001)
        self._lose: dict[str, int] = {}
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, params) of every request
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- test controls -------------------------------------------------------------------------
    def add_account(self, api_key: str, secret: str, *, balance: Decimal = Decimal("10000")) -> FakeAccount:
        with self.lock:
            account = FakeAccount(api_key=api_key, secret=secret, balance=Decimal(balance))
            self.accounts[api_key] = account
            return account

    def lose_answers(self, path: str, count: int = 1) -> None:
        """The next `count` requests to `path` (e.g. "/fapi/v1/order") are carried out, but the client
        never gets the answer: the connection is closed without a response."""
        with self.lock:
            self._lose[path] = self._lose.get(path, 0) + count

    def set_price(self, symbol: str, price) -> None:
        """Move the mark price; conditional orders and liquidations it crosses fire, as on the exchange."""
        with self.lock:
            market = self.markets[symbol]
            old, new = market.price, Decimal(price)
            for account in self.accounts.values():
                # Whichever level the move reaches first acts first: a liquidation above a long's stop
                # liquidates it before the stop can fire.
                liquidation = self._liquidation_price(account.position(symbol))
                crossed_liquidation = bool(liquidation) and min(old, new) <= liquidation <= max(old, new)
                triggers = [Decimal(a["triggerPrice"]) for a in account.algo_orders.values()
                            if a["symbol"] == symbol and a["algoStatus"] == "NEW"
                            and min(old, new) <= Decimal(a["triggerPrice"]) <= max(old, new)]
                first_trigger = min(triggers, key=lambda level: abs(level - old)) if triggers else None
                if crossed_liquidation and (first_trigger is None or abs(liquidation - old) < abs(first_trigger - old)):
                    market.price = new
                    self._check_liquidation(account, symbol)
                market.price = new
                self._fire_conditionals(account, symbol)
                self._check_liquidation(account, symbol)
            market.price = new

    def close_position_manually(self, api_key: str, symbol: str) -> dict:
        """Someone closes the position in the exchange's own UI (a market order with a client id of theirs)."""
        with self.lock:
            account = self.accounts[api_key]
            amount = account.position(symbol).amount
            side = "SELL" if amount > 0 else "BUY"
            return self._new_order(account, {"symbol": symbol, "side": side, "type": "MARKET",
                                             "quantity": _s(abs(amount)), "reduceOnly": "true",
                                             "newClientOrderId": f"web_{next(self._ids)}"})

    def place_external_order(self, api_key: str, symbol: str, *, side: str = "BUY", price=None,
                             quantity="0.010") -> dict:
        """A resting limit order placed outside the platform (an orphan for reconciliation to report)."""
        with self.lock:
            account = self.accounts[api_key]
            market = self.markets[symbol]
            limit = Decimal(price) if price is not None else (market.price * Decimal("0.5")).quantize(market.tick_size)
            return self._new_order(account, {"symbol": symbol, "side": side, "type": "LIMIT",
                                             "quantity": str(quantity), "price": _s(limit), "timeInForce": "GTC",
                                             "newClientOrderId": f"ios_{next(self._ids)}"})

    def open_orders_of(self, api_key: str) -> list[dict]:
        with self.lock:
            return [o for o in self.accounts[api_key].orders.values() if o["status"] in ("NEW", "PARTIALLY_FILLED")]

    def open_algo_orders_of(self, api_key: str) -> list[dict]:
        with self.lock:
            return [o for o in self.accounts[api_key].algo_orders.values() if o["algoStatus"] == "NEW"]

    def orders_with_client_id(self, api_key: str, client_id: str) -> list[dict]:
        with self.lock:
            account = self.accounts[api_key]
            return ([o for o in account.orders.values() if o["clientOrderId"] == client_id]
                    + [o for o in account.algo_orders.values() if o["clientAlgoId"] == client_id])

    # ---- server ----------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeBinance:
        fake = self

        class Handler(_Handler):
            exchange = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-binance", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeBinance:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- request handling ------------------------------------------------------------------------
    def should_lose(self, path: str) -> bool:
        with self.lock:
            left = self._lose.get(path, 0)
            if left:
                self._lose[path] = left - 1
            return bool(left)

    def authenticate(self, api_key: str | None, signed_payload: str, signature: str | None,
                     params: dict) -> FakeAccount:
        account = self.accounts.get(api_key or "")
        if account is None:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        if "timestamp" not in params:
            raise BinanceError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        if abs(int(params["timestamp"]) - _ms()) > int(params.get("recvWindow", 5000)) + 1000:
            raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
        if self.check_signatures:
            expected = hmac.new(account.secret.encode(), signed_payload.encode(), hashlib.sha256).hexdigest()
            if not signature or not hmac.compare_digest(expected, signature):
                raise BinanceError(-1022, "Signature for this request is not valid.")
        return account

    def route(self, method: str, path: str, params: dict, account: FakeAccount | None):
        public = {
            ("GET", "/fapi/v1/time"): lambda: {"serverTime": _ms()},
            ("GET", "/fapi/v1/ping"): lambda: {},
            ("GET", "/fapi/v1/exchangeInfo"): self._exchange_info,
            ("GET", "/fapi/v1/ticker/price"): lambda: self._ticker_price(params),
            ("GET", "/fapi/v2/ticker/price"): lambda: self._ticker_price(params),
            ("GET", "/fapi/v1/ticker/24hr"): lambda: self._ticker_24hr(params),
            ("GET", "/fapi/v1/premiumIndex"): lambda: self._premium_index(params),
        }
        if (method, path) in public:
            return public[(method, path)]()
        if account is None:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        private = {
            ("GET", "/fapi/v2/account"): lambda: self._account(account),
            ("GET", "/fapi/v3/account"): lambda: self._account(account),
            ("GET", "/fapi/v2/balance"): lambda: self._account(account)["assets"],
            ("GET", "/fapi/v3/balance"): lambda: self._account(account)["assets"],
            ("POST", "/fapi/v1/leverage"): lambda: self._leverage(account, params),
            ("POST", "/fapi/v1/marginType"): lambda: self._margin_type(account, params),
            ("POST", "/fapi/v1/order"): lambda: self._new_order(account, params),
            ("GET", "/fapi/v1/order"): lambda: self._get_order(account, params),
            ("DELETE", "/fapi/v1/order"): lambda: self._cancel_order(account, params),
            ("GET", "/fapi/v1/openOrders"): lambda: self._open_orders(account, params),
            ("GET", "/fapi/v1/allOrders"): lambda: self._all_orders(account, params),
            ("POST", "/fapi/v1/algoOrder"): lambda: self._new_algo_order(account, params),
            ("GET", "/fapi/v1/algoOrder"): lambda: self._get_algo_order(account, params),
            ("DELETE", "/fapi/v1/algoOrder"): lambda: self._cancel_algo_order(account, params),
            ("GET", "/fapi/v1/openAlgoOrders"): lambda: self._open_algo_orders(account, params),
            ("GET", "/fapi/v2/positionRisk"): lambda: self._position_risk(account, params, v2=True),
            ("GET", "/fapi/v3/positionRisk"): lambda: self._position_risk(account, params, v2=False),
            ("GET", "/fapi/v1/userTrades"): lambda: self._user_trades(account, params),
            ("GET", "/fapi/v1/leverageBracket"): lambda: self._leverage_brackets(params),
        }
        handler = private.get((method, path))
        if handler is None:
            raise BinanceError(-5000, f"Path {path} could not be found.", 404)
        return handler()

    # ---- market data -------------------------------------------------------------------------------
    def _market(self, params: dict) -> FakeMarket:
        market = self.markets.get(params.get("symbol", ""))
        if market is None:
            raise BinanceError(-1121, "Invalid symbol.")
        return market

    def _exchange_info(self) -> dict:
        symbols = []
        for m in self.markets.values():
            symbols.append({
                "symbol": m.symbol, "pair": m.symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
                "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
                "requiredMarginPercent": "5.0000", "baseAsset": m.base, "quoteAsset": "USDT", "marginAsset": "USDT",
                "pricePrecision": max(0, -m.tick_size.normalize().as_tuple().exponent),
                "quantityPrecision": max(0, -m.step_size.normalize().as_tuple().exponent),
                "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [],
                "triggerProtect": "0.0500", "liquidationFee": "0.012500", "marketTakeBound": "0.05",
                "maxMoveOrderLimit": 10000,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": _s(m.tick_size), "maxPrice": "4529764",
                     "tickSize": _s(m.tick_size)},
                    {"filterType": "LOT_SIZE", "minQty": _s(m.min_qty), "maxQty": "1000000",
                     "stepSize": _s(m.step_size)},
                    {"filterType": "MARKET_LOT_SIZE", "minQty": _s(m.min_qty), "maxQty": "1000000",
                     "stepSize": _s(m.step_size)},
                    {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                    {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                    {"filterType": "MIN_NOTIONAL", "notional": _s(m.min_notional)},
                    {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
                     "multiplierDecimal": "4"},
                ],
                "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                               "TRAILING_STOP_MARKET"],
                "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
            })
        return {"timezone": "UTC", "serverTime": _ms(), "futuresType": "U_MARGINED", "rateLimits": [],
                "exchangeFilters": [], "assets": [{"asset": "USDT", "marginAvailable": True,
                                                   "autoAssetExchange": "-10000"}], "symbols": symbols}

    def _ticker_price(self, params: dict):
        def one(m):
            return {"symbol": m.symbol, "price": _s(m.price), "time": _ms()}
        return one(self._market(params)) if "symbol" in params else [one(m) for m in self.markets.values()]

    def _ticker_24hr(self, params: dict):
        def one(m):
            p = _s(m.price)
            return {"symbol": m.symbol, "priceChange": "0", "priceChangePercent": "0", "weightedAvgPrice": p,
                    "lastPrice": p, "lastQty": "0.001", "openPrice": p, "highPrice": p, "lowPrice": p,
                    "volume": "1000", "quoteVolume": "1000", "openTime": _ms() - 86400000, "closeTime": _ms(),
                    "firstId": 1, "lastId": 2, "count": 2}
        return one(self._market(params)) if "symbol" in params else [one(m) for m in self.markets.values()]

    def _premium_index(self, params: dict):
        def one(m):
            return {"symbol": m.symbol, "markPrice": _s(m.price), "indexPrice": _s(m.price),
                    "estimatedSettlePrice": _s(m.price), "lastFundingRate": "0.0001", "interestRate": "0.0001",
                    "nextFundingTime": _ms() + 3600000, "time": _ms()}
        return one(self._market(params)) if "symbol" in params else [one(m) for m in self.markets.values()]

    # ---- account ---------------------------------------------------------------------------------
    def _unrealized(self, symbol: str, position: FakePosition) -> Decimal:
        return (self.markets[symbol].price - position.entry_price) * position.amount if position.amount else Decimal(0)

    def _margin(self, symbol: str, position: FakePosition) -> Decimal:
        return abs(position.amount) * position.entry_price / position.leverage if position.amount else Decimal(0)

    def _account(self, account: FakeAccount) -> dict:
        with self.lock:
            unrealized = sum((self._unrealized(s, p) for s, p in account.positions.items()), Decimal(0))
            margin = sum((self._margin(s, p) for s, p in account.positions.items()), Decimal(0))
            available = account.balance + unrealized - margin
            asset = {"asset": "USDT", "walletBalance": _s(account.balance), "unrealizedProfit": _s(unrealized),
                     "marginBalance": _s(account.balance + unrealized), "maintMargin": "0",
                     "initialMargin": _s(margin), "positionInitialMargin": _s(margin),
                     "openOrderInitialMargin": "0", "crossWalletBalance": _s(account.balance),
                     "crossUnPnl": _s(unrealized), "availableBalance": _s(available),
                     "maxWithdrawAmount": _s(available), "marginAvailable": True, "updateTime": _ms()}
            return {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True, "updateTime": 0,
                    "multiAssetsMargin": False, "tradeGroupId": -1,
                    "totalInitialMargin": _s(margin), "totalMaintMargin": "0",
                    "totalWalletBalance": _s(account.balance), "totalUnrealizedProfit": _s(unrealized),
                    "totalMarginBalance": _s(account.balance + unrealized), "totalPositionInitialMargin": _s(margin),
                    "totalOpenOrderInitialMargin": "0", "totalCrossWalletBalance": _s(account.balance),
                    "totalCrossUnPnl": _s(unrealized), "availableBalance": _s(available),
                    "maxWithdrawAmount": _s(available), "assets": [asset], "positions": []}

    def _leverage(self, account: FakeAccount, params: dict) -> dict:
        market = self._market(params)
        leverage = int(params.get("leverage", 0))
        if not 1 <= leverage <= market.max_leverage:
            raise BinanceError(-4028, f"Leverage {leverage} is not valid")
        with self.lock:
            account.position(market.symbol).leverage = leverage
        return {"leverage": leverage, "maxNotionalValue": "1000000", "symbol": market.symbol}

    def _leverage_brackets(self, params: dict) -> list:
        markets = [self._market(params)] if "symbol" in params else list(self.markets.values())
        return [{"symbol": m.symbol, "notionalCoef": 1.0, "brackets": [
            {"bracket": 1, "initialLeverage": m.max_leverage, "notionalCap": 10_000_000, "notionalFloor": 0,
             "maintMarginRatio": float(MAINTENANCE_MARGIN_RATE), "cum": 0.0}]} for m in markets]

    def _margin_type(self, account: FakeAccount, params: dict) -> dict:
        market = self._market(params)
        wanted = {"ISOLATED": "isolated", "CROSSED": "cross"}.get(params.get("marginType", ""))
        if wanted is None:
            raise BinanceError(-1116, "Invalid marginType.")
        with self.lock:
            position = account.position(market.symbol)
            if position.margin_type == wanted:
                raise BinanceError(-4046, "No need to change margin type.")
            if position.amount:
                raise BinanceError(-4048, "Margin type cannot be changed if there exists position.")
            position.margin_type = wanted
        return {"code": 200, "msg": "success"}

    def _liquidation_price(self, position: FakePosition) -> Decimal:
        if not position.amount or position.margin_type != "isolated":
            return Decimal(0)
        step = Decimal(1) / position.leverage - MAINTENANCE_MARGIN_RATE
        factor = (1 - step) if position.amount > 0 else (1 + step)
        return (position.entry_price * factor).quantize(Decimal("0.01"))

    def _position_risk(self, account: FakeAccount, params: dict, *, v2: bool) -> list:
        rows = []
        with self.lock:
            for symbol, p in account.positions.items():
                if "symbol" in params and params["symbol"] != symbol:
                    continue
                if not v2 and not p.amount:
                    continue
                mark = self.markets[symbol].price
                row = {"symbol": symbol, "positionSide": "BOTH", "positionAmt": _s(p.amount),
                       "entryPrice": _s(p.entry_price), "breakEvenPrice": _s(p.entry_price), "markPrice": _s(mark),
                       "unRealizedProfit": _s(self._unrealized(symbol, p)),
                       "liquidationPrice": _s(self._liquidation_price(p)),
                       "isolatedMargin": _s(self._margin(symbol, p)) if p.margin_type == "isolated" else "0",
                       "notional": _s(p.amount * mark), "marginAsset": "USDT",
                       "isolatedWallet": _s(self._margin(symbol, p)) if p.margin_type == "isolated" else "0",
                       "initialMargin": _s(self._margin(symbol, p)), "maintMargin": "0",
                       "positionInitialMargin": _s(self._margin(symbol, p)), "openOrderInitialMargin": "0",
                       "adl": 0, "bidNotional": "0", "askNotional": "0", "updateTime": p.update_time}
                if v2:
                    row.update({"leverage": str(p.leverage), "marginType": p.margin_type,
                                "isolated": p.margin_type == "isolated", "isAutoAddMargin": "false",
                                "maxNotionalValue": "1000000"})
                rows.append(row)
        return rows

    # ---- orders ----------------------------------------------------------------------------------
    def _order_view(self, order: dict) -> dict:
        return dict(order)

    def _find_order(self, account: FakeAccount, params: dict) -> dict:
        if params.get("orderId"):
            order = account.orders.get(int(params["orderId"]))
        else:
            wanted = params.get("origClientOrderId")
            order = next((o for o in account.orders.values() if wanted and o["clientOrderId"] == wanted), None)
        if order is None or order["symbol"] != params.get("symbol"):
            raise BinanceError(-2013, "Order does not exist.")
        return order

    def _new_order(self, account: FakeAccount, params: dict) -> dict:
        market = self._market(params)
        side = params.get("side")
        kind = params.get("type")
        if side not in ("BUY", "SELL"):
            raise BinanceError(-1117, "Invalid side.")
        if kind not in ("MARKET", "LIMIT"):
            raise BinanceError(-1116, "Invalid orderType.")
        quantity = Decimal(params.get("quantity") or "0")
        if quantity < market.min_qty or quantity % market.step_size:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        client_id = params.get("newClientOrderId") or f"auto_{next(self._ids)}"
        reduce_only = str(params.get("reduceOnly", "false")).lower() == "true"
        with self.lock:
            if any(o["clientOrderId"] == client_id for o in account.orders.values()):
                raise BinanceError(-4116, "ClientOrderId is duplicated.")
            position = account.position(market.symbol)
            signed = quantity if side == "BUY" else -quantity
            if reduce_only and (not position.amount or (position.amount > 0) == (signed > 0)
                                or abs(signed) > abs(position.amount)):
                raise BinanceError(-2022, "ReduceOnly Order is rejected.")
            if not reduce_only and quantity * market.price < market.min_notional:
                raise BinanceError(-4164, f"Order's notional must be no smaller than {_s(market.min_notional)} "
                                          "(unless you choose reduce only).")
            now = _ms()
            limit_price = Decimal(params.get("price") or "0")
            order = {"orderId": next(self._ids), "symbol": market.symbol, "status": "NEW",
                     "clientOrderId": client_id, "price": _s(limit_price), "avgPrice": "0",
                     "origQty": _s(quantity), "executedQty": "0", "cumQty": "0", "cumQuote": "0",
                     "timeInForce": params.get("timeInForce", "GTC"), "type": kind, "reduceOnly": reduce_only,
                     "closePosition": False, "side": side, "positionSide": "BOTH", "stopPrice": "0",
                     "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": kind,
                     "priceMatch": "NONE", "selfTradePreventionMode": "NONE", "goodTillDate": 0,
                     "time": now, "updateTime": now}
            account.orders[order["orderId"]] = order
            if kind == "MARKET":
                self._fill(account, order, market.price)
            return self._order_view(order)

    def _fill(self, account: FakeAccount, order: dict, price: Decimal) -> None:
        """Fill the whole order at `price`: one trade, position and wallet updated."""
        symbol = order["symbol"]
        quantity = Decimal(order["origQty"])
        signed = quantity if order["side"] == "BUY" else -quantity
        position = account.position(symbol)
        realized = Decimal(0)
        if position.amount and (position.amount > 0) != (signed > 0):
            closing = min(abs(signed), abs(position.amount))
            direction = 1 if position.amount > 0 else -1
            realized = (price - position.entry_price) * closing * direction
            remaining = position.amount + signed
            if remaining and (remaining > 0) != (position.amount > 0):
                position.entry_price = price  # flipped: the rest opens at this price
            elif not remaining:
                position.entry_price = Decimal(0)
            position.amount = remaining
        else:
            total = abs(position.amount) + quantity
            position.entry_price = ((position.entry_price * abs(position.amount) + price * quantity) / total
                                    ).quantize(Decimal("0.00000001"))
            position.amount += signed
        position.update_time = _ms()
        fee = (price * quantity * TAKER_FEE).quantize(Decimal("0.00000001"))
        account.balance += realized - fee
        now = _ms()
        order.update(status="FILLED", avgPrice=_s(price), executedQty=_s(quantity), cumQty=_s(quantity),
                     cumQuote=_s(price * quantity), updateTime=now)
        account.trades.append({"buyer": order["side"] == "BUY", "commission": _s(fee), "commissionAsset": "USDT",
                               "id": next(self._ids), "maker": False, "orderId": order["orderId"],
                               "price": _s(price), "qty": _s(quantity), "quoteQty": _s(price * quantity),
                               "realizedPnl": _s(realized), "side": order["side"], "positionSide": "BOTH",
                               "symbol": symbol, "time": now})

    def _get_order(self, account: FakeAccount, params: dict) -> dict:
        with self.lock:
            return self._order_view(self._find_order(account, params))

    def _cancel_order(self, account: FakeAccount, params: dict) -> dict:
        with self.lock:
            order = self._find_order(account, params)
            if order["status"] not in ("NEW", "PARTIALLY_FILLED"):
                raise BinanceError(-2011, "Unknown order sent.")
            order.update(status="CANCELED", updateTime=_ms())
            return self._order_view(order)

    def _open_orders(self, account: FakeAccount, params: dict) -> list:
        with self.lock:
            return [self._order_view(o) for o in account.orders.values()
                    if o["status"] in ("NEW", "PARTIALLY_FILLED")
                    and ("symbol" not in params or o["symbol"] == params["symbol"])]

    def _all_orders(self, account: FakeAccount, params: dict) -> list:
        with self.lock:
            return [self._order_view(o) for o in account.orders.values() if o["symbol"] == params.get("symbol")]

    # ---- conditional (algo) orders ---------------------------------------------------------------
    def _new_algo_order(self, account: FakeAccount, params: dict) -> dict:
        market = self._market(params)
        kind = params.get("type")
        if params.get("algoType") != "CONDITIONAL" or kind not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise BinanceError(-1116, "Invalid orderType.")
        trigger = Decimal(params.get("triggerPrice") or "0")
        if trigger <= 0 or trigger % market.tick_size:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        quantity = Decimal(params.get("quantity") or "0")
        client_id = params.get("clientAlgoId") or f"auto_{next(self._ids)}"
        side = params.get("side")
        with self.lock:
            if any(o["clientAlgoId"] == client_id for o in account.algo_orders.values()):
                raise BinanceError(-4116, "ClientOrderId is duplicated.")
            price = market.price
            would_fire = ((kind == "STOP_MARKET") == (side == "SELL")) and price <= trigger or \
                         ((kind == "STOP_MARKET") == (side == "BUY")) and price >= trigger
            if would_fire:
                raise BinanceError(-2021, "Order would immediately trigger.")
            now = _ms()
            order = {"algoId": next(self._ids), "clientAlgoId": client_id, "algoType": "CONDITIONAL",
                     "orderType": kind, "symbol": market.symbol, "side": side, "positionSide": "BOTH",
                     "timeInForce": "GTC", "quantity": _s(quantity), "algoStatus": "NEW",
                     "triggerPrice": _s(trigger), "price": "0", "icebergQuantity": None,
                     "selfTradePreventionMode": "EXPIRE_MAKER", "workingType": "CONTRACT_PRICE",
                     "priceMatch": "NONE", "closePosition": False, "priceProtect": False,
                     "reduceOnly": str(params.get("reduceOnly", "false")).lower() == "true",
                     "createTime": now, "updateTime": now, "triggerTime": 0, "goodTillDate": 0}
            account.algo_orders[order["algoId"]] = order
            return dict(order)

    def _find_algo(self, account: FakeAccount, params: dict) -> dict:
        if params.get("algoId"):
            order = account.algo_orders.get(int(params["algoId"]))
        else:
            wanted = params.get("clientAlgoId")
            order = next((o for o in account.algo_orders.values() if wanted and o["clientAlgoId"] == wanted), None)
        if order is None:
            raise BinanceError(-2013, "Order does not exist.")
        return order

    def _get_algo_order(self, account: FakeAccount, params: dict) -> dict:
        with self.lock:
            return dict(self._find_algo(account, params))

    def _cancel_algo_order(self, account: FakeAccount, params: dict) -> dict:
        with self.lock:
            order = self._find_algo(account, params)
            if order["algoStatus"] != "NEW":
                raise BinanceError(-2011, "Unknown order sent.")
            order.update(algoStatus="CANCELED", updateTime=_ms())
            return {"algoId": order["algoId"], "clientAlgoId": order["clientAlgoId"], "code": "200",
                    "msg": "success"}

    def _open_algo_orders(self, account: FakeAccount, params: dict) -> list:
        with self.lock:
            return [dict(o) for o in account.algo_orders.values() if o["algoStatus"] == "NEW"
                    and ("symbol" not in params or o["symbol"] == params["symbol"])]

    def _fire_conditionals(self, account: FakeAccount, symbol: str) -> None:
        price = self.markets[symbol].price
        for algo in list(account.algo_orders.values()):
            if algo["symbol"] != symbol or algo["algoStatus"] != "NEW":
                continue
            trigger = Decimal(algo["triggerPrice"])
            falling_trigger = (algo["orderType"] == "STOP_MARKET") == (algo["side"] == "SELL")
            if (falling_trigger and price > trigger) or (not falling_trigger and price < trigger):
                continue
            position = account.position(symbol)
            quantity = min(Decimal(algo["quantity"]), abs(position.amount))
            closes = position.amount and (position.amount > 0) == (algo["side"] == "SELL")
            now = _ms()
            if algo["reduceOnly"] and (not closes or not quantity):
                algo.update(algoStatus="EXPIRED", updateTime=now, triggerTime=now)
                continue
            order = {"orderId": next(self._ids), "symbol": symbol, "status": "NEW",
                     "clientOrderId": algo["clientAlgoId"], "price": "0", "avgPrice": "0",
                     "origQty": _s(quantity), "executedQty": "0", "cumQty": "0", "cumQuote": "0",
                     "timeInForce": "GTC", "type": "MARKET", "reduceOnly": algo["reduceOnly"],
                     "closePosition": False, "side": algo["side"], "positionSide": "BOTH",
                     "stopPrice": algo["triggerPrice"], "workingType": "CONTRACT_PRICE", "priceProtect": False,
                     "origType": algo["orderType"], "priceMatch": "NONE", "selfTradePreventionMode": "NONE",
                     "goodTillDate": 0, "time": now, "updateTime": now}
            account.orders[order["orderId"]] = order
            self._fill(account, order, trigger)
            algo.update(algoStatus="FINISHED", updateTime=now, triggerTime=now, actualOrderId=str(order["orderId"]),
                        actualPrice=_s(trigger))

    def _check_liquidation(self, account: FakeAccount, symbol: str) -> None:
        position = account.position(symbol)
        liquidation = self._liquidation_price(position)
        if not position.amount or not liquidation:
            return
        price = self.markets[symbol].price
        if (position.amount > 0 and price > liquidation) or (position.amount < 0 and price < liquidation):
            return
        now = _ms()
        side = "SELL" if position.amount > 0 else "BUY"
        order = {"orderId": next(self._ids), "symbol": symbol, "status": "NEW", "clientOrderId": f"autoclose-{now}",
                 "price": _s(liquidation), "avgPrice": "0", "origQty": _s(abs(position.amount)),
                 "executedQty": "0", "cumQty": "0", "cumQuote": "0", "timeInForce": "IOC", "type": "LIMIT",
                 "reduceOnly": True, "closePosition": False, "side": side, "positionSide": "BOTH", "stopPrice": "0",
                 "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": "LIQUIDATION",
                 "priceMatch": "NONE", "selfTradePreventionMode": "NONE", "goodTillDate": 0, "time": now,
                 "updateTime": now}
        account.orders[order["orderId"]] = order
        self._fill(account, order, liquidation)
        for algo in account.algo_orders.values():  # the exchange drops the position's conditional orders
            if algo["symbol"] == symbol and algo["algoStatus"] == "NEW" and algo["reduceOnly"]:
                algo.update(algoStatus="EXPIRED", updateTime=now)

    def _user_trades(self, account: FakeAccount, params: dict) -> list:
        with self.lock:
            trades = [t for t in account.trades if t["symbol"] == params.get("symbol")]
            if params.get("startTime"):
                trades = [t for t in trades if t["time"] >= int(params["startTime"])]
            if params.get("fromId"):
                trades = [t for t in trades if t["id"] >= int(params["fromId"])]
            return [dict(t) for t in trades[: int(params.get("limit", 500))]]


class _Handler(BaseHTTPRequestHandler):
    exchange: FakeBinance
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - quiet in tests
        pass

    def _handle(self, method: str) -> None:
        exchange = self.exchange
        url = urlsplit(self.path)
        query = url.query
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        raw = "&".join(part for part in (query, body) if part)
        params = dict(parse_qsl(raw, keep_blank_values=True))
        signature = params.pop("signature", None)
        signed_payload = raw.rsplit("&signature=", 1)[0] if signature else raw
        if exchange.latency:
            time.sleep(exchange.latency)
        with exchange.lock:
            exchange.requests.append((method, url.path, dict(params)))
        try:
            account = None
            if signature is not None or self.headers.get("X-MBX-APIKEY"):
                account = exchange.authenticate(self.headers.get("X-MBX-APIKEY"), signed_payload, signature, params)
            result = exchange.route(method, url.path, params, account)
            status, payload = 200, result
        except BinanceError as exc:
            status, payload = exc.status, {"code": exc.code, "msg": exc.msg}
        if exchange.should_lose(url.path) and status == 200:
            # The work is done, the answer is lost: close the socket without a response.
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        self._handle("GET")

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    def do_DELETE(self):  # noqa: N802
        self._handle("DELETE")

    def do_PUT(self):  # noqa: N802
        self._handle("PUT")
