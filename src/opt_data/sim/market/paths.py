"""Price paths of an underlying: one close per XNYS session, and minutes inside a session.

The daily path is a log-price that reverts slowly to a drifting trend line (so twenty years
of simulation stay at plausible levels), driven by a volatility regime that mean-reverts
in logs and rises when prices fall (leverage effect). Shocks load on a common market
factor with the underlying's ``beta``, so names move together (SPY and SPX, with beta 1,
move exactly together). It is pinned so that the close on
``ANCHOR_DATE`` equals the underlying's anchor. A session's minutes are a Brownian bridge
from its open to its close, so intraday values always end exactly at the daily close.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from opt_data.sim.market import rand
from opt_data.sim.market.calendar import Sessions
from opt_data.sim.market.underlyings import ANCHOR_DATE, Underlying

FloatArray = npt.NDArray[np.float64]

TRADING_DAYS = 252.0
_VOL_PERSISTENCE = 0.985  # daily AR(1) coefficient of log-volatility
_VOL_OF_VOL = 0.055  # daily shock to log-volatility
_LEVERAGE = -0.7  # correlation of price and volatility shocks
_PRICE_REVERSION = 0.997  # daily AR(1) coefficient of the log-price deviation from trend
_REALISED_TO_IMPLIED = 0.9  # realised vol sits below implied (variance risk premium)
_MARKET = "\x00market"  # key of the common factor's draws (no symbol can be spelled so)


@dataclass(frozen=True, slots=True)
class DailyPath:
    """Per-session arrays, indexed like ``Sessions``."""

    opens: FloatArray
    closes: FloatArray
    vols: FloatArray  # regime at-the-money implied volatility at the close
    volumes: FloatArray  # shares traded in the session
    close_cumsum: FloatArray  # prefix sums of closes, for running means in O(1)

    def mean_close(self, first: int, last: int) -> float:
        """Mean close over sessions ``first..last`` inclusive."""
        total = self.close_cumsum[last] - (self.close_cumsum[first - 1] if first > 0 else 0.0)
        return float(total / (last - first + 1))


def daily_path(seed: int, u: Underlying, sessions: Sessions) -> DailyPath:
    """The whole daily path of ``u`` over the simulated calendar (a few ms; cache it)."""
    n = len(sessions)
    market = rand.generator(seed, "daily-path", _MARKET)
    own = rand.generator(seed, "daily-path", u.symbol)
    z_price, z_vol, z_gap = (_mix(u.beta, market, own, n) for _ in range(3))
    z_vol = _LEVERAGE * z_price + math.sqrt(1 - _LEVERAGE**2) * z_vol
    z_volume = own.standard_normal(n)

    log_vol_dev = np.empty(n)
    price_dev = np.empty(n)
    x = y = 0.0
    for i in range(n):  # a recursion: numpy has no vectorised AR(1) filter without scipy
        x = _VOL_PERSISTENCE * x + _VOL_OF_VOL * z_vol[i]
        log_vol_dev[i] = x
        sigma_day = u.base_vol * math.exp(x) * _REALISED_TO_IMPLIED / math.sqrt(TRADING_DAYS)
        y = _PRICE_REVERSION * y + sigma_day * z_price[i]
        price_dev[i] = y
    vols = np.clip(u.base_vol * np.exp(log_vol_dev), 0.6 * u.base_vol, 4.0 * u.base_vol)

    anchor_i = sessions.index_on_or_before(ANCHOR_DATE)
    years = (np.arange(n) - anchor_i) / TRADING_DAYS
    log_close = math.log(u.anchor) + u.drift * years + price_dev - price_dev[anchor_i]
    closes = np.round(np.exp(log_close), 2)

    gap_sd = 0.3 * vols * _REALISED_TO_IMPLIED / math.sqrt(TRADING_DAYS)
    prev = np.concatenate(([closes[0]], closes[:-1]))
    opens = np.round(prev * np.exp(gap_sd * z_gap), 2)
    volumes = np.round(u.share_volume * (vols / u.base_vol) * np.exp(0.35 * z_volume - 0.06), -2)
    return DailyPath(opens, closes, vols, volumes, np.cumsum(closes))


def _mix(beta: float, market: np.random.Generator, own: np.random.Generator, n: int) -> FloatArray:
    """Standard normals with correlation ``beta`` to the market factor's."""
    common = market.standard_normal(n)
    if beta >= 1.0:
        return common
    return beta * common + math.sqrt(1.0 - beta * beta) * own.standard_normal(n)


def minute_path(
    seed: int, u: Underlying, sessions: Sessions, path: DailyPath, i: int
) -> FloatArray:
    """Prices at each minute boundary of session ``i``: ``[open, ..., close]`` (n+1 points)."""
    n = sessions.minutes(i)
    market = rand.generator(seed, "minute-path", _MARKET, sessions.ordinal(i))
    own = rand.generator(seed, "minute-path", u.symbol, sessions.ordinal(i))
    sd = float(path.vols[i]) * _REALISED_TO_IMPLIED / math.sqrt(TRADING_DAYS * n)
    walk = np.concatenate(([0.0], np.cumsum(sd * _mix(u.beta, market, own, n))))
    frac = np.arange(n + 1) / n
    bridge = walk - frac * walk[-1]
    log_open, log_close = math.log(path.opens[i]), math.log(path.closes[i])
    log_prices = log_open + frac * (log_close - log_open) + bridge
    prices: FloatArray = np.round(np.exp(log_prices), 2)
    prices[0], prices[-1] = path.opens[i], path.closes[i]
    return prices


def volume_profile(frac: FloatArray | float) -> FloatArray | float:
    """Cumulative share of a day's volume traded by fraction ``frac`` of the session.

    U-shaped intensity (busy open and close, quiet lunch): derivative 2.2 at both ends and
    0.4 at mid-session; 0 at the open and exactly 1 at the close.
    """
    centred = 2.0 * np.asarray(frac) - 1.0
    result = 0.3 * (1.0 + centred**3) + 0.4 * np.asarray(frac)
    if isinstance(frac, float):
        return float(result)
    return np.asarray(result, dtype=np.float64)


HV_WINDOW = 21  # sessions in IB's "30-day" historical volatility


def realised_vol(path: DailyPath, session: int, spots: FloatArray) -> FloatArray:
    """30-day historical volatility at ``session`` if the session's price were each of ``spots``.

    Uses the closes of the previous ``HV_WINDOW`` sessions and the current price, annualised.
    """
    closes = path.closes[max(session - HV_WINDOW, 0) : session]
    if len(closes) < 2:
        return np.zeros(len(spots))
    returns = np.diff(np.log(closes))
    last = np.log(spots / closes[-1])
    n = len(returns) + 1
    total = returns.sum() + last
    squares = (returns**2).sum() + last**2
    variance = np.maximum(squares - total**2 / n, 0.0) / (n - 1)
    return np.asarray(np.sqrt(variance * TRADING_DAYS), dtype=np.float64)
