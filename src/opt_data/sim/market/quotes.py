"""What IB would stream for a stock or an option at a moment: quotes, Greeks, OI, volume.

Option quotes sit around the BSM model price (see ``pricing.quote_levels``); bid/ask
Greeks carry the volatility implied by the bid or ask price (None where no volatility
reproduces it, as for a zero bid); the day's trades come from ``activity`` and give last,
volume and open/high/low; ``close`` is the previous session's closing mark and open
interest is as of the previous session's close, as IB reports them.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from opt_data.sim.instruments import Greeks, OptionState, Quote, StockState
from opt_data.sim.market import activity, bsm, rand, surface
from opt_data.sim.market.chains import Contract, Universe
from opt_data.sim.market.lru import Lru
from opt_data.sim.market.paths import realised_vol, volume_profile
from opt_data.sim.market.pricing import (
    Inputs,
    Moment,
    Pricer,
    quote_levels,
    spread_width,
    tick_for,
    to_tick,
)
from opt_data.sim.market.underlyings import Underlying

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

IV_YEARS = 30.0 / 365.0  # IB's implied volatility of the underlying is a 30-day one


@dataclass(frozen=True, slots=True)
class _Totals:
    """Option open interest (previous close) and full-day volume of an underlying's chain."""

    call_oi: int
    put_oi: int
    call_volume: int
    put_volume: int


@dataclass(frozen=True, slots=True)
class DayTrades:
    """A contract's trades of one session with their prices."""

    minutes: tuple[int, ...]  # sorted
    sizes: tuple[int, ...]
    prices: tuple[float, ...]


