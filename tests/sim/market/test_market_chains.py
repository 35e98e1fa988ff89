"""What is listed: stocks, expiries, strikes, classes, con_ids, partial specs, expiry."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest

from conftest import AFTER_CLOSE, DAY
from opt_data.sim.market import DEFAULT_SYMBOLS, Market

OCC = re.compile(r"^[A-Z0-9 ]{6}\d{6}[CP]\d{8}$")


def test_default_symbols_are_listed_with_stock_instruments(market: Market) -> None:
    assert market.symbols == DEFAULT_SYMBOLS
    spy = market.stock("SPY")
    assert spy is not None
    assert (spy.sec_type, spy.con_id, spy.primary_exchange, spy.multiplier) == (
        "STK",
        756733,
        "ARCA",
        1,
    )
    spx = market.stock("SPX")
    assert spx is not None and (spx.sec_type, spx.exchange) == ("IND", "CBOE")
    assert market.stock("BRK B") is not None
    assert not market.knows("XYZ") and market.stock("XYZ") is None
    assert market.options("XYZ", DAY) == [] and market.chain_params("XYZ", DAY) == []


def test_spy_chain_has_thousands_of_contracts_all_unexpired_and_sorted(market: Market) -> None:
    chain = market.options("SPY", DAY)
    assert len(chain) > 3000
    assert all(o.expiry is not None and o.expiry >= DAY for o in chain)
    keys = [(o.expiry, o.trading_class, o.strike, o.right) for o in chain]
    assert keys == sorted(keys)
    assert {o.right for o in chain} == {"C", "P"}


def test_con_ids_are_unique_small_and_resolve_back(market: Market) -> None:
    seen: dict[int, str] = {}
    for symbol in market.symbols:
        stock = market.stock(symbol)
        assert stock is not None
        seen[stock.con_id] = stock.local_symbol
        for i, o in enumerate(market.options(symbol, DAY)):
            assert 0 < o.con_id < 2**31
            assert seen.setdefault(o.con_id, o.local_symbol) == o.local_symbol
            if i % 5 == 0:
                assert market.instrument(o.con_id) == o
    assert market.instrument(12345) is None


def test_local_symbol_is_the_21_character_occ_symbol(market: Market) -> None:
    for o in market.options("BRK B", DAY)[:50] + market.options("SPX", DAY)[:50]:
        assert len(o.local_symbol) == 21 and OCC.match(o.local_symbol)
        assert o.local_symbol.startswith(f"{o.trading_class:<6}")
        assert o.expiry is not None
        assert o.local_symbol[6:12] == o.expiry.strftime("%y%m%d")
        assert int(o.local_symbol[13:]) == round(o.strike * 1000)
    assert {o.trading_class for o in market.options("BRK B", DAY)} == {"BRKB"}


def test_expiries_include_weeklies_mon_wed_monthlies_and_leaps(market: Market) -> None:
    expiries = {o.expiry for o in market.options("SPY", DAY)}
    weekdays = {e.weekday() for e in expiries if e is not None and e < DAY + dt.timedelta(days=30)}
    assert {0, 2, 4} <= weekdays  # Mon/Wed/Fri dailies for SPY
    assert dt.date(2024, 3, 28) in expiries  # Good Friday's weekly moves to Thursday
    assert dt.date(2024, 3, 29) not in expiries
    assert dt.date(2024, 6, 21) in expiries  # a monthly (third Friday)
    assert dt.date(2025, 3, 21) in expiries  # a quarterly ~12 months out
    assert dt.date(2025, 2, 21) not in expiries  # a plain monthly that far out is not
    assert any(e is not None and e.month == 1 and e.year == 2026 for e in expiries)  # LEAPS
    aapl = {o.expiry for o in market.options("AAPL", DAY)}
    assert all(e is not None and e.weekday() in (3, 4) for e in aapl)


def test_weeklies_are_listed_about_five_weeks_ahead(market: Market) -> None:
    expiry = dt.date(2024, 5, 3)  # a weekly, not a monthly
    assert market.options("MSFT", dt.date(2024, 3, 1), expiry=expiry) == []
    assert market.options("MSFT", dt.date(2024, 4, 1), expiry=expiry) != []


def test_spx_has_am_monthly_and_pm_weekly_classes(market: Market) -> None:
    params = market.chain_params("SPX", DAY)
    assert {(p.exchange, p.trading_class) for p in params} == {
        (e, c) for e in ("SMART", "CBOE") for c in ("SPX", "SPXW")
    }
    spx = market.options("SPX", DAY, trading_class="SPX")
    assert all(o.expiry is not None and 14 <= o.expiry.day <= 21 for o in spx)  # monthlies
    spxw = {o.expiry for o in market.options("SPX", DAY, trading_class="SPXW")}
    assert {e.weekday() for e in spxw if e is not None} >= {0, 2, 4}
    assert all(o.strike % 5 == 0 for o in market.options("SPX", DAY))


def test_adjusted_classes_are_flagged_nonstandard(market: Market) -> None:
    aapl1 = market.options("AAPL", DAY, trading_class="AAPL1")
    jpm1 = market.options("JPM", DAY, trading_class="JPM1")
    assert aapl1 and all(o.nonstandard and o.multiplier == 100 for o in aapl1)
    assert jpm1 and all(o.nonstandard and o.multiplier == 150 for o in jpm1)
    assert any(round(o.strike * 100) % 100 != 0 for o in jpm1)  # split-adjusted strikes
    assert not any(o.nonstandard for o in market.options("AAPL", DAY, trading_class="AAPL"))
    multipliers = {p.trading_class: p.multiplier for p in market.chain_params("JPM", DAY)}
    assert multipliers == {"JPM": 100, "JPM1": 150}


def test_chain_params_are_the_union_of_listed_expiries_and_strikes(market: Market) -> None:
    chain = market.options("QQQ", DAY)
    params = market.chain_params("QQQ", DAY)
    assert {p.exchange for p in params} >= {"SMART", "CBOE"}
    qqq = market.stock("QQQ")
    assert qqq is not None
    for p in params:
        assert p.underlying_con_id == qqq.con_id and p.multiplier == 100
        assert set(p.expirations) == {o.expiry.strftime("%Y%m%d") for o in chain if o.expiry}
        assert set(p.strikes) == {o.strike for o in chain}
    pairs = {(o.expiry, o.strike) for o in chain}
    expiries = {o.expiry for o in chain}
    strikes = {o.strike for o in chain}
    assert len(pairs) < len(expiries) * len(strikes)  # not every expiry × strike exists


def test_strike_grid_is_fine_near_the_money_and_wider_for_longer_expiries(market: Market) -> None:
    stock = market.stock("SPY")
    assert stock is not None
    s = market.stock_state(stock, AFTER_CLOSE).quote.last
    assert s is not None
    near = sorted(
        o.strike for o in market.options("SPY", DAY, expiry=dt.date(2024, 4, 5), right="C")
    )
    atm = [k for k in near if abs(k - s) < 5]
    assert {round(b - a, 2) for a, b in itertools.pairwise(atm)} == {1.0}
    assert near[0] < 0.65 * s and near[-1] > 1.35 * s
    leaps = sorted(
        o.strike for o in market.options("SPY", DAY, expiry=dt.date(2026, 1, 16), right="C")
    )
    assert leaps[-1] / leaps[0] > near[-1] / near[0]


@pytest.mark.parametrize(
    "spec",
    [
        {"expiry": dt.date(2024, 4, 19)},
        {"strike": 440.0},
        {"right": "P"},
        {"expiry": dt.date(2024, 4, 19), "right": "C"},
        {"strike": 440.0, "right": "C", "expiry": dt.date(2024, 4, 19)},
        {"trading_class": "SPY", "right": "CALL"},
    ],
)
def test_partial_specs_return_exactly_the_matching_contracts(
    market: Market, spec: dict[str, object]
) -> None:
    everything = market.options("SPY", DAY)
    found = market.options("SPY", DAY, **spec)  # type: ignore[arg-type]
    right = {"CALL": "C"}.get(str(spec.get("right")), spec.get("right"))

    def matches(o: object) -> bool:
        return all(
            getattr(o, "right" if k == "right" else k) == (right if k == "right" else v)
            for k, v in spec.items()
        )

    assert found == [o for o in everything if matches(o)]
    assert found


def test_strikes_once_listed_stay_listed_until_expiry(market: Market) -> None:
    expiry = dt.date(2024, 6, 21)
    before = {o.con_id for o in market.options("NVDA", dt.date(2024, 1, 2), expiry=expiry)}
    after = {o.con_id for o in market.options("NVDA", dt.date(2024, 6, 3), expiry=expiry)}
    assert before and before <= after


def test_expired_contracts_are_remembered_for_a_week_only(market: Market) -> None:
    friday = dt.date(2024, 3, 22)
    expired = market.options("AMZN", dt.date(2024, 3, 15), expiry=friday)
    assert expired
    monday = dt.date(2024, 3, 25)
    assert market.options("AMZN", monday, expiry=friday) == []
    recalled = market.options("AMZN", monday, expiry=friday, include_expired=True)
    assert {o.con_id for o in recalled} == {o.con_id for o in expired}
    assert market.options("AMZN", dt.date(2024, 4, 1), expiry=friday, include_expired=True) == []
    assert market.instrument(expired[0].con_id) == expired[0]  # con_ids still resolve


def test_weekend_listing_drops_the_friday_expiry(market: Market) -> None:
    friday, saturday = dt.date(2024, 4, 5), dt.date(2024, 4, 6)
    assert market.options("SPY", friday, expiry=friday)
    assert market.options("SPY", saturday, expiry=friday) == []


def test_other_symbols_get_deterministic_generated_parameters() -> None:
    a = Market(seed=3, symbols=["XOM", "SPY", "ZZZZ"])
    b = Market(seed=3, symbols=["ZZZZ", "XOM"])
    assert a.knows("XOM") and a.knows("ZZZZ") and not b.knows("SPY")
    for symbol in ("XOM", "ZZZZ"):
        assert a.stock(symbol) == b.stock(symbol)
        assert a.options(symbol, DAY) == b.options(symbol, DAY)
        chain = a.options(symbol, DAY)
        assert chain and all(a.instrument(o.con_id) == o for o in chain[:100])
    spy = a.stock("SPY")
    assert spy is not None and spy.con_id == 756733


def test_bad_symbols_and_dates_are_refused() -> None:
    with pytest.raises(ValueError, match="bad symbol"):
        Market(symbols=[" SPY"])
    with pytest.raises(ValueError, match="outside the simulated calendar"):
        Market().options("SPY", dt.date(2040, 1, 2))
