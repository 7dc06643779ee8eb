"""Position sizing from risk, and leverage bounds: pure functions, no I/O (property-tested)."""

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from core.errors import DomainError


class SizingError(DomainError):
    """The risk rule gives no tradable quantity; `message` is the reason shown to the user."""

    code = "size_below_minimum"


@dataclass(frozen=True)
class MarketRules:
    """What the exchange allows on one market, as Decimals (ccxt gives floats; see exchanges.client)."""

    symbol: str
    amount_step: Decimal
    price_step: Decimal
    min_amount: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    max_leverage: int | None = None


def round_down(value: Decimal, step: Decimal) -> Decimal:
    """`value` rounded down to a whole number of `step`s (the exchange refuses anything finer)."""
    if step <= 0:
        return value
    return ((value / step).to_integral_value(rounding=ROUND_DOWN) * step).quantize(step)


def round_price(value: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return value
    return ((value / step).to_integral_value() * step).quantize(step)


def risk_to_qty(*, equity: Decimal, risk_percent: Decimal, entry: Decimal, stop: Decimal,
                market: MarketRules) -> Decimal:
    """Quantity whose loss at the stop is `risk_percent` % of `equity`: equity × risk ÷ |entry − stop|.

    Rounded *down* to the market's amount step, so the loss at the stop never exceeds the risk; refused
    (SizingError) when that is below the market's minimum amount or minimum notional, rather than
    rounding up and risking more than the user allowed.
    """
    if equity <= 0:
        raise SizingError("The account has no equity to risk.")
    distance = abs(entry - stop)
    if distance == 0:
        raise SizingError("The stop loss equals the entry price.", code="invalid_stop")
    raw = equity * (risk_percent / Decimal(100)) / distance
    quantity = round_down(raw, market.amount_step)
    if quantity <= 0 or quantity < market.min_amount:
        raise SizingError(f"Size {raw:.8f} is below the market minimum of {market.min_amount} {market.symbol}.")
    if quantity * entry < market.min_notional:
        raise SizingError(f"Order value {quantity * entry:.2f} is below the market minimum of "
                          f"{market.min_notional} for {market.symbol}.")
    return quantity


def clamp_leverage(requested: int | None, *, minimum: int, maximum: int) -> int:
    """The signal's leverage (or the minimum when it names none) kept within the user's [min, max]."""
    value = requested if requested is not None else minimum
    return max(minimum, min(maximum, value))