class Quoter:
    """Builds ``OptionState`` and ``StockState`` values."""

    def __init__(self, pricer: Pricer, universe: Universe) -> None:
        self._pricer = pricer
        self._universe = universe
        self._seed = pricer.seed
        self._totals: Lru[tuple[str, int], _Totals] = Lru(256)
        # Streams ask about the same contracts minute after minute: keep their day's trades.
        self._trades: Lru[tuple[int, int], DayTrades] = Lru(16384)

    def day_trades(self, c: Contract, session: int) -> DayTrades:
        """The trades of ``c`` in ``session``, priced at the bid, the ask or the mid."""
        return self._trades.get((c.inst.con_id, session), lambda: self._day_trades(c, session))

    def _day_trades(self, c: Contract, session: int) -> DayTrades:
        path = self._pricer.daily(c.series.underlying)
        total = activity.volume(self._seed, c, session, path, activity.peak(self._seed, c))
        tr = activity.trades(self._seed, c, session, self._pricer.sessions.minutes(session), total)
        if not tr.minutes:
            return DayTrades((), (), ())
        model, t = self._pricer.model_prices(c, session, np.array(tr.minutes, dtype=np.int64))
        # Inside the quote: model ± half the width lies within [bid, ask] after rounding.
        prices = tuple(
            max(tick_for(c, p), to_tick(c, p + (side - 0.5) * spread_width(c, p, tt)))
            for p, tt, side in zip(model.tolist(), t.tolist(), tr.sides, strict=True)
        )
        return DayTrades(tr.minutes, tr.sizes, prices)

    def closing_mark(self, c: Contract, session: int) -> float | None:
        """Mid of the closing quote of ``session`` (None if the strike was not listed yet)."""
        if session < c.first_index or session > c.series.expiry.index:
            return None
        x = self._pricer.inputs(c, self._pricer.close_moment(session))
        bid, ask = quote_levels(c, self._pricer.model_price(x), x.t)
        return round((bid + ask) / 2, 2)

    def option_state(self, c: Contract, m: Moment) -> OptionState:
        x = self._pricer.inputs(c, m)
        g = bsm.greeks(x.is_call, x.spot, x.strike, x.t, x.r, x.q, x.sigma)
        bid, ask = quote_levels(c, g.price, x.t)
        key = (c.key, m.session, m.minute)
        w = math.log(x.strike / x.spot) / (x.sigma * math.sqrt(x.t))
        depth = 5.0 + 60.0 * math.exp(-0.5 * w * w) / c.series.underlying.liquidity
        bid_size = 0 if bid <= 0 else 1 + int(depth * 2 * rand.unit(self._seed, "bsz", *key))
        ask_size = 1 + int(depth * 2 * rand.unit(self._seed, "asz", *key))

        day = self.day_trades(c, m.session)
        seen = bisect_left(day.minutes, m.minute)  # a trade shows from the minute after it
        prices, sizes = day.prices[:seen], day.sizes[:seen]
        traded = seen > 0
        last = prices[-1] if traded else None
        quote = Quote(
            bid=bid,
            ask=ask,
            bid_size=bid_size,
            ask_size=ask_size,
            last=last,
            last_size=sizes[-1] if traded else 0,
            volume=sum(sizes),
            open=prices[0] if traded else None,
            high=max(prices) if traded else None,
            low=min(prices) if traded else None,
            close=self.closing_mark(c, m.session - 1),
        )
        model = Greeks(x.sigma, g.delta, g.price, g.pv_dividend, g.gamma, g.vega, g.theta, x.spot)
        path = self._pricer.daily(c.series.underlying)
        top = activity.peak(self._seed, c)
        return OptionState(
            quote=quote,
            bid_greeks=_greeks_at_price(x, bid, g.pv_dividend),
            ask_greeks=_greeks_at_price(x, ask, g.pv_dividend),
            last_greeks=_greeks_at_price(x, last, g.pv_dividend),
            model_greeks=model,
            open_interest=activity.open_interest(c, m.session - 1, path, top),
        )

    def stock_state(self, u: Underlying, m: Moment) -> StockState:
        p = self._pricer
        path = p.daily(u)
        i = m.session
        spot = p.spot(u, m)
        key = (u.symbol, i, m.minute)
        minute_prices = p.minute_prices(u, i)[: m.minute + 1]
        if u.sec_type == "IND":  # indices have no quotes or volume, only index values
            bid = ask = None
            bid_size = ask_size = last_size = volume = 0
        else:
            spread = max(1, round(2 * u.liquidity * rand.unit(self._seed, "spr", *key) + 0.5))
            bid = round(spot - 0.01 * (spread // 2), 2)
            ask = round(bid + 0.01 * spread, 2)
            bid_size = 100 * (1 + int(20 * rand.unit(self._seed, "bsz", *key)))
            ask_size = 100 * (1 + int(20 * rand.unit(self._seed, "asz", *key)))
            last_size = 100 * (1 + int(5 * rand.unit(self._seed, "lsz", *key)))
            volume = int(round(float(path.volumes[i]) * float(volume_profile(m.frac)), -2))
        quote = Quote(
            bid=bid,
            ask=ask,
            bid_size=bid_size,
            ask_size=ask_size,
            last=spot,
            last_size=last_size,
            volume=volume,
            open=float(path.opens[i]),
            high=float(minute_prices.max()),
            low=float(minute_prices.min()),
            close=float(path.closes[i - 1]) if i > 0 else None,
        )
        hist_vol = float(realised_vol(path, i, np.array([spot]))[0])
        regime = float(p.regime(u, i, m.frac))
        totals = self._totals.get((u.symbol, i), lambda: self._chain_totals(u, i))
        share = float(volume_profile(m.frac))
        return StockState(
            quote=quote,
            hist_vol=hist_vol,
            implied_vol=surface.atm_vol(u, regime, IV_YEARS),
            call_open_interest=totals.call_oi,
            put_open_interest=totals.put_oi,
            call_volume=int(totals.call_volume * share),
            put_volume=int(totals.put_volume * share),
        )

    def _chain_totals(self, u: Underlying, session: int) -> _Totals:
        path = self._pricer.daily(u)
        oi = {"C": 0, "P": 0}
        vol = {"C": 0, "P": 0}
        for c in self._universe.listed(u, session):
            top = activity.peak(self._seed, c)
            oi[c.inst.right] += activity.open_interest(c, session - 1, path, top)
            vol[c.inst.right] += activity.volume(self._seed, c, session, path, top)
        return _Totals(oi["C"], oi["P"], vol["C"], vol["P"])


def _greeks_at_price(x: Inputs, price: float | None, pv_dividend: float) -> Greeks:
    """Greeks at the volatility implied by ``price`` (IB's bid/ask/last computations)."""
    if price is None or price <= 0:
        return Greeks(None, None, None, None, None, None, None, None)
    iv = bsm.implied_vol(x.is_call, price, x.spot, x.strike, x.t, x.r, x.q, guess=x.sigma)
    if iv is None:
        return Greeks(None, None, price, pv_dividend, None, None, None, x.spot)
    g = bsm.greeks(x.is_call, x.spot, x.strike, x.t, x.r, x.q, iv)
    return Greeks(iv, g.delta, price, pv_dividend, g.gamma, g.vega, g.theta, x.spot)
