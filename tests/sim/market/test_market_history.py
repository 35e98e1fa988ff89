"""Historical bars: consistent with live values, and refused where IB refuses them."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import AFTER_CLOSE, DAY, NY, at
from opt_data.sim.instruments import Bar, Instrument
from opt_data.sim.market import Market, MarketDataError


def _option(market: Market) -> Instrument:
    return market.options("SPY", DAY, expiry=dt.date(2024, 4, 19), strike=440.0, right="C")[0]


def _stock(market: Market, symbol: str = "SPY") -> Instrument:
    stock = market.stock(symbol)
    assert stock is not None
    return stock


def _bars(
    market: Market,
    inst: Instrument,
    duration: str,
    bar_size: str,
    what: str,
    *,
    end: dt.datetime = AFTER_CLOSE,
    now: dt.datetime | None = None,
) -> list[Bar]:
    return market.bars(
        inst,
        end=end,
        duration=duration,
        bar_size=bar_size,
        what_to_show=what,
        use_rth=True,
        now=now,
    )


@pytest.mark.parametrize("bar_size", ["1 day", "1 week", "1 month"])
@pytest.mark.parametrize("what", ["TRADES", "MIDPOINT", "BID_ASK"])
def test_options_have_no_daily_bars(market: Market, bar_size: str, what: str) -> None:
    with pytest.raises(MarketDataError) as err:
        _bars(market, _option(market), "1 Y", bar_size, what)
    assert err.value.code == 162
    assert "No data of type EODChart is available for the exchange 'BEST'" in err.value.text
    assert f"'1 y' and '{bar_size}'" in err.value.text


@pytest.mark.parametrize("what", ["OPTION_IMPLIED_VOLATILITY", "HISTORICAL_VOLATILITY"])
def test_options_have_no_volatility_history(market: Market, what: str) -> None:
    with pytest.raises(MarketDataError) as err:
        _bars(market, _option(market), "1 D", "1 hour", what)
    assert err.value.code == 162 and "No historical market data for SPY/OPT@IBVOL" in err.value.text


def test_eight_hour_option_bars_are_two_utc_aligned_bars_per_session(market: Market) -> None:
    bars = _bars(market, _option(market), "5 D", "8 hours", "MIDPOINT")
    assert len(bars) == 10
    starts = {b.start.timetz() for b in bars if isinstance(b.start, dt.datetime)}
    assert starts == {dt.time(9, 30, tzinfo=NY), dt.time(12, 0, tzinfo=NY)}  # 08:00/16:00 UTC (EDT)
    winter = _bars(
        market, _stock(market), "1 D", "8 hours", "TRADES", end=at(dt.date(2024, 1, 5), 17)
    )
    assert [b.start.hour for b in winter if isinstance(b.start, dt.datetime)] == [9, 11]


def test_option_bars_close_at_the_closing_mid_and_last_trade(market: Market) -> None:
    o = _option(market)
    state = market.option_state(o, AFTER_CLOSE)
    assert state.quote.bid is not None and state.quote.ask is not None
    mid_bars = _bars(market, o, "1 D", "1 hour", "MIDPOINT")
    assert len(mid_bars) == 7
    assert mid_bars[-1].close == pytest.approx((state.quote.bid + state.quote.ask) / 2, abs=1e-9)
    trade_bars = _bars(market, o, "1 D", "1 hour", "TRADES")
    assert trade_bars[-1].close == state.quote.last
    assert sum(b.volume for b in trade_bars) == state.quote.volume
    assert sum(b.count for b in trade_bars) >= len(trade_bars)
    bid_ask = _bars(market, o, "1 D", "1 hour", "BID_ASK")
    assert all(b.low <= b.open <= b.high and b.low <= b.close <= b.high for b in bid_ask)


def test_early_close_sessions_have_fewer_hourly_bars(market: Market) -> None:
    bars = _bars(
        market, _stock(market), "1 D", "1 hour", "TRADES", end=at(dt.date(2024, 11, 29), 17)
    )
    assert [b.start.hour for b in bars if isinstance(b.start, dt.datetime)] == [9, 10, 11, 12]


def test_stock_daily_bars_match_the_daily_closes(market: Market) -> None:
    spy = _stock(market)
    bars = _bars(market, spy, "10 D", "1 day", "TRADES")
    assert len(bars) == 10 and all(type(b.start) is dt.date for b in bars)
    assert bars[-1].start == DAY
    assert bars[-1].close == market.stock_state(spy, AFTER_CLOSE).quote.last
    assert bars[-1].volume == market.stock_state(spy, AFTER_CLOSE).quote.volume
    assert bars[-2].close == market.stock_state(spy, AFTER_CLOSE).quote.close
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    weekly = _bars(market, spy, "3 M", "1 week", "TRADES")
    assert 12 <= len(weekly) <= 15 and weekly[-1].close == bars[-1].close


def test_stock_volatility_bars_match_the_streamed_values(market: Market) -> None:
    spy = _stock(market)
    state = market.stock_state(spy, AFTER_CLOSE)
    hv = _bars(market, spy, "1 M", "1 day", "HISTORICAL_VOLATILITY")
    iv = _bars(market, spy, "1 M", "1 day", "OPTION_IMPLIED_VOLATILITY")
    assert hv[-1].close == pytest.approx(state.hist_vol)
    assert iv[-1].close == pytest.approx(state.implied_vol)
    assert 18 <= len(hv) <= 23


def test_expired_options_have_no_history(market: Market) -> None:
    o = _option(market)
    with pytest.raises(MarketDataError) as err:
        _bars(market, o, "2 D", "1 hour", "TRADES", now=at(dt.date(2024, 4, 22), 10))
    assert err.value.code == 166
    assert _bars(market, o, "2 D", "1 hour", "MIDPOINT", end=at(dt.date(2024, 4, 19), 17))


def test_empty_windows_say_hmds_returned_no_data(market: Market) -> None:
    with pytest.raises(MarketDataError) as err:
        _bars(market, _stock(market), "1800 S", "1 min", "TRADES")  # 16:30-17:00: closed
    assert err.value.code == 162
    assert err.value.text.endswith("HMDS query returned no data: SPY@SMART Trades")
    o = _option(market)
    with pytest.raises(MarketDataError):  # before the contract was listed
        _bars(market, o, "5 D", "1 hour", "MIDPOINT", end=at(dt.date(2023, 1, 5), 17))
    with pytest.raises(MarketDataError):
        _bars(market, _stock(market, "SPX"), "1 D", "1 hour", "BID")


@pytest.mark.parametrize(
    ("duration", "bar_size", "what"),
    [("5 X", "1 hour", "TRADES"), ("5 D", "7 mins", "TRADES"), ("5 D", "1 hour", "VOLUME")],
)
def test_malformed_requests_are_refused_with_321(
    market: Market, duration: str, bar_size: str, what: str
) -> None:
    with pytest.raises(MarketDataError) as err:
        _bars(market, _stock(market), duration, bar_size, what)
    assert err.value.code == 321


def test_the_window_ends_at_now_not_in_the_future(market: Market) -> None:
    spy = _stock(market)
    now = at(DAY, 12, 7)
    ahead = _bars(market, spy, "1 D", "5 mins", "TRADES", end=at(DAY, 20), now=now)
    assert ahead == _bars(market, spy, "1 D", "5 mins", "TRADES", end=now)
    assert ahead[-1].start == at(DAY, 12, 5)


def test_head_timestamp_is_the_listing_for_options(market: Market) -> None:
    o = _option(market)
    first = market.head_timestamp(o, "TRADES")
    assert first.date() < DAY and first.time() == dt.time(9, 30)
    assert market.options("SPY", first.date(), expiry=o.expiry, strike=o.strike, right="C")
    day_before = first.date() - dt.timedelta(days=1)
    assert not market.options("SPY", day_before, expiry=o.expiry, strike=o.strike, right="C")
    assert market.head_timestamp(_stock(market), "TRADES").year == 2012
