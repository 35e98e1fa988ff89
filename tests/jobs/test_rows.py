"""Snapshot → rows: raw keeps what IB sent, clean turns every gap into NULL plus a reason."""

from __future__ import annotations

import dataclasses
import datetime as dt

from opt_data.jobs.rows import clean_option_row, option_quote_row, price, underlying_price
from opt_data.models import Greeks, MarketSnapshot, OptionContract, Underlying

NOW = dt.datetime(2026, 11, 23, 22, 0, tzinfo=dt.UTC)
UNDERLYING = Underlying("BRK.B", "BRK B", 72063691, "STK", "SMART", "NYSE", "USD")
CONTRACT = OptionContract(
    con_id=555,
    symbol="BRK B",
    local_symbol="BRK B 261218C00500000",
    trading_class="BRK B",
    exchange="SMART",
    currency="USD",
    multiplier=100,
    expiration=dt.date(2026, 12, 18),
    strike=500.0,
    right="C",
    nonstandard=False,
)
MODEL = Greeks(0.25, 0.55, 0.01, 0.3, -0.05, 12.3, 0.0, 501.0)
FULL = MarketSnapshot(
    con_id=555,
    received_at=NOW,
    market_data_type=2,
    bid=12.0,
    ask=12.4,
    bid_size=10,
    ask_size=12,
    last=12.2,
    last_size=1,
    volume=340,
    open=11.0,
    high=12.5,
    low=10.9,
    close=11.8,
    call_open_interest=1500,
    put_open_interest=None,
    hist_vol=None,
    implied_vol=None,
    bid_greeks=None,
    ask_greeks=None,
    last_greeks=None,
    model_greeks=MODEL,
    complete=True,
)


def _clean(snapshot: MarketSnapshot) -> dict[str, object]:
    return clean_option_row(
        trade_date=dt.date(2026, 11, 23),
        underlying=UNDERLYING,
        contract=CONTRACT,
        snapshot=snapshot,
        underlying_snapshot=None,
        oi_asof=dt.date(2026, 11, 20),
        run_id="r1",
    )


def test_complete_snapshot_has_no_flags_and_derived_mid() -> None:
    """A full snapshot gives every field, the mid, the OI with its as-of date, no flags."""
    row = _clean(FULL)
    assert row["qa_flags"] == []
    assert row["mid"] == 12.2
    assert row["open_interest"] == 1500 and row["open_interest_asof"] == dt.date(2026, 11, 20)
    assert row["implied_volatility"] == 0.25 and row["underlying_price"] == 501.0
    assert row["underlying_symbol"] == "BRK.B" and row["prev_close"] == 11.8


def test_sentinels_become_null_with_reasons() -> None:
    """−1 quotes, −2 greeks and missing OI are NULL in clean rows, each with its flag."""
    sentinel_greeks = Greeks(None, None, None, -2.0, -2.0, None, None, None)
    snap = dataclasses.replace(
        FULL,
        bid=-1.0,
        ask=-1.0,
        model_greeks=sentinel_greeks,
        call_open_interest=None,
        complete=False,
    )
    row = _clean(snap)
    assert row["bid_eod"] is None and row["ask_eod"] is None and row["mid"] is None
    assert row["vega"] is None and row["theta"] is None and row["open_interest"] is None
    assert row["open_interest_asof"] is None
    for flag in ("no_bid", "no_ask", "iv_missing", "greeks_missing", "oi_missing", "timeout"):
        assert flag in row["qa_flags"]


def test_early_close_rows_carry_half_day() -> None:
    """Rows of a 13:00-close session say so."""
    row = clean_option_row(
        trade_date=dt.date(2026, 11, 27),
        underlying=UNDERLYING,
        contract=CONTRACT,
        snapshot=FULL,
        underlying_snapshot=None,
        oi_asof=dt.date(2026, 11, 25),
        run_id="r1",
        half_day=True,
    )
    assert row["qa_flags"] == ["half_day"]


def test_crossed_and_locked_quotes_are_flagged() -> None:
    """A crossed quote has no mid; a locked one keeps it; both are flagged."""
    crossed = _clean(dataclasses.replace(FULL, bid=13.0, ask=12.0))
    assert "crossed" in crossed["qa_flags"] and crossed["mid"] is None
    locked = _clean(dataclasses.replace(FULL, bid=12.0, ask=12.0))
    assert "locked" in locked["qa_flags"] and locked["mid"] == 12.0


def test_put_open_interest_comes_from_tick_28() -> None:
    """A put's OI is read from putOpenInterest, falling back to the other field."""
    put = dataclasses.replace(CONTRACT, right="P")
    snap = dataclasses.replace(FULL, call_open_interest=None, put_open_interest=77)
    row = clean_option_row(
        trade_date=dt.date(2026, 11, 23),
        underlying=UNDERLYING,
        contract=put,
        snapshot=snap,
        underlying_snapshot=None,
        oi_asof=dt.date(2026, 11, 20),
        run_id="r1",
    )
    assert row["open_interest"] == 77


def test_raw_row_keeps_sentinels() -> None:
    """The raw row is what IB sent: a −1 bid stays −1."""
    row = option_quote_row(dataclasses.replace(FULL, bid=-1.0), "r1")
    assert row["bid"] == -1.0 and row["model_iv"] == 0.25 and row["bid_iv"] is None


def test_price_and_underlying_price_rules() -> None:
    """−1 and DBL_MAX are no price; the underlying falls back from last to mid to close."""
    assert price(-1.0) is None and price(1.7976931348623157e308) is None and price(0.0) == 0.0
    no_last = dataclasses.replace(FULL, last=None)
    assert underlying_price(no_last) == 12.2
    assert underlying_price(dataclasses.replace(no_last, bid=None)) == 11.8
