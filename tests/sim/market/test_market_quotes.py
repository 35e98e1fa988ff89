"""What a stream shows: quotes around the model, Greeks per source, intraday vs frozen."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from conftest import AFTER_CLOSE, DAY, MIDDAY, NY, at
from opt_data.sim.instruments import Instrument
from opt_data.sim.market import Market, MarketDataError, bsm
from opt_data.sim.market.chains import CHAINS_KEPT
from opt_data.sim.market.pricing import Inputs
from opt_data.sim.market.quotes import _greeks_at_price  # the IV inversion behind bid/ask Greeks
from opt_data.sim.market.surface import rate

YEAR = 365.0 * 86400.0


def _sample(market: Market, symbol: str, size: int = 300) -> list[Instrument]:
    """About ``size`` contracts spread evenly over the whole chain."""
    chain = market.options(symbol, DAY)
    return chain[:: max(1, len(chain) // size)]


def _on_tick(price: float, tick: float) -> bool:
    return abs(price / tick - round(price / tick)) < 1e-6


@pytest.mark.parametrize("symbol", ["SPY", "AAPL", "SPX", "JPM"])
def test_quotes_bracket_the_model_price_on_the_tick_grid(market: Market, symbol: str) -> None:
    small, big = {"SPY": (0.01, 0.01), "SPX": (0.05, 0.10)}.get(symbol, (0.01, 0.05))
    for o in _sample(market, symbol):
        s = market.option_state(o, AFTER_CLOSE)
        q, model = s.quote, s.model_greeks.opt_price
        assert q.bid is not None and q.ask is not None and model is not None
        assert q.bid <= model + 1e-9 and model <= q.ask + 1e-9
        assert q.ask > q.bid
        if o.nonstandard:
            continue
        assert _on_tick(q.ask, small if q.ask < 3 else big)
        assert q.bid == 0 or _on_tick(q.bid, small if q.bid < 3 else big)
        assert q.bid_size >= 0 and q.ask_size > 0 and (q.bid > 0) == (q.bid_size > 0)


def test_bid_and_ask_greeks_carry_the_implied_vol_of_their_prices(market: Market) -> None:
    checked = 0
    for o in _sample(market, "MSFT", 500):
        s = market.option_state(o, AFTER_CLOSE)
        bid_iv, ask_iv, model_iv = (
            s.bid_greeks.implied_vol,
            s.ask_greeks.implied_vol,
            s.model_greeks.implied_vol,
        )
        assert model_iv is not None and s.model_greeks.und_price is not None
        assert s.ask_greeks.opt_price == s.quote.ask
        if s.quote.bid == 0:
            assert bid_iv is None  # nothing to invert
        if bid_iv is not None and ask_iv is not None:
            assert bid_iv <= model_iv + 1e-9 <= ask_iv + 2e-9
            checked += 1
    assert checked > 20


def test_greeks_at_a_price_reprice_that_price() -> None:
    x = Inputs(spot=100.0, t=0.25, r=0.04, q=0.01, sigma=0.3, is_call=False, strike=95.0)
    for price in (1.5, 3.2, 6.0):
        g = _greeks_at_price(x, price, 0.25)
        assert g.implied_vol is not None
        assert bsm.price(False, 100.0, 95.0, 0.25, 0.04, 0.01, g.implied_vol) == pytest.approx(
            price
        )
        assert g.opt_price == price and g.und_price == 100.0
    unreachable = _greeks_at_price(x, 0.01 + 95.0, 0.25)  # above the put's upper bound
    assert unreachable.implied_vol is None and unreachable.delta is None
    assert _greeks_at_price(x, None, 0.25).opt_price is None


def test_put_call_parity_holds_within_the_spreads(market: Market) -> None:
    expiry = dt.date(2024, 5, 17)
    calls = {o.strike: o for o in market.options("SPY", DAY, expiry=expiry, right="C")}
    puts = {o.strike: o for o in market.options("SPY", DAY, expiry=expiry, right="P")}
    t = dt.datetime(2024, 5, 17, 16, tzinfo=NY) - dt.datetime(2024, 3, 28, 16, tzinfo=NY)
    years = t.total_seconds() / YEAR
    r = rate(DAY)
    for k in sorted(calls)[::5]:
        c, p = market.option_state(calls[k], AFTER_CLOSE), market.option_state(puts[k], AFTER_CLOSE)
        s = c.model_greeks.und_price
        pv_div = c.model_greeks.pv_dividend
        assert s is not None and pv_div is not None
        parity = (s - pv_div) - k * math.exp(-r * years)  # S·e^{-qT} − K·e^{-rT}
        assert c.model_greeks.opt_price is not None and p.model_greeks.opt_price is not None
        assert c.model_greeks.opt_price - p.model_greeks.opt_price == pytest.approx(
            parity, abs=1e-6
        )
        cq, pq = c.quote, p.quote
        assert (
            cq.bid is not None and cq.ask is not None and pq.bid is not None and pq.ask is not None
        )
        mids = (cq.bid + cq.ask) / 2 - (pq.bid + pq.ask) / 2
        assert abs(mids - parity) <= (cq.ask - cq.bid) + (pq.ask - pq.bid)


def test_values_are_frozen_from_the_close_until_the_next_open(market: Market) -> None:
    """After the close (and over Good Friday and the weekend) IB's frozen values show."""
    o = market.options("QQQ", DAY, expiry=dt.date(2024, 4, 19))[60]
    closed = market.option_state(o, AFTER_CLOSE)
    for later in (at(DAY, 23, 59), at(dt.date(2024, 3, 29), 12), at(dt.date(2024, 4, 1), 9, 29)):
        assert market.option_state(o, later) == closed
    assert market.option_state(o, MIDDAY) != closed
    monday = market.option_state(o, at(dt.date(2024, 4, 1), 10))
    assert closed.quote.bid is not None and closed.quote.ask is not None
    assert monday.quote.close == round((closed.quote.bid + closed.quote.ask) / 2, 2)


