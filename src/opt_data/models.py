"""Collector-side value objects: what the IB adapter hands to the jobs.

They hold plain Python types only, so nothing above ``opt_data.ib`` ever touches an
ib_insync / ib_async object.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Underlying:
    """A qualified stock or index the options are written on."""

    symbol: str  # the user's symbol (BRK.B)
    ib_symbol: str  # IB's spelling (BRK B)
    con_id: int
    sec_type: str  # STK | IND
    exchange: str
    primary_exchange: str
    currency: str


@dataclass(frozen=True, slots=True)
class ChainParams:
    """Expiries and the union of strikes IB lists for one exchange and trading class."""

    exchange: str
    trading_class: str
    multiplier: int
    expirations: tuple[dt.date, ...]
    strikes: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class OptionContract:
    """One listed option as IB's contract details describe it."""

    con_id: int
    symbol: str  # IB underlying symbol
    local_symbol: str  # OCC symbol
    trading_class: str
    exchange: str
    currency: str
    multiplier: int
    expiration: dt.date
    strike: float
    right: str  # C | P
    nonstandard: bool


@dataclass(frozen=True, slots=True)
class Greeks:
    """One option computation; None where IB sent its "not computed" sentinel."""

    implied_vol: float | None
    delta: float | None
    gamma: float | None
    vega: float | None
    theta: float | None
    opt_price: float | None
    pv_dividend: float | None
    und_price: float | None


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """The fields one streaming request delivered before it was complete or timed out.

    Prices and sizes are exactly as received (IB's −1 "no price" is kept here; the clean
    dataset turns it into NULL with a reason flag).
    """

    con_id: int
    received_at: dt.datetime
    market_data_type: int
    bid: float | None
    ask: float | None
    bid_size: float | None
    ask_size: float | None
    last: float | None
    last_size: float | None
    volume: float | None
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    call_open_interest: float | None
    put_open_interest: float | None
    hist_vol: float | None
    implied_vol: float | None
    bid_greeks: Greeks | None
    ask_greeks: Greeks | None
    last_greeks: Greeks | None
    model_greeks: Greeks | None
    complete: bool
    errors: tuple[str, ...] = field(default=())
