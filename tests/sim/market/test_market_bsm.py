"""BSM pricing: parity, Greeks against finite differences, implied-vol round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opt_data.sim.market import bsm

spots = st.floats(5.0, 5000.0)
moneyness = st.floats(0.6, 1.6)
years = st.floats(2.0 / 365.0, 3.0)
rates = st.floats(0.0, 0.06)
yields = st.floats(0.0, 0.05)
vols = st.floats(0.05, 1.2)


@given(s=spots, m=moneyness, t=years, r=rates, q=yields, sigma=vols)
def test_put_call_parity_holds_for_model_prices(
    s: float, m: float, t: float, r: float, q: float, sigma: float
) -> None:
    k = s * m
    call = bsm.price(True, s, k, t, r, q, sigma)
    put = bsm.price(False, s, k, t, r, q, sigma)
    parity = s * math.exp(-q * t) - k * math.exp(-r * t)
    assert call - put == pytest.approx(parity, abs=1e-9 * s)


@given(
    is_call=st.booleans(),
    s=st.floats(20.0, 1000.0),
    m=st.floats(0.8, 1.25),
    t=st.floats(0.05, 2.0),
    r=rates,
    q=yields,
    sigma=st.floats(0.1, 0.8),
)
def test_greeks_match_finite_differences(
    is_call: bool, s: float, m: float, t: float, r: float, q: float, sigma: float
) -> None:
    """delta/gamma per $1, vega per vol point, theta per calendar day (IB conventions)."""
    k = s * m
    g = bsm.greeks(is_call, s, k, t, r, q, sigma)

    def v(s_: float = s, t_: float = t, sigma_: float = sigma) -> float:
        return bsm.price(is_call, s_, k, t_, r, q, sigma_)

    h = s * 1e-4
    assert g.price == pytest.approx(v(), rel=1e-12)
    assert g.delta == pytest.approx((v(s + h) - v(s - h)) / (2 * h), abs=1e-5)
    assert g.gamma == pytest.approx((v(s + h) - 2 * v() + v(s - h)) / h**2, abs=1e-4, rel=1e-3)
    dv = 1e-4
    # the central difference is off by O(dv²) × the third derivative: relative for large S·√t
    assert g.vega == pytest.approx(
        (v(sigma_=sigma + dv) - v(sigma_=sigma - dv)) / (2 * dv) / 100, abs=1e-6, rel=1e-6
    )
    dt_ = 1e-5
    fd_theta = -(v(t_=t + dt_) - v(t_=t - dt_)) / (2 * dt_) / 365.0
    assert g.theta == pytest.approx(fd_theta, abs=1e-5)
    assert g.pv_dividend == pytest.approx(s * (1 - math.exp(-q * t)))


@given(
    is_call=st.booleans(), s=spots, m=st.floats(0.7, 1.4), t=years, r=rates, q=yields, sigma=vols
)
@settings(max_examples=200)
def test_implied_vol_inverts_price(
    is_call: bool, s: float, m: float, t: float, r: float, q: float, sigma: float
) -> None:
    k = s * m
    target = bsm.price(is_call, s, k, t, r, q, sigma)
    lower, _ = bsm.no_arbitrage_bounds(is_call, s, k, t, r, q)
    if target - lower < 1e-9 * s:  # no vega left: any sigma reprices, nothing to invert
        return
    iv = bsm.implied_vol(is_call, target, s, k, t, r, q)
    assert iv is not None
    assert bsm.price(is_call, s, k, t, r, q, iv) == pytest.approx(target, rel=1e-7, abs=1e-9 * s)


def test_implied_vol_is_none_outside_no_arbitrage_bounds() -> None:
    s, k, t, r, q = 100.0, 50.0, 0.5, 0.03, 0.0
    lower, upper = bsm.no_arbitrage_bounds(True, s, k, t, r, q)
    assert bsm.implied_vol(True, lower - 0.01, s, k, t, r, q) is None
    assert bsm.implied_vol(True, upper + 0.01, s, k, t, r, q) is None
    assert bsm.implied_vol(False, 0.0, s, k, t, r, q) is None


def test_price_array_matches_scalar_price() -> None:
    import numpy as np

    s = np.array([90.0, 100.0, 110.0])
    t = np.array([0.1, 0.5, 1.0])
    sigma = np.array([0.2, 0.3, 0.4])
    for is_call in (True, False):
        arr = bsm.price_array(is_call, s, 100.0, t, 0.02, 0.01, sigma)
        for j in range(3):
            assert arr[j] == pytest.approx(
                bsm.price(is_call, float(s[j]), 100.0, float(t[j]), 0.02, 0.01, float(sigma[j])),
                rel=1e-12,
            )