def test_intraday_values_move_minute_by_minute(market: Market) -> None:
    o = market.options("SPY", DAY, expiry=dt.date(2024, 4, 5), strike=440.0, right="C")[0]
    minutes = [
        market.option_state(o, at(DAY, 10) + dt.timedelta(minutes=m)) for m in range(0, 300, 30)
    ]
    assert len({s.quote.bid for s in minutes}) > 3
    volumes = [s.quote.volume for s in minutes]
    assert volumes == sorted(volumes)
    assert market.option_state(o, AFTER_CLOSE).quote.volume >= volumes[-1]
    same_minute = at(DAY, 10, 0) + dt.timedelta(seconds=20)
    assert market.option_state(o, same_minute) == minutes[0]


def test_last_is_none_exactly_when_nothing_traded(market: Market) -> None:
    states = [market.option_state(o, AFTER_CLOSE) for o in _sample(market, "SPY", 1000)]
    untraded = [s for s in states if s.quote.volume == 0]
    traded = [s for s in states if s.quote.volume > 0]
    assert untraded and traded  # far out-of-the-money strikes often do not trade at all
    assert all(s.quote.last is None and s.quote.last_size == 0 for s in untraded)
    assert all(s.last_greeks.opt_price is None for s in untraded)
    for s in traded:
        q = s.quote
        assert q.last is not None and q.low is not None and q.high is not None
        assert q.low <= q.last <= q.high and 0 < q.last_size <= q.volume


def test_contracts_not_listed_at_that_moment_raise_200(market: Market) -> None:
    o = market.options("MSFT", dt.date(2024, 4, 1), expiry=dt.date(2024, 5, 3))[0]
    with pytest.raises(MarketDataError) as before:
        market.option_state(o, at(dt.date(2024, 3, 1), 12))
    assert before.value.code == 200
    with pytest.raises(MarketDataError):
        market.option_state(o, at(dt.date(2024, 5, 6), 12))
    assert market.option_state(o, at(dt.date(2024, 5, 3), 17)).quote.ask is not None


