"""Interest rates and the implied-volatility surface of an underlying.

The surface is at-the-money level × term structure × smile. The short end follows the
day's volatility regime and the long end the underlying's long-run level, so curves are
upward sloping in calm markets and inverted after a sell-off. The smile is a quadratic in
standardised moneyness ``ln(K/F) / (atm·√T)`` with a negative slope (puts richer), clamped
in the far wings where quadratics misbehave.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import numpy.typing as npt

from opt_data.sim.market.underlyings import Underlying

FloatArray = npt.NDArray[np.float64]

# Approximate US short rates by mid-year, linearly interpolated; flat beyond both ends.
_RATE_POINTS = (
    (dt.date(2012, 7, 1), 0.001),
    (dt.date(2015, 7, 1), 0.002),
    (dt.date(2016, 7, 1), 0.004),
    (dt.date(2017, 7, 1), 0.011),
    (dt.date(2018, 7, 1), 0.019),
    (dt.date(2019, 7, 1), 0.022),
    (dt.date(2020, 7, 1), 0.002),
    (dt.date(2021, 7, 1), 0.001),
    (dt.date(2022, 7, 1), 0.018),
    (dt.date(2023, 7, 1), 0.051),
    (dt.date(2024, 7, 1), 0.053),
    (dt.date(2025, 7, 1), 0.043),
    (dt.date(2026, 7, 1), 0.036),
)
_RATE_X = np.array([d.toordinal() for d, _ in _RATE_POINTS], dtype=np.float64)
_RATE_Y = np.array([r for _, r in _RATE_POINTS], dtype=np.float64)

_TERM_DECAY_YEARS = 0.35  # how fast the regime's short end gives way to the long-run level
_LONG_RUN_PREMIUM = 1.06  # long-dated IV sits a little above the long-run realised level
_SMILE_CURVATURE = 0.018
_WING = 6.0  # standardised moneyness beyond which the smile is held flat
_MIN_T = 1.0 / (365.0 * 24.0)  # an hour: keeps 0DTE standardisation finite


def rate(day: dt.date) -> float:
    """Continuously compounded risk-free rate on ``day`` (flat across maturities)."""
    return float(np.interp(day.toordinal(), _RATE_X, _RATE_Y))


def atm_vol(u: Underlying, regime: float, t: float) -> float:
    """At-the-money implied volatility for time to expiry ``t`` (years)."""
    long_run = u.base_vol * _LONG_RUN_PREMIUM
    weight = math.exp(-max(t, 0.0) / _TERM_DECAY_YEARS)
    return long_run + (regime - long_run) * weight


def smile_vol(u: Underlying, regime: float, s: float, k: float, t: float, r: float) -> float:
    """Implied volatility of strike ``k`` at spot ``s`` (skewed: puts richer)."""
    atm = atm_vol(u, regime, t)
    tt = max(t, _MIN_T)
    forward = s * math.exp((r - u.div_yield) * tt)
    w = min(max(math.log(k / forward) / (atm * math.sqrt(tt)), -_WING), _WING)
    return atm * (1.0 - u.skew * w + _SMILE_CURVATURE * w * w)


def smile_vol_array(
    u: Underlying, regime: FloatArray, s: FloatArray, k: float, t: FloatArray, r: float
) -> FloatArray:
    """``smile_vol`` over arrays (a contract along a minute path)."""
    long_run = u.base_vol * _LONG_RUN_PREMIUM
    atm = long_run + (regime - long_run) * np.exp(-np.maximum(t, 0.0) / _TERM_DECAY_YEARS)
    tt = np.maximum(t, _MIN_T)
    forward = s * np.exp((r - u.div_yield) * tt)
    w = np.clip(np.log(k / forward) / (atm * np.sqrt(tt)), -_WING, _WING)
    return np.asarray(atm * (1.0 - u.skew * w + _SMILE_CURVATURE * w * w), dtype=np.float64)
