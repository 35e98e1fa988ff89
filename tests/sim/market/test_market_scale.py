"""A SPY-sized chain end to end (a smoke test of speed; timings live in bench/, not here)."""

from __future__ import annotations

from conftest import AFTER_CLOSE, DAY
from opt_data.sim.market import Market


def test_a_full_spy_chain_prices_with_sane_values() -> None:
    market = Market(seed=4)
    chain = market.options("SPY", DAY)
    assert len(chain) > 5000
    states = [market.option_state(o, AFTER_CLOSE) for o in chain[:5000]]
    ivs = [s.model_greeks.implied_vol for s in states]
    assert all(iv is not None and 0.03 < iv < 3.0 for iv in ivs)
    assert all(s.open_interest >= 0 and s.quote.volume >= 0 for s in states)
    deltas = [(o.right, s.model_greeks.delta) for o, s in zip(chain, states, strict=False)]
    assert all(d is not None and (0 <= d <= 1 if r == "C" else -1 <= d <= 0) for r, d in deltas)
