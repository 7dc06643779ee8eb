"""The one way trading talks to an exchange: `gateway_for(account)`.

- One cached ccxt client per credential (keyed by the credential and the exchange's URL, so a rotated
  key or a moved base URL gets a fresh client), with its calls on one credential serialised.
- One rate limiter per exchange, shared by every client of that exchange in the process (ccxt's own
  limiter is per client instance, which lets 100 accounts hit one exchange 100 times as fast).
- Markets loaded once per exchange and shared by its clients (TRADING_MARKETS_CACHE_SECONDS), and so are
  the markets' leverage ceilings (Binance's leverage brackets, one signed call per symbol otherwise).
- Network errors (timeouts, dropped connections, 5xx, rate limiting) are retried with exponential
  backoff; exchange errors (refused orders, bad keys) are not, and surface as ExchangeRefused.
- Orders carry deterministic client order ids: before placing again after a lost answer, the gateway
  asks the exchange for that id and, when the order is there, uses it instead of placing a second one.

Amounts cross this boundary as Decimal (ccxt returns floats; they are converted through `str`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

import ccxt
from django.conf import settings

from core import metrics
from trading.models import Exchange, ExchangeCredential, ExchangeKind, Order, OrderLeg, TradingAccount
from trading.services.sizing import MarketRules

logger = logging.getLogger(__name__)


class ExchangeUnavailable(Exception):
    """The exchange did not answer after every retry (network errors only)."""


class ExchangeRefused(Exception):
    """The exchange answered with an error: the request was refused (not retried)."""


class NoCredential(Exception):
    """The account has no active exchange credential."""


def to_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


class RateLimiter:
    """A token bucket shared by every client of one exchange in this process.

    `throttle(cost)` has ccxt's signature, so it replaces each client's own limiter: a client waits until
    the exchange-wide bucket has `cost` tokens.
    """

    def __init__(self, per_second: float, burst: float | None = None):
        self.per_second = per_second
        self.capacity = burst if burst is not None else max(1.0, per_second)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def throttle(self, cost=None) -> None:
        cost = float(cost or 1)
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
                self.updated = now
                if self.tokens >= cost:
                    self.tokens -= cost
                    return
                wait = (cost - self.tokens) / self.per_second
            time.sleep(wait)


_limiters: dict[int, RateLimiter] = {}
_clients: dict[tuple, tuple[object, threading.Lock]] = {}
_markets: dict[tuple, tuple[float, dict]] = {}
_leverage_ceilings: dict[tuple, tuple[float, int | None]] = {}  # a market's leverage brackets, per exchange
_prepared: dict[tuple, tuple[float, int]] = {}  # (gateway identity, symbol) → (margin mode set at, leverage)
PREPARED_SECONDS = 600
_registry_lock = threading.Lock()


def reset_clients() -> None:
    """Forget every cached client, limiter and market list (tests; after changing an Exchange's URL)."""
    with _registry_lock:
        _clients.clear()
        _limiters.clear()
        _markets.clear()
        _leverage_ceilings.clear()
        _prepared.clear()


def _limiter_for(exchange: Exchange, ccxt_rate_limit_ms: float) -> RateLimiter:
    with _registry_lock:
        limiter = _limiters.get(exchange.pk)
        if limiter is None:
            per_second = exchange.requests_per_second or (1000.0 / ccxt_rate_limit_ms if ccxt_rate_limit_ms else 20.0)
            limiter = _limiters[exchange.pk] = RateLimiter(float(per_second))
        return limiter


def _override_urls(client, base_url: str) -> None:
    """Point every REST endpoint of the client at `base_url` (a testnet or a local fake), keeping paths."""
    from urllib.parse import urlsplit

    def rewrite(node):
        if isinstance(node, dict):
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, str) and node.startswith("http"):
            parts = urlsplit(node)
            return base_url.rstrip("/") + parts.path
        return node

    client.urls["api"] = rewrite(client.urls["api"])


