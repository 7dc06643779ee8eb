"""risk_to_qty and leverage clamping as properties."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.services.sizing import MarketRules, SizingError, clamp_leverage, risk_to_qty, round_down

STEPS = st.sampled_from([Decimal("1"), Decimal("0.1"), Decimal("0.01"), Decimal("0.001"), Decimal("0.00001")])
PRICES = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=4)


@given(equity=st.decimals(min_value=Decimal("1"), max_value=Decimal("10000000"), places=2),
       risk=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10"), places=2),
       entry=PRICES, stop=PRICES, step=STEPS,
       min_notional=st.sampled_from([Decimal(0), Decimal(5), Decimal(100)]))
def test_the_size_never_risks_more_than_allowed_and_is_a_whole_number_of_steps(equity, risk, entry, stop, step,
                                                                                min_notional):
    market = MarketRules(symbol="X", amount_step=step, price_step=Decimal("0.0001"), min_amount=step,
                         min_notional=min_notional)
    try:
        quantity = risk_to_qty(equity=equity, risk_percent=risk, entry=entry, stop=stop, market=market)
    except SizingError:
        exact = equity * risk / 100 / abs(entry - stop) if entry != stop else Decimal(0)
        assert entry == stop or round_down(exact, step) < step or round_down(exact, step) * entry < min_notional
        return
    loss_at_stop = quantity * abs(entry - stop)
    assert loss_at_stop <= equity * risk / 100
    assert quantity % step == 0 and quantity >= step and quantity * entry >= min_notional
    assert (quantity + step) * abs(entry - stop) > equity * risk / 100  # rounded down by less than one step


def test_the_issue_example():
    market = MarketRules(symbol="BTC", amount_step=Decimal("0.001"), price_step=Decimal("0.1"),
                         min_amount=Decimal("0.001"), min_notional=Decimal("100"))
    assert risk_to_qty(equity=Decimal("10000"), risk_percent=Decimal("1"), entry=Decimal("60000"),
                       stop=Decimal("59000"), market=market) == Decimal("0.100")
    with pytest.raises(SizingError):
        risk_to_qty(equity=Decimal("10000"), risk_percent=Decimal("1"), entry=Decimal("60000"),
                    stop=Decimal("60000"), market=market)


@given(requested=st.one_of(st.none(), st.integers(min_value=1, max_value=500)),
       low=st.integers(min_value=1, max_value=50), span=st.integers(min_value=0, max_value=100))
def test_leverage_is_clamped_into_the_bounds(requested, low, span):
    value = clamp_leverage(requested, minimum=low, maximum=low + span)
    assert low <= value <= low + span
    if requested is not None and low <= requested <= low + span:
        assert value == requested
