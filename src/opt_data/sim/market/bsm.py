"""Black–Scholes–Merton with a continuous dividend yield: prices, Greeks, implied volatility.

European exercise (the simulator does not model early exercise). Greeks follow IB's
conventions: delta and gamma per share, vega per volatility point (a 0.01 change in
sigma), theta per calendar day. Scalar functions use ``math`` (fast for one contract);
``price_array`` is the numpy twin used to price a contract along a minute path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_np_erf = np.frompyfunc(math.erf, 1, 1)  # numpy has no erf; math.erf is exact to 1 ulp
MIN_VOL = 0.005
MAX_VOL = 5.0


@dataclass(frozen=True, slots=True)
class BsmGreeks:
    price: float
    delta: float
    gamma: float
    vega: float  # per 1 vol point
    theta: float  # per calendar day
    pv_dividend: float  # present value of dividends paid to expiry, per share


def norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / _SQRT2))


def norm_pdf(x: float) -> float:
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


def price(is_call: bool, s: float, k: float, t: float, r: float, q: float, sigma: float) -> float:
    """Model price per share; ``t`` in years (must be > 0)."""
    sq = sigma * math.sqrt(t)
    d1 = (math.log(s / k) + (r - q + 0.5 * sigma * sigma) * t) / sq
    d2 = d1 - sq
    df_q, df_r = math.exp(-q * t), math.exp(-r * t)
    if is_call:
        return s * df_q * norm_cdf(d1) - k * df_r * norm_cdf(d2)
    return k * df_r * norm_cdf(-d2) - s * df_q * norm_cdf(-d1)


def greeks(
    is_call: bool, s: float, k: float, t: float, r: float, q: float, sigma: float
) -> BsmGreeks:
    sqrt_t = math.sqrt(t)
    sq = sigma * sqrt_t
    d1 = (math.log(s / k) + (r - q + 0.5 * sigma * sigma) * t) / sq
    d2 = d1 - sq
    df_q, df_r = math.exp(-q * t), math.exp(-r * t)
    pdf = norm_pdf(d1)
    gamma = df_q * pdf / (s * sq)
    vega = s * df_q * pdf * sqrt_t
    common = -s * df_q * pdf * sigma / (2.0 * sqrt_t)
    if is_call:
        value = s * df_q * norm_cdf(d1) - k * df_r * norm_cdf(d2)
        delta = df_q * norm_cdf(d1)
        theta = common - r * k * df_r * norm_cdf(d2) + q * s * df_q * norm_cdf(d1)
    else:
        value = k * df_r * norm_cdf(-d2) - s * df_q * norm_cdf(-d1)
        delta = -df_q * norm_cdf(-d1)
        theta = common + r * k * df_r * norm_cdf(-d2) - q * s * df_q * norm_cdf(-d1)
    return BsmGreeks(
        price=value,
        delta=delta,
        gamma=gamma,
        vega=vega / 100.0,
        theta=theta / 365.0,
        pv_dividend=s * (1.0 - df_q),
    )


def no_arbitrage_bounds(
    is_call: bool, s: float, k: float, t: float, r: float, q: float
) -> tuple[float, float]:
    """European price bounds ``(lower, upper)``; prices outside have no implied volatility."""
    fwd_s, fwd_k = s * math.exp(-q * t), k * math.exp(-r * t)
    if is_call:
        return max(0.0, fwd_s - fwd_k), fwd_s
    return max(0.0, fwd_k - fwd_s), fwd_k


def implied_vol(
    is_call: bool,
    target: float,
    s: float,
    k: float,
    t: float,
    r: float,
    q: float,
    guess: float | None = None,
) -> float | None:
    """The sigma in ``[MIN_VOL, MAX_VOL]`` at which ``price`` equals ``target``, else None.

    Newton steps from ``guess`` (default: a Brenner–Subrahmanyam estimate), kept inside a
    shrinking bisection bracket so that flat-vega wings cannot send it astray. Prices
    outside the no-arbitrage bounds, or needing a sigma outside the range, have none.
    """
    lower, upper = no_arbitrage_bounds(is_call, s, k, t, r, q)
    if not lower < target < upper:
        return None
    if guess is None:
        guess = math.sqrt(2.0 * math.pi / t) * target / s
    sigma = min(max(guess, 0.05), 2.0)
    value, vega = _price_and_vega(is_call, s, k, t, r, q, sigma)
    # One look at the far end of the range decides whether a solution exists at all.
    if value < target:
        lo, hi = sigma, MAX_VOL
        if _price_and_vega(is_call, s, k, t, r, q, hi)[0] <= target:
            return None
    else:
        lo, hi = MIN_VOL, sigma
        if _price_and_vega(is_call, s, k, t, r, q, lo)[0] >= target:
            return None
    tolerance = 1e-10 * max(1.0, target)
    for _ in range(100):
        diff = value - target
        if abs(diff) < tolerance or hi - lo < 1e-12:
            return sigma
        if diff > 0:
            hi = sigma
        else:
            lo = sigma
        # Newton on log-price: far from the money the price is ~exponential in sigma.
        usable = vega > 1e-300 and value > 0
        step = sigma - math.log(value / target) * value / vega if usable else -1.0
        sigma = step if lo < step < hi else 0.5 * (lo + hi)
        value, vega = _price_and_vega(is_call, s, k, t, r, q, sigma)
    return sigma


def _price_and_vega(
    is_call: bool, s: float, k: float, t: float, r: float, q: float, sigma: float
) -> tuple[float, float]:
    """``price`` and the raw vega (per unit of sigma) sharing one d1."""
    sqrt_t = math.sqrt(t)
    sq = sigma * sqrt_t
    d1 = (math.log(s / k) + (r - q + 0.5 * sigma * sigma) * t) / sq
    d2 = d1 - sq
    fwd_s, fwd_k = s * math.exp(-q * t), k * math.exp(-r * t)
    if is_call:
        value = fwd_s * norm_cdf(d1) - fwd_k * norm_cdf(d2)
    else:
        value = fwd_k * norm_cdf(-d2) - fwd_s * norm_cdf(-d1)
    return value, fwd_s * norm_pdf(d1) * sqrt_t


def price_array(
    is_call: bool,
    s: FloatArray,
    k: float,
    t: FloatArray,
    r: float,
    q: float,
    sigma: FloatArray,
) -> FloatArray:
    """Vectorised ``price`` over arrays of spot, time to expiry and volatility."""
    sq = sigma * np.sqrt(t)
    d1 = (np.log(s / k) + (r - q + 0.5 * sigma * sigma) * t) / sq
    d2 = d1 - sq
    df_q, df_r = np.exp(-q * t), np.exp(-r * t)
    if is_call:
        out = s * df_q * _cdf(d1) - k * df_r * _cdf(d2)
    else:
        out = k * df_r * _cdf(-d2) - s * df_q * _cdf(-d1)
    return np.asarray(out, dtype=np.float64)


def _cdf(x: FloatArray) -> FloatArray:
    return 0.5 * (1.0 + np.asarray(_np_erf(x / _SQRT2), dtype=np.float64))