def _new_ccxt_client(exchange: Exchange, credential: ExchangeCredential):
    klass = getattr(ccxt, exchange.ccxt_id, None)
    if klass is None:
        raise ExchangeRefused(f"Unknown exchange {exchange.ccxt_id!r}.")
    client = klass({
        "apiKey": credential.api_key,
        "secret": credential.secret,
        "password": credential.passphrase or None,
        "enableRateLimit": True,
        "timeout": settings.TRADING_EXCHANGE_TIMEOUT_MS,
        # Binance: fetchCurrencies is a spot wallet call; futures trading never needs it.
        # Reconciliation lists open orders of every symbol at once (to find orphans anywhere): one heavier
        # request instead of one per market, which ccxt would otherwise refuse with a warning.
        "options": {"fetchCurrencies": False, "defaultType": "swap", "warnOnFetchOpenOrdersWithoutSymbol": False},
    })
    if exchange.sandbox:
        client.set_sandbox_mode(True)
    if exchange.api_base_url:
        _override_urls(client, exchange.api_base_url)
    client.throttle = _limiter_for(exchange, client.rateLimit).throttle
    return client


def _client_key(exchange: Exchange, credential: ExchangeCredential) -> tuple:
    return (credential.pk, credential.api_key_last4, credential.created_at.timestamp(), exchange.pk,
            exchange.ccxt_id, exchange.api_base_url, exchange.sandbox)


def _client_for(exchange: Exchange, credential: ExchangeCredential):
    key = _client_key(exchange, credential)
    with _registry_lock:
        cached = _clients.get(key)
    if cached is not None:
        return cached
    made = (_new_ccxt_client(exchange, credential), threading.Lock())
    with _registry_lock:
        return _clients.setdefault(key, made)


@dataclass
class PlacedOrder:
    """What the exchange says about one order, in Decimals."""

    exchange_order_id: str
    client_order_id: str
    status: str  # ccxt's: open, closed, canceled, expired, rejected
    exchange_status: str
    filled: Decimal
    average: Decimal | None
    fee: Decimal
    fee_currency: str
    raw: dict

    @classmethod
    def from_ccxt(cls, order: dict) -> PlacedOrder:
        info = order.get("info") or {}
        fee = order.get("fee") or {}
        return cls(
            exchange_order_id=str(order.get("id") or ""),
            client_order_id=str(order.get("clientOrderId") or info.get("clientAlgoId") or ""),
            status=order.get("status") or "",
            exchange_status=str(info.get("status") or info.get("algoStatus") or ""),
            filled=to_decimal(order.get("filled")) or Decimal(0),
            average=to_decimal(order.get("average")),
            fee=to_decimal(fee.get("cost")) or Decimal(0),
            fee_currency=fee.get("currency") or "",
            raw=info,
        )


