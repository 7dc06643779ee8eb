"""A follower's copy options applied to a master's trade: its own symbol, side, lots and stops.

Pure functions over a `CopySettings` row (saved or a default one), so routing, catch-up and the tests use
the very same rules.
"""

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from trading.models import CopySettings, LotMode

DEFAULT_SETTINGS = CopySettings()


@dataclass(frozen=True, slots=True)
class FollowerOrder:
    symbol: str
    side: str
    lots: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str
    filtered: bool = False  # by the allow/block lists: nothing is stored for the follower at all


def symbol_allowed(options: CopySettings, master_symbol: str) -> str | None:
    """None when the symbol is copied, else why not."""
    if master_symbol in (options.blocked_symbols or []):
        return f"{master_symbol} is on the block list"
    allowed = options.allowed_symbols or []
    if allowed and master_symbol not in allowed:
        return f"{master_symbol} is not on the allow list"
    return None


def map_symbol(options: CopySettings, master_symbol: str) -> str:
    mapped = (options.symbol_map or {}).get(master_symbol)
    if isinstance(mapped, str) and mapped:
        return mapped
    return f"{options.symbol_prefix}{master_symbol}{options.symbol_suffix}"


def map_side(options: CopySettings, side: str) -> str:
    if not options.reverse:
        return side
    return "SELL" if side == "BUY" else "BUY"


def map_stops(options: CopySettings, stop_loss, take_profit) -> tuple:
    """Reversed, the master's stop is where the copy takes profit and the other way round."""
    return (take_profit, stop_loss) if options.reverse else (stop_loss, take_profit)


def round_lots(options: CopySettings, lots: Decimal) -> Decimal:
    step = Decimal(options.lot_step) if options.lot_step else Decimal("0.01")
    return (lots / step).to_integral_value(rounding=ROUND_DOWN) * step


def follower_lots(options: CopySettings, *, master_lots: Decimal, follower_equity: Decimal | None,
                  master_equity: Decimal | None) -> Decimal | Skip:
    value = Decimal(options.lot_value)
    if options.lot_mode == LotMode.FIXED:
        lots = value
    elif options.lot_mode == LotMode.EQUITY_RATIO:
        if not follower_equity or not master_equity or follower_equity <= 0 or master_equity <= 0:
            return Skip("equity ratio: no equity heartbeat yet from the master or the follower")
        lots = master_lots * follower_equity / master_equity * value
    else:
        lots = master_lots * value
    lots = min(round_lots(options, lots), Decimal(options.max_lots))
    if lots <= 0 or lots < Decimal(options.min_lots):
        return Skip(f"{lots} lots is below the minimum of {options.min_lots}")
    return lots


def follower_open(options: CopySettings, *, symbol: str, side: str, lots: Decimal, stop_loss, take_profit,
                  follower_equity: Decimal | None, master_equity: Decimal | None) -> FollowerOrder | Skip:
    """What the follower opens for a master's OPEN, or why it copies nothing."""
    refused = symbol_allowed(options, symbol)
    if refused:
        return Skip(refused, filtered=True)
    copy_lots = follower_lots(options, master_lots=lots, follower_equity=follower_equity,
                              master_equity=master_equity)
    if isinstance(copy_lots, Skip):
        return copy_lots
    sl, tp = map_stops(options, stop_loss, take_profit)
    return FollowerOrder(map_symbol(options, symbol), map_side(options, side), copy_lots, sl, tp)
