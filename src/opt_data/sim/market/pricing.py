"""Where a request falls in time, and what the model says at that moment.

A ``Moment`` is a session plus a minute of it: inside a session values move minute by
minute; outside (after the close, overnight, weekends) the market is frozen at the close
of the last session, which is what IB's frozen data shows. ``Pricer`` turns a contract and
a moment into spot, time to expiry, rate, volatility and model price, for one minute or
for many at once (trades, history bars).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from opt_data.sim.market import bsm, paths, surface
from opt_data.sim.market.calendar import Sessions, aware
from opt_data.sim.market.chains import Contract
from opt_data.sim.market.lru import Lru
from opt_data.sim.market.underlyings import TICKS, Underlying

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

YEAR_SECONDS = 365.0 * 86400.0
_MIN_T_SECONDS = 60.0  # an option at its expiry instant still prices as one minute to go


@dataclass(frozen=True, slots=True)
class Moment:
    """A session index and the minute of it whose values a request sees."""

    session: int
    minute: int  # 0..minutes; == minutes (the close) when the market is not open
    minutes: int  # length of the session
    live: bool

    @property
    def frac(self) -> float:
        return self.minute / self.minutes


@dataclass(frozen=True, slots=True)
class Inputs:
    """BSM inputs of one option at one moment."""

    spot: float
    t: float
    r: float
    q: float
    sigma: float
    is_call: bool
    strike: float


class Pricer:
    """Spot paths and model values for one market (caches paths per symbol and session)."""

    def __init__(self, seed: int, sessions: Sessions) -> None:
        self.seed = seed
        self.sessions = sessions
        # Bounded so a 500-symbol universe does not keep 500 twenty-year paths (~250 kB each).
        self._daily: Lru[str, paths.DailyPath] = Lru(256)
        self._minutes: Lru[tuple[str, int], FloatArray] = Lru(2048)
        self._rates: dict[int, float] = {}

    def moment(self, at: dt.datetime) -> Moment:
        ts = aware(at).timestamp()
        s = self.sessions
        i = s.index_on_or_before(aware(at).date())
        if ts < s.open_ts(i):
            i -= 1  # before today's open: yesterday's values
            if i < 0:
                raise ValueError(f"{at} is before the simulated calendar's first session")
        n = s.minutes(i)
        live = s.open_ts(i) <= ts < s.close_ts(i)
        minute = int((ts - s.open_ts(i)) // 60) if live else n
        return Moment(i, minute, n, live)

    def close_moment(self, session: int) -> Moment:
        n = self.sessions.minutes(session)
        return Moment(session, n, n, False)

    def daily(self, u: Underlying) -> paths.DailyPath:
        return self._daily.get(u.symbol, lambda: paths.daily_path(self.seed, u, self.sessions))

    def minute_prices(self, u: Underlying, session: int) -> FloatArray:
        return self._minutes.get(
            (u.symbol, session),
            lambda: paths.minute_path(self.seed, u, self.sessions, self.daily(u), session),
        )

    def spot(self, u: Underlying, m: Moment) -> float:
        if m.minute >= m.minutes:
            return float(self.daily(u).closes[m.session])
        return float(self.minute_prices(u, m.session)[m.minute])

    def regime(self, u: Underlying, session: int, frac: float | FloatArray) -> float | FloatArray:
        """Volatility regime, moving from yesterday's close level to today's during the day."""
        vols = self.daily(u).vols
        today = float(vols[session])
        prev = float(vols[session - 1]) if session > 0 else today
        return prev + (today - prev) * frac

    def rate(self, session: int) -> float:
        r = self._rates.get(session)
        if r is None:
            r = self._rates[session] = surface.rate(self.sessions.date(session))
        return r

    def expiry_ts(self, c: Contract) -> int:
        e = c.series.expiry.index
        return self.sessions.open_ts(e) if c.series.cls.am_settled else self.sessions.close_ts(e)

    def inputs(self, c: Contract, m: Moment) -> Inputs:
        u = c.series.underlying
        eval_ts = self.sessions.open_ts(m.session) + 60 * m.minute
        t = max(self.expiry_ts(c) - eval_ts, _MIN_T_SECONDS) / YEAR_SECONDS
        s, r = self.spot(u, m), self.rate(m.session)
        regime = float(self.regime(u, m.session, m.frac))
        k = c.inst.strike
        sigma = surface.smile_vol(u, regime, s, k, t, r)
        return Inputs(s, t, r, u.div_yield, sigma, c.inst.right == "C", k)

    def model_price(self, x: Inputs) -> float:
        return bsm.price(x.is_call, x.spot, x.strike, x.t, x.r, x.q, x.sigma)

    def model_prices(
        self, c: Contract, session: int, minutes: IntArray
    ) -> tuple[FloatArray, FloatArray]:
        """Model prices and times to expiry of ``c`` at the given minutes of ``session``."""
        u = c.series.underlying
        n = self.sessions.minutes(session)
        spots = self.minute_prices(u, session)[minutes]
        eval_ts = self.sessions.open_ts(session) + 60.0 * minutes
        t = np.maximum(self.expiry_ts(c) - eval_ts, _MIN_T_SECONDS) / YEAR_SECONDS
        r = self.rate(session)
        regime = np.asarray(self.regime(u, session, minutes / n), dtype=np.float64)
        sigma = surface.smile_vol_array(u, regime, spots, c.inst.strike, t, r)
        prices = bsm.price_array(
            c.inst.right == "C", spots, c.inst.strike, t, r, u.div_yield, sigma
        )
        return prices, t


def tick_for(c: Contract, price: float) -> float:
    """Minimum price increment at a price level (penny/nickel schemes split at $3)."""
    below, above = TICKS[c.series.cls.ticks]
    return below if price < 3.0 else above


def to_tick(c: Contract, price: float) -> float:
    """``price`` rounded to the nearest tick of its level."""
    tick = tick_for(c, price)
    return round(round(price / tick) * tick, 2)


def spread_width(c: Contract, model: float, t: float) -> float:
    """Quoted width before tick rounding: grows with price and time, triples if adjusted."""
    width = c.series.underlying.liquidity * (0.02 + 0.008 * model) * (1.0 + 0.5 * t)
    return width * 3.0 if c.series.cls.nonstandard else width


def quote_levels(c: Contract, model: float, t: float) -> tuple[float, float]:
    """Bid and ask around a model price: wider for pricey, long-dated and adjusted contracts.

    The bid is rounded down and the ask up to the tick, so bid ≤ model ≤ ask always; a bid
    that would be below one tick is 0 (nobody bids for a worthless option).
    """
    width = spread_width(c, model, t)
    raw_bid = model - width / 2
    tick = tick_for(c, raw_bid)
    bid = math.floor(raw_bid / tick + 1e-9) * tick
    if bid < tick:
        bid = 0.0
    raw_ask = model + width / 2
    tick = tick_for(c, raw_ask)
    ask = max(math.ceil(raw_ask / tick - 1e-9) * tick, bid + tick_for(c, bid))
    return round(bid, 2), round(ask, 2)
