"""Value types the simulated market hands to the protocol layer.

The market (``market``) knows prices; the gateway (``server``) knows the wire. These frozen
records are the only things that cross between them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Instrument:
    """A listed stock or option, with every field IB's contractData message carries."""

    con_id: int
    symbol: str  # underlying symbol as IB spells it ("BRK B")
    sec_type: str  # "STK" | "OPT"
    expiry: dt.date | None  # last trade date; None for stocks
    strike: float  # 0.0 for stocks
    right: str  # "C" | "P" | "" for stocks
    multiplier: int  # 100 for standard options, 1 for stocks
    exchange: str  # "SMART"
    primary_exchange: str  # "NASDAQ", "NYSE", "ARCA", "CBOE"...
    currency: str  # "USD"
    local_symbol: str  # OCC 21-char symbol for options ("SPY   240119C00500000")
    trading_class: str  # "SPY", "SPXW", adjusted classes like "AAPL1"
    long_name: str  # ASCII only
    min_tick: float
    nonstandard: bool  # adjusted deliverable (multiplier or deliverable differs)
    under_con_id: int  # 0 for stocks


@dataclass(frozen=True, slots=True)
class ChainParams:
    """One secDefOptParameter message: expiries and the *union* of strikes of a class."""

    exchange: str
    underlying_con_id: int
    trading_class: str
    multiplier: int
    expirations: tuple[str, ...]  # "YYYYMMDD"
    strikes: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Greeks:
    """One tickOptionComputation; None is sent as IB's "not computed" sentinel."""

    implied_vol: float | None
    delta: float | None
    opt_price: float | None
    pv_dividend: float | None
    gamma: float | None
    vega: float | None
    theta: float | None
    und_price: float | None


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book and day statistics of one instrument at one instant."""

    bid: float | None
    ask: float | None
    bid_size: int
    ask_size: int
    last: float | None
    last_size: int
    volume: int
    open: float | None
    high: float | None
    low: float | None
    close: float | None  # the *previous* session's close, as IB's close tick means


@dataclass(frozen=True, slots=True)
class OptionState:
    """What IB would stream for an option: quote, greeks per source, open interest."""

    quote: Quote
    bid_greeks: Greeks
    ask_greeks: Greeks
    last_greeks: Greeks
    model_greeks: Greeks
    open_interest: int  # as of the previous session's close


@dataclass(frozen=True, slots=True)
class StockState:
    """What IB would stream for a stock, including generic ticks 100/101/104/106."""

    quote: Quote
    hist_vol: float  # 30-day historical volatility (tick 23)
    implied_vol: float  # 30-day at-market implied volatility (tick 24)
    call_open_interest: int
    put_open_interest: int
    call_volume: int
    put_volume: int


@dataclass(frozen=True, slots=True)
class Bar:
    """One historical bar. ``start`` is a date for daily bars, an aware datetime otherwise."""

    start: dt.date | dt.datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    count: int
