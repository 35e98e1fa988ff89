"""The deterministic simulated option market: ``Market`` and ``MarketDataError``.

Pure, no I/O: the gateway (``opt_data.sim.server``) asks it what IB would answer and puts
that on the wire. Every answer is a function of the seed, the symbols and the arguments::

    market = Market(seed=0)                      # DEFAULT_SYMBOLS: SPY, QQQ, SPX, AAPL, ...
    day = market.session_of(now)                 # the session ``now`` sees
    chain = market.options("SPY", day, expiry=dt.date(2024, 4, 19))
    state = market.option_state(chain[0], now)   # quote, greeks per source, open interest
    bars = market.bars(chain[0], end=now, duration="5 D", bar_size="8 hours",
                       what_to_show="MIDPOINT", use_rth=True, now=now)

Requests IB refuses raise ``MarketDataError(code, text)`` with IB's code and text.
"""

from opt_data.sim.market.errors import MarketDataError
from opt_data.sim.market.market import EXPIRED_MEMORY_DAYS, Market
from opt_data.sim.market.underlyings import DEFAULT_SYMBOLS

__all__ = ["DEFAULT_SYMBOLS", "EXPIRED_MEMORY_DAYS", "Market", "MarketDataError"]
