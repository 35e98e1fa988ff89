"""Invariants over random dates, symbols, contracts and instants (2015..2030)."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import NY
from opt_data.sim.market import Market

MARKET = Market(seed=7, symbols=["QQQ", "AAPL", "JPM", "BRK B", "KO", "TSLA"])
days = st.dates(dt.date(2015, 1, 1), dt.date(2030, 12, 31))
symbols = st.sampled_from(MARKET.symbols)
instants = st.times(dt.time(0, 0), dt.time(23, 59))
common = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(symbol=symbols, day=days, pick=st.floats(0, 1, exclude_max=True), when=instants)
def test_any_listed_contract_has_a_sane_state(
    symbol: str, day: dt.date, pick: float, when: dt.time
) -> None:
    moment = dt.datetime.combine(day, when, tzinfo=NY)
    chain = MARKET.options(symbol, MARKET.session_of(moment))  # before the open: yesterday's
    assert chain
    o = chain[int(pick * len(chain))]
    assert MARKET.instrument(o.con_id) == o
    s = MARKET.option_state(o, moment)
    q, g = s.quote, s.model_greeks
    assert q.bid is not None and q.ask is not None and g.opt_price is not None
    assert 0 <= q.bid <= g.opt_price + 1e-9 <= q.ask + 2e-9
    assert g.implied_vol is not None and 0.02 < g.implied_vol < 3.0
    assert g.delta is not None and (0 <= g.delta <= 1 if o.right == "C" else -1 <= g.delta <= 0)
    assert g.gamma is not None and g.gamma >= 0 and g.vega is not None and g.vega >= 0
    assert s.open_interest >= 0 and q.volume >= 0
    assert (q.last is None) == (q.volume == 0)


@common
@given(symbol=symbols, day=days, gap=st.integers(1, 40))
def test_listings_only_grow_until_expiry(symbol: str, day: dt.date, gap: int) -> None:
    later = day + dt.timedelta(days=gap)
    before = {o.con_id: o for o in MARKET.options(symbol, day)}
    after = {o.con_id for o in MARKET.options(symbol, later)}
    still_alive = {c for c, o in before.items() if o.expiry is not None and o.expiry >= later}
    assert still_alive <= after


@common
@given(day=days, symbol=symbols)
def test_chain_params_cover_exactly_the_listed_contracts(day: dt.date, symbol: str) -> None:
    chain = MARKET.options(symbol, day)
    smart = [p for p in MARKET.chain_params(symbol, day) if p.exchange == "SMART"]
    assert {p.trading_class for p in smart} == {o.trading_class for o in chain}
    for p in smart:
        mine = [o for o in chain if o.trading_class == p.trading_class]
        assert set(p.strikes) == {o.strike for o in mine}
        assert set(p.expirations) == {f"{o.expiry:%Y%m%d}" for o in mine}


@settings(max_examples=8, deadline=None)
@given(
    names=st.lists(
        st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=5), min_size=1, max_size=4
    ),
    seed=st.integers(0, 2**31),
)
def test_generated_symbols_list_decodable_options(names: list[str], seed: int) -> None:
    market = Market(seed=seed, symbols=names)
    day = dt.date(2025, 6, 2)
    for name in set(names):
        stock = market.stock(name)
        assert stock is not None and market.instrument(stock.con_id) == stock
        chain = market.options(name, day)
        assert chain
        for o in chain[:: max(1, len(chain) // 20)]:
            assert market.instrument(o.con_id) == o
            assert o.local_symbol.startswith(f"{name[:6]:<6}")
