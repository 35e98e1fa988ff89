"""The deterministic simulated option market: ``Market`` and ``MarketDataError``.

Pure, no I/O: the gateway (``opt_data.sim.server``) asks it what IB would answer and
puts that on the wire. See ``market.Market`` for the API.
"""

from opt_data.sim.market.errors import MarketDataError
from opt_data.sim.market.market import EXPIRED_MEMORY_DAYS, Market
from opt_data.sim.market.underlyings import DEFAULT_SYMBOLS

__all__ = ["DEFAULT_SYMBOLS", "EXPIRED_MEMORY_DAYS", "Market", "MarketDataError"]
