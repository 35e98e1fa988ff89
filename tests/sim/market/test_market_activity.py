"""Volume and open interest: OI moves by at most the day's volume, and is read a day late."""

from __future__ import annotations

import datetime as dt
import itertools

from conftest import at
from opt_data.sim.instruments import Instrument
from opt_data.sim.market import Market

SESSIONS = [dt.date(2024, 4, d) for d in (1, 2, 3, 4, 5, 8, 9, 10, 11, 12)]


def _contracts(market: Market, symbol: str, expiry: dt.date) -> list[Instrument]:
    listed = market.options(symbol, SESSIONS[0], expiry=expiry)
    return listed[:: max(1, len(listed) // 25)]


def test_open_interest_changes_by_at_most_the_days_volume(market: Market) -> None:
    """|OI(D) − OI(D−1)| ≤ volume(D), where OI(D) is what a stream shows on D+1."""
    checked = 0
    for symbol, expiry in (("AAPL", dt.date(2024, 5, 17)), ("SPY", dt.date(2024, 4, 19))):
        for o in _contracts(market, symbol, expiry):
            states = [market.option_state(o, at(day, 17)) for day in SESSIONS]
            for today, tomorrow in itertools.pairwise(states):
                change = tomorrow.open_interest - today.open_interest  # OI(D) − OI(D−1)
                assert abs(change) <= today.quote.volume
                checked += 1
    assert checked > 300


def test_open_interest_is_as_of_the_previous_close(market: Market) -> None:
    """After Tuesday's close or before Wednesday's open: Monday's OI; from the open, Tuesday's."""
    o = market.options("NVDA", SESSIONS[0], expiry=dt.date(2024, 4, 19))[40]
    tuesday, wednesday = SESSIONS[1], SESSIONS[2]
    evening = market.option_state(o, at(tuesday, 17)).open_interest
    assert market.option_state(o, at(wednesday, 9, 0)).open_interest == evening
    assert market.option_state(o, at(tuesday, 10)).open_interest == evening
    next_day = market.option_state(o, at(wednesday, 9, 45)).open_interest
    assert next_day == market.option_state(o, at(wednesday, 17)).open_interest


def test_open_interest_starts_at_zero_on_the_listing_day(market: Market) -> None:
    day, before = dt.date(2024, 4, 8), dt.date(2024, 4, 5)
    old = {o.con_id for o in market.options("SPY", before)}
    new = [o for o in market.options("SPY", day) if o.con_id not in old]
    assert new  # a new weekly was listed
    for o in new[::10]:
        assert market.option_state(o, at(day, 17)).open_interest == 0
    later = dt.date(2024, 4, 22)
    grown = [
        market.option_state(o, at(later, 17)).open_interest
        for o in new
        if o.expiry is not None and o.expiry >= later
    ]
    assert max(grown) > 0


def test_near_the_money_monthlies_carry_more_open_interest_than_far_wings(market: Market) -> None:
    stock = market.stock("MSFT")
    assert stock is not None
    spot = market.stock_state(stock, at(SESSIONS[-1], 17)).quote.last
    assert spot is not None
    chain = market.options("MSFT", SESSIONS[-1], expiry=dt.date(2024, 6, 21), right="P")
    oi = {o.strike: market.option_state(o, at(SESSIONS[-1], 17)).open_interest for o in chain}
    near = [v for k, v in oi.items() if abs(k / spot - 1) < 0.05]
    far = [v for k, v in oi.items() if k / spot < 0.6]
    assert sum(near) / len(near) > 10 * (sum(far) / len(far) + 1)
