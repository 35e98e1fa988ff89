"""Same seed, same answers: in any call order, across instances and across processes."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys

import pytest

from conftest import AFTER_CLOSE, DAY, MIDDAY
from opt_data.sim.market import Market

PROBE = """
import datetime as dt, hashlib
from zoneinfo import ZoneInfo
from opt_data.sim.market import Market
m = Market(seed=11)
at = dt.datetime(2024, 3, 28, 11, 15, tzinfo=ZoneInfo("America/New_York"))
opts = m.options("AAPL", dt.date(2024, 3, 28))[::37]
text = repr([(o, m.option_state(o, at)) for o in opts])
print(hashlib.sha256(text.encode()).hexdigest())
"""


def _fingerprint(market: Market, symbol: str = "AAPL") -> str:
    opts = market.options(symbol, DAY)[::37]
    text = repr([(o, market.option_state(o, MIDDAY)) for o in opts])
    return hashlib.sha256(text.encode()).hexdigest()


def test_same_seed_gives_identical_answers_in_any_call_order() -> None:
    a, b = Market(seed=11), Market(seed=11)
    b.bars(b.stock("AAPL"), end=AFTER_CLOSE, duration="1 M", bar_size="1 day",  # type: ignore[arg-type]
           what_to_show="TRADES", use_rth=True)  # fmt: skip
    later = b.options("AAPL", dt.date(2024, 6, 3))
    assert _fingerprint(a) == _fingerprint(b)
    assert a.options("AAPL", dt.date(2024, 6, 3)) == later
    assert a.chain_params("JPM", DAY) == b.chain_params("JPM", DAY)
    o = later[100]
    assert a.instrument(o.con_id) == b.instrument(o.con_id) == o


def test_different_seeds_give_different_markets() -> None:
    a, b = Market(seed=1), Market(seed=2)
    spy_a, spy_b = a.stock("SPY"), b.stock("SPY")
    assert spy_a == spy_b  # reference data does not depend on the seed
    assert spy_a is not None and spy_b is not None
    assert (
        a.stock_state(spy_a, AFTER_CLOSE).quote.last != b.stock_state(spy_b, AFTER_CLOSE).quote.last
    )
    assert _fingerprint(a) != _fingerprint(b)


def test_prices_are_anchored_on_the_anchor_date_for_every_seed() -> None:
    anchor = dt.datetime(2024, 1, 2, 17, tzinfo=AFTER_CLOSE.tzinfo)
    for seed in (0, 1, 99):
        m = Market(seed=seed)
        for symbol, close in (("SPY", 472.65), ("SPX", 4742.83)):
            stock = m.stock(symbol)
            assert stock is not None
            bars = m.bars(stock, end=anchor, duration="1 D", bar_size="1 day",
                          what_to_show="TRADES", use_rth=True)  # fmt: skip
            assert bars[-1].close == close


@pytest.mark.slow
def test_a_fresh_process_computes_the_same_values() -> None:
    """No dependence on PYTHONHASHSEED or on what ran before in this process."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        timeout=60,
    )
    assert out.stdout.strip() == _fingerprint(Market(seed=11))
