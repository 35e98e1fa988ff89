"""Expiry and contract selection: never invent pairs, respect every filter."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from opt_data.jobs.selection import (
    ContractFilter,
    ContractQuery,
    ExpiryRequest,
    is_standard_monthly,
    plan_queries,
    select_contracts,
    select_expiries,
)
from opt_data.models import ChainParams, OptionContract

TRADE_DATE = dt.date(2026, 11, 23)


def _weekday_sessions(day: dt.date) -> bool:
    return day.weekday() < 5 and day != dt.date(2025, 4, 18)  # Good Friday 2025, a third Friday


def _contract(
    strike: float, right: str = "C", expiry: dt.date = dt.date(2026, 12, 18)
) -> OptionContract:
    return OptionContract(
        con_id=int(strike * 10) + (1 if right == "C" else 2),
        symbol="SPY",
        local_symbol=f"SPY {strike}{right}",
        trading_class="SPY",
        exchange="SMART",
        currency="USD",
        multiplier=100,
        expiration=expiry,
        strike=strike,
        right=right,
        nonstandard=False,
    )


def test_third_friday_is_monthly_and_holiday_thursday_too() -> None:
    """Third Fridays are monthly; when that Friday is a holiday, the Thursday before is."""
    assert is_standard_monthly(dt.date(2026, 12, 18), _weekday_sessions)
    assert not is_standard_monthly(dt.date(2026, 12, 11), _weekday_sessions)
    assert is_standard_monthly(dt.date(2025, 4, 17), _weekday_sessions)


def test_expiries_filtered_by_dte_and_deduplicated_across_exchanges() -> None:
    """SMART and CBOE repeat each class: one request per (class, expiry) inside the window."""
    expiries = (
        dt.date(2026, 11, 23),
        dt.date(2026, 11, 27),
        dt.date(2026, 12, 18),
        dt.date(2027, 6, 18),
    )
    chains = [
        ChainParams("SMART", "SPY", 100, expiries, (500.0, 600.0)),
        ChainParams("CBOE", "SPY", 100, expiries, (500.0, 600.0)),
    ]
    got = select_expiries(
        chains, TRADE_DATE, ContractFilter(min_dte=1, max_dte=60), _weekday_sessions
    )
    assert got == [
        ExpiryRequest("SPY", dt.date(2026, 11, 27)),
        ExpiryRequest("SPY", dt.date(2026, 12, 18)),
    ]


def test_weeklies_can_be_excluded_and_classes_restricted() -> None:
    """include_weeklies=false keeps monthlies only; trading_classes narrows to named classes."""
    expiries = (dt.date(2026, 11, 27), dt.date(2026, 12, 18))
    chains = [
        ChainParams("SMART", "SPX", 100, expiries, (5000.0,)),
        ChainParams("SMART", "SPXW", 100, expiries, (5000.0,)),
    ]
    flt = ContractFilter(include_weeklies=False, trading_classes=("SPXW",))
    assert select_expiries(chains, TRADE_DATE, flt, _weekday_sessions) == [
        ExpiryRequest("SPXW", dt.date(2026, 12, 18))
    ]


def test_contracts_inside_band_nearest_money_first_and_capped() -> None:
    """The cap keeps the contracts nearest the money; rights outside the filter are dropped."""
    listed = [_contract(k, r) for k in (80.0, 95.0, 100.0, 105.0, 130.0) for r in ("C", "P")]
    flt = ContractFilter(moneyness=0.1, rights=("C",), max_contracts_per_underlying=2)
    got = select_contracts(listed, 100.0, flt)
    assert [(c.strike, c.right) for c in got] == [(95.0, "C"), (100.0, "C")]


def test_without_spot_the_earliest_contracts_are_kept() -> None:
    """No underlying price: no band can be drawn, the cap still applies."""
    listed = [_contract(k) for k in (90.0, 100.0, 110.0)]
    got = select_contracts(listed, None, ContractFilter(max_contracts_per_underlying=2))
    assert [c.strike for c in got] == [90.0, 100.0]


@given(
    strikes=st.lists(st.floats(1, 1000, allow_nan=False), min_size=0, max_size=60, unique=True),
    spot=st.floats(1, 1000, allow_nan=False),
    band=st.floats(0.01, 1.0),
    cap=st.integers(0, 50),
)
def test_selection_never_exceeds_cap_or_band(
    strikes: list[float], spot: float, band: float, cap: int
) -> None:
    """Whatever IB lists, the selection stays inside the band and under the cap."""
    listed = [
        dataclasses.replace(_contract(k, r), con_id=i)
        for i, (k, r) in enumerate((k, r) for k in strikes for r in ("C", "P"))
    ]
    flt = ContractFilter(moneyness=band, max_contracts_per_underlying=cap)
    got = select_contracts(listed, spot, flt)
    assert len(got) <= cap
    assert all(abs(c.strike / spot - 1) <= band for c in got)
    assert len({c.con_id for c in got}) == len(got)


def test_queries_cover_a_month_of_expiries_with_one_request() -> None:
    """Weeklies of one month share a request (YYYYMM); a lone expiry keeps its date."""
    requests = [
        ExpiryRequest("SPY", dt.date(2026, 11, 27)),
        ExpiryRequest("SPY", dt.date(2026, 12, 4)),
        ExpiryRequest("SPY", dt.date(2026, 12, 11)),
        ExpiryRequest("SPY", dt.date(2026, 12, 18)),
        ExpiryRequest("SPYX", dt.date(2026, 12, 18)),
    ]
    assert plan_queries(requests) == [
        ContractQuery("SPY", "20261127", frozenset({dt.date(2026, 11, 27)})),
        ContractQuery(
            "SPY",
            "202612",
            frozenset({dt.date(2026, 12, 4), dt.date(2026, 12, 11), dt.date(2026, 12, 18)}),
        ),
        ContractQuery("SPYX", "20261218", frozenset({dt.date(2026, 12, 18)})),
    ]


@given(
    st.sets(
        st.tuples(
            st.sampled_from(["AAPL", "AAPL1", "SPXW"]),
            st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2027, 12, 31)),
        ),
        max_size=40,
    )
)
def test_queries_cover_every_expiry_once_with_one_request_per_class_and_month(
    pairs: set[tuple[str, dt.date]],
) -> None:
    """Each wanted (class, expiry) is answered by exactly one query whose spec matches it."""
    requests = [ExpiryRequest(cls, day) for cls, day in pairs]
    queries = plan_queries(requests)
    covered = [(q.trading_class, day) for q in queries for day in q.expirations]
    assert sorted(covered) == sorted(pairs)
    assert len(queries) == len({(cls, day.year, day.month) for cls, day in pairs})
    for q in queries:
        for day in q.expirations:
            assert day.strftime("%Y%m%d").startswith(q.expiry)
        assert len(q.expiry) == (6 if len(q.expirations) > 1 else 8)