def test_stock_state_shows_quotes_volume_and_chain_totals(market: Market) -> None:
    spy = market.stock("SPY")
    assert spy is not None
    late, early = market.stock_state(spy, AFTER_CLOSE), market.stock_state(spy, MIDDAY)
    q = late.quote
    assert q.bid is not None and q.ask is not None and q.bid < q.ask
    assert q.low is not None and q.high is not None and q.low <= (q.last or 0) <= q.high
    assert 0 < early.quote.volume < q.volume
    assert 0.03 < late.hist_vol < 1.0 and 0.05 < late.implied_vol < 1.0
    assert late.call_open_interest > 0 and late.put_open_interest > 0
    assert 0 < early.call_volume < late.call_volume
    friday = market.stock_state(spy, at(dt.date(2024, 4, 1), 10))
    assert friday.quote.close == q.last  # close = the previous session's close


def test_indices_have_values_but_no_quotes(market: Market) -> None:
    spx = market.stock("SPX")
    assert spx is not None
    q = market.stock_state(spx, AFTER_CLOSE).quote
    assert q.bid is None and q.ask is None and q.volume == 0 and q.last is not None


def test_sessions_honour_holidays_early_closes_and_weekends(market: Market) -> None:
    assert market.is_open(at(DAY, 15, 59)) and not market.is_open(at(DAY, 16, 0))
    assert not market.is_open(at(DAY, 9, 29))
    black_friday = dt.date(2024, 11, 29)
    assert market.is_open(at(black_friday, 12, 59)) and not market.is_open(at(black_friday, 13, 1))
    assert not market.is_open(at(dt.date(2024, 3, 29), 12))  # Good Friday
    assert market.session_of(at(dt.date(2024, 3, 30), 12)) == DAY
    assert market.session_of(at(dt.date(2024, 4, 1), 9, 29)) == DAY
    assert market.session_of(at(dt.date(2024, 4, 1), 9, 30)) == dt.date(2024, 4, 1)
    assert market.session_of(dt.datetime(2024, 4, 1, 14, tzinfo=dt.UTC)) == dt.date(2024, 4, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        market.is_open(dt.datetime(2024, 4, 1, 12))


def test_warm_precomputes_what_a_symbols_first_requests_need(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    symbols = ["AAPL", "ZZZZ", "JPM"]  # curated and generated
    cold, warmed = Market(seed=0, symbols=symbols), Market(seed=0, symbols=symbols)

    def answers(market: Market, symbol: str) -> tuple[object, ...]:
        stock = market.stock(symbol)
        assert stock is not None
        chain = market.options(symbol, DAY)
        return (
            market.stock_state(stock, AFTER_CLOSE),
            market.stock_state(stock, MIDDAY),  # any moment of the warmed session
            market.chain_params(symbol, DAY),
            chain,
            market.instrument(chain[-1].con_id),
        )

    expected = {s: answers(cold, s) for s in ("AAPL", "ZZZZ")}
    warmed.warm(AFTER_CLOSE, ["AAPL", "ZZZZ"])

    def boom(*_: object) -> None:
        raise AssertionError("computed lazily after warm")

    monkeypatch.setattr(warmed._quoter, "_chain_totals", boom)
    monkeypatch.setattr(warmed._universe, "_build_chain", boom)
    monkeypatch.setattr(warmed._universe, "_build_series", boom)
    monkeypatch.setattr("opt_data.sim.market.paths.daily_path", boom)
    for symbol, answer in expected.items():
        assert answers(warmed, symbol) == answer
    jpm = warmed.stock("JPM")
    assert jpm is not None
    with pytest.raises(AssertionError, match="lazily"):
        warmed.stock_state(jpm, AFTER_CLOSE)  # not warmed: the patches catch the work


def test_warm_refuses_what_it_cannot_keep_warm() -> None:
    with pytest.raises(ValueError, match="unknown"):
        Market(seed=0, symbols=["AAPL"]).warm(AFTER_CLOSE, ["MSFT"])
    many = [f"S{i}" for i in range(CHAINS_KEPT + 1)]
    with pytest.raises(ValueError, match="stay warm"):
        Market(seed=0, symbols=many).warm(AFTER_CLOSE)