class Gateway:
    """The calls trading makes on one account's exchange, retried and in Decimals."""

    def __init__(self, api, lock: threading.Lock, exchange: Exchange, identity: tuple | None = None):
        self.api = api
        self.lock = lock
        self.exchange = exchange
        # The cached client's key (the exchange account that per-symbol settings belong to); None for the
        # paper exchange and one-off gateways, which remember nothing.
        self.identity = identity

    # --- plumbing ---------------------------------------------------------------------------------
    def call(self, method: str, *args, **kwargs):
        """One exchange call with retries on network errors (exponential backoff with jitter)."""
        attempts = max(1, settings.TRADING_EXCHANGE_RETRIES)
        delay = settings.TRADING_EXCHANGE_RETRY_BASE_SECONDS
        for attempt in range(1, attempts + 1):
            try:
                with self.lock:
                    return getattr(self.api, method)(*args, **kwargs)
            except ccxt.NetworkError as exc:
                metrics.count("p2p_trading_exchange_errors_total", exchange=self.exchange.ccxt_id, kind="network")
                if attempt == attempts:
                    raise ExchangeUnavailable(f"{self.exchange.name} did not answer: {exc}") from exc
                logger.info("exchange %s %s: network error (attempt %s), retrying", self.exchange.name, method,
                            attempt)
                time.sleep(delay * (1 + 0.25 * (attempt % 2)))
                delay *= 2
            except ccxt.BaseError as exc:
                metrics.count("p2p_trading_exchange_errors_total", exchange=self.exchange.ccxt_id, kind="refused")
                raise ExchangeRefused(_short(exc)) from exc
        raise AssertionError("unreachable")

    def load_markets(self) -> dict:
        key = (self.exchange.pk, self.exchange.ccxt_id, self.exchange.api_base_url)
        now = time.monotonic()
        with _registry_lock:
            cached = _markets.get(key)
        # `set_markets` builds new dicts (≈ 8 ms of CPU for a few dozen markets), so the client remembers
        # which shared list it was given rather than comparing its own `markets` with it.
        if self.api.markets and cached is not None and getattr(self.api, "_p2p_markets_from", None) is cached[1]:
            return self.api.markets
        if cached is not None and now - cached[0] < settings.TRADING_MARKETS_CACHE_SECONDS:
            self.api.set_markets(cached[1])
            self.api._p2p_markets_from = cached[1]
            return self.api.markets
        markets = self.call("load_markets", True)
        with _registry_lock:
            _markets[key] = (now, self.api.markets)
        self.api._p2p_markets_from = self.api.markets
        return markets

    # --- reads ------------------------------------------------------------------------------------
    def resolve_symbol(self, raw: str) -> str | None:
        """The unified symbol of a signal's ticker: `BTCUSDT`, `BINANCE:BTCUSDT.P`, `BTC/USDT:USDT`…"""
        self.load_markets()
        text = (raw or "").strip().upper()
        if ":" in text and "/" not in text:
            text = text.split(":", 1)[1]
        text = text.removesuffix(".P").removesuffix("PERP") if text.endswith((".P", "PERP")) else text
        if text in self.api.markets:
            return text
        for candidate in (text, text.replace("/", "")):
            found = self.api.markets_by_id.get(candidate)
            if found:
                market = found[0] if isinstance(found, list) else found
                if market.get("contract") or market.get("type") in ("swap", "future"):
                    return market["symbol"]
        return None

    def market_rules(self, symbol: str) -> MarketRules:
        self.load_markets()
        market = self.api.market(symbol)
        limits = market.get("limits") or {}
        max_leverage = (limits.get("leverage") or {}).get("max")
        return MarketRules(
            symbol=symbol,
            amount_step=to_decimal(market["precision"].get("amount")) or Decimal("0.00000001"),
            price_step=to_decimal(market["precision"].get("price")) or Decimal("0.00000001"),
            min_amount=to_decimal((limits.get("amount") or {}).get("min")) or Decimal(0),
            min_notional=to_decimal((limits.get("cost") or {}).get("min")) or Decimal(0),
            max_leverage=int(max_leverage) if max_leverage else None,
        )

    def max_leverage(self, symbol: str) -> int | None:
        """The market's leverage ceiling; from the leverage brackets where ccxt's market lacks it."""
        rules = self.market_rules(symbol)
        if rules.max_leverage:
            return rules.max_leverage
        if not self.api.has.get("fetchLeverageTiers"):
            return None
        key = (self.exchange.pk, self.exchange.ccxt_id, self.exchange.api_base_url, symbol)
        now = time.monotonic()
        with _registry_lock:
            cached = _leverage_ceilings.get(key)
        if cached is not None and now - cached[0] < settings.TRADING_MARKETS_CACHE_SECONDS:
            return cached[1]
        try:
            tiers = self.call("fetch_market_leverage_tiers", symbol)
        except (ExchangeRefused, ccxt.NotSupported):
            return None
        values = [tier.get("maxLeverage") for tier in tiers or [] if tier.get("maxLeverage")]
        ceiling = int(max(values)) if values else None
        with _registry_lock:
            _leverage_ceilings[key] = (now, ceiling)
        return ceiling

    def highest_leverage(self) -> int | None:
        """The highest leverage any market of this exchange states in its market list (no per-market
        look-ups): the ceiling a person's maximum leverage is checked against. None when none states one."""
        self.load_markets()
        ceilings = [int(m["limits"]["leverage"]["max"]) for m in self.api.markets.values()
                    if ((m.get("limits") or {}).get("leverage") or {}).get("max")]
        return max(ceilings) if ceilings else None

    def equity(self) -> Decimal:
        """The account's equity in the exchange's quote currency: wallet balance plus unrealized PnL."""
        balance = self.call("fetch_balance")
        quote = self.exchange.quote_currency
        info = balance.get("info") or {}
        margin_balance = info.get("totalMarginBalance")
        if margin_balance is not None:
            return to_decimal(margin_balance)
        return to_decimal((balance.get(quote) or {}).get("total")) or Decimal(0)

    def last_price(self, symbol: str) -> Decimal:
        ticker = self.call("fetch_ticker", symbol)
        return to_decimal(ticker.get("last") or ticker.get("close"))

    def find_order(self, order: Order) -> PlacedOrder | None:
        """The exchange's view of one of our orders, looked up by its client order id; None if unknown."""
        params = {"clientOrderId": order.client_order_id}
        if order.is_conditional:
            params["trigger"] = True
        try:
            found = self.call("fetch_order", None, order.symbol, params)
        except ExchangeRefused as exc:
            if isinstance(exc.__cause__, ccxt.OrderNotFound):
                return None
            raise
        return PlacedOrder.from_ccxt(found)

    def fetch_order_by_id(self, exchange_order_id: str, symbol: str, *, conditional: bool = False) -> dict | None:
        try:
            return self.call("fetch_order", exchange_order_id, symbol, {"trigger": True} if conditional else {})
        except ExchangeRefused as exc:
            if isinstance(exc.__cause__, ccxt.OrderNotFound):
                return None
            raise

    def open_orders(self) -> list[dict]:
        """Every open order of the account, plain and conditional (stops and take-profits)."""
        plain = self.call("fetch_open_orders")
        conditional = self.call("fetch_open_orders", None, None, None, {"trigger": True})
        return list(plain) + list(conditional)

    def positions(self) -> list[dict]:
        return [p for p in self.call("fetch_positions") if to_decimal(p.get("contracts"))]

    def trades(self, symbol: str, since_ms: int | None = None) -> list[dict]:
        return self.call("fetch_my_trades", symbol, since_ms)

    # --- writes -----------------------------------------------------------------------------------
    def prepare_market(self, symbol: str, leverage: int) -> None:
        """Isolated margin and the leverage for `symbol` (both are per-symbol settings on the exchange).

        What this process set is remembered for PREPARED_SECONDS per (cached client, symbol): margin mode
        is set once, leverage again only when a signal asks for another one."""
        key = (self.identity, symbol)
        now = time.monotonic()
        with _registry_lock:
            known = _prepared.get(key) if self.identity is not None else None
        fresh = known is not None and now - known[0] < PREPARED_SECONDS
        if fresh and known[1] == leverage:
            return
        if not fresh:
            try:
                self.call("set_margin_mode", "isolated", symbol)
            except ExchangeRefused as exc:
                if not isinstance(exc.__cause__, ccxt.MarginModeAlreadySet):
                    raise
        self.call("set_leverage", leverage, symbol)
        if self.identity is not None:
            with _registry_lock:
                _prepared[key] = (known[0] if fresh else now, leverage)

    def place(self, order: Order) -> PlacedOrder:
        """Place `order` exactly once, whatever the network does.

        Before a second attempt (a timeout or a dropped connection may have lost the answer to the first)
        the gateway asks for the order by its client id and returns it when the exchange has it; a
        "duplicate client id" refusal is answered the same way.
        """
        attempts = max(1, settings.TRADING_EXCHANGE_RETRIES)
        delay = settings.TRADING_EXCHANGE_RETRY_BASE_SECONDS
        last_error: Exception | None = None
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                try:
                    found = self.find_order(order)
                except ExchangeUnavailable as exc:
                    last_error = exc
                    continue
                if found is not None:
                    return found
            try:
                with self.lock:
                    created = self.api.create_order(order.symbol, "market", order.side, float(order.quantity), None,
                                                    self._order_params(order))
                return PlacedOrder.from_ccxt(created)
            except ccxt.NetworkError as exc:
                metrics.count("p2p_trading_exchange_errors_total", exchange=self.exchange.ccxt_id, kind="network")
                last_error = exc
                logger.info("placing %s: network error (attempt %s)", order.client_order_id, attempt)
                time.sleep(delay)
                delay *= 2
            except ccxt.InvalidOrder as exc:
                if "duplicate" in str(exc).lower():
                    found = self.find_order(order)
                    if found is not None:
                        return found
                metrics.count("p2p_trading_exchange_errors_total", exchange=self.exchange.ccxt_id, kind="refused")
                raise ExchangeRefused(_short(exc)) from exc
            except ccxt.BaseError as exc:
                metrics.count("p2p_trading_exchange_errors_total", exchange=self.exchange.ccxt_id, kind="refused")
                raise ExchangeRefused(_short(exc)) from exc
        found = self.find_order(order)  # one last look: the answer may have been lost every time
        if found is not None:
            return found
        raise ExchangeUnavailable(f"{self.exchange.name} did not answer: {last_error}")

    def _order_params(self, order: Order) -> dict:
        params: dict = {"clientOrderId": order.client_order_id}
        if order.reduce_only:
            params["reduceOnly"] = True
        if order.leg == OrderLeg.STOP_LOSS:
            params["stopLossPrice"] = float(order.trigger_price)
        elif order.leg == OrderLeg.TAKE_PROFIT:
            params["takeProfitPrice"] = float(order.trigger_price)
        return params

    def cancel(self, order: Order) -> None:
        """Cancel one of our orders; an order the exchange no longer has open counts as cancelled."""
        params = {"trigger": True} if order.is_conditional else {}
        try:
            self.call("cancel_order", order.exchange_order_id, order.symbol, params)
        except ExchangeRefused as exc:
            if isinstance(exc.__cause__, ccxt.OrderNotFound | ccxt.InvalidOrder):
                return
            raise

    def check_credentials(self) -> Decimal:
        """A real authenticated call (the balance); raises ExchangeRefused for a bad key."""
        return self.equity()


def _short(exc: Exception) -> str:
    return str(exc)[:450]


def gateway_for(account: TradingAccount) -> Gateway:
    """The gateway of `account`'s exchange, through its newest active credential (or the paper exchange)."""
    exchange = account.exchange
    if exchange is None:
        raise NoCredential("The account has no exchange.")
    if exchange.kind == ExchangeKind.PAPER:
        from trading.exchanges.paper import PaperExchange

        return Gateway(PaperExchange(account), threading.Lock(), exchange)
    credential = (ExchangeCredential.objects.filter(account=account, status="active")
                  .order_by("-created_at", "-id").first())
    if credential is None:
        raise NoCredential("The account has no active exchange API key.")
    api, lock = _client_for(exchange, credential)
    return Gateway(api, lock, exchange, identity=_client_key(exchange, credential))


def gateway_for_credential(exchange: Exchange, credential: ExchangeCredential) -> Gateway:
    """A one-off gateway for a credential being checked before it is saved (not cached)."""
    return Gateway(_new_ccxt_client(exchange, credential), threading.Lock(), exchange)
