"""IB's answers → dataset rows (pure; table-tested).

Raw rows keep what IB sent, sentinels included, so nothing is lost. Clean rows follow Cboe's
Option EOD Summary names with IvyDB-style flags: anything missing is NULL plus a reason in
``qa_flags`` — never 0, −1 or DBL_MAX.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from opt_data.models import Greeks, MarketSnapshot, OptionContract, Underlying

_DBL_MAX_ISH = 1e300
_GREEK_SOURCES = ("bid", "ask", "last", "model")
_GREEK_FIELDS = ("iv", "delta", "gamma", "vega", "theta", "opt_price", "pv_dividend", "und_price")


def price(value: float | None) -> float | None:
    """A price IB really quoted: −1 ("no price"), NaN and DBL_MAX become None; 0 stays 0."""
    if value is None or value < 0 or value > _DBL_MAX_ISH:
        return None
    return value


def size(value: float | None) -> int | None:
    if value is None or value < 0 or value > _DBL_MAX_ISH:
        return None
    return int(value)


def _greek(value: float | None, sentinel: float) -> float | None:
    """IB marks "not computed" with −1 (iv, prices) or −2 (greeks); the clients leak −2."""
    if value is None or value == sentinel or abs(value) > _DBL_MAX_ISH:
        return None
    return value


def open_interest(snapshot: MarketSnapshot, right: str) -> float | None:
    """The contract's own OI: calls arrive on tick 27, puts on tick 28."""
    call, put = snapshot.call_open_interest, snapshot.put_open_interest
    preferred, other = (call, put) if right == "C" else (put, call)
    return preferred if preferred is not None else other


def chain_row(contract: OptionContract, discovered_at: dt.datetime, run_id: str) -> dict[str, Any]:
    return {
        "con_id": contract.con_id,
        "symbol": contract.symbol,
        "sec_type": "OPT",
        "local_symbol": contract.local_symbol,
        "trading_class": contract.trading_class,
        "exchange": contract.exchange,
        "currency": contract.currency,
        "multiplier": contract.multiplier,
        "expiration": contract.expiration,
        "strike": contract.strike,
        "right": contract.right,
        "nonstandard": contract.nonstandard,
        "discovered_at": discovered_at,
        "run_id": run_id,
    }


def _greek_columns(source: str, greeks: Greeks | None) -> dict[str, float | None]:
    values = (
        (None,) * len(_GREEK_FIELDS)
        if greeks is None
        else (
            greeks.implied_vol,
            greeks.delta,
            greeks.gamma,
            greeks.vega,
            greeks.theta,
            greeks.opt_price,
            greeks.pv_dividend,
            greeks.und_price,
        )
    )
    return {f"{source}_{name}": value for name, value in zip(_GREEK_FIELDS, values, strict=True)}


def _received(snapshot: MarketSnapshot) -> dict[str, Any]:
    """The quote fields raw option and underlying rows share, as IB sent them."""
    return {
        "received_at": snapshot.received_at,
        "market_data_type": snapshot.market_data_type,
        "bid": snapshot.bid,
        "ask": snapshot.ask,
        "last": snapshot.last,
        "close": snapshot.close,
        "open": snapshot.open,
        "high": snapshot.high,
        "low": snapshot.low,
        "volume": snapshot.volume,
    }


def option_quote_row(snapshot: MarketSnapshot, run_id: str) -> dict[str, Any]:
    """The raw row: every field as received."""
    row: dict[str, Any] = {
        "con_id": snapshot.con_id,
        **_received(snapshot),
        "bid_size": snapshot.bid_size,
        "ask_size": snapshot.ask_size,
        "last_size": snapshot.last_size,
        "call_open_interest": snapshot.call_open_interest,
        "put_open_interest": snapshot.put_open_interest,
    }
    for source in _GREEK_SOURCES:
        row.update(_greek_columns(source, getattr(snapshot, f"{source}_greeks")))
    row["complete"] = snapshot.complete
    row["errors"] = list(snapshot.errors)
    row["run_id"] = run_id
    return row


def underlying_quote_row(
    underlying: Underlying, snapshot: MarketSnapshot, run_id: str
) -> dict[str, Any]:
    return {
        "con_id": underlying.con_id,
        "symbol": underlying.symbol,
        **_received(snapshot),
        "hist_vol": snapshot.hist_vol,
        "implied_vol": snapshot.implied_vol,
        "run_id": run_id,
    }


def underlying_price(snapshot: MarketSnapshot | None) -> float | None:
    """The underlying's price for the moneyness band: last trade, else mid, else close."""
    if snapshot is None:
        return None
    last = price(snapshot.last)
    if last:
        return last
    bid, ask = price(snapshot.bid), price(snapshot.ask)
    if bid and ask and ask >= bid:
        return (bid + ask) / 2
    return price(snapshot.close) or None


def clean_option_row(
    *,
    trade_date: dt.date,
    underlying: Underlying,
    contract: OptionContract,
    snapshot: MarketSnapshot,
    underlying_snapshot: MarketSnapshot | None,
    oi_asof: dt.date,
    run_id: str,
    half_day: bool = False,
) -> dict[str, Any]:
    """One clean row per contract per trading date, with a reason for every gap."""
    flags: list[str] = []
    bid, ask = price(snapshot.bid), price(snapshot.ask)
    if bid is None:
        flags.append("no_bid")
    elif bid == 0:
        flags.append("zero_bid")
    if ask is None:
        flags.append("no_ask")
    mid = None
    if bid is not None and ask is not None:
        if bid > ask:
            flags.append("crossed")
        elif bid == ask and bid > 0:
            flags.append("locked")
        if bid <= ask:
            mid = (bid + ask) / 2
    model = snapshot.model_greeks or Greeks(None, None, None, None, None, None, None, None)
    iv = _greek(model.implied_vol, -1.0)
    delta, gamma = _greek(model.delta, -2.0), _greek(model.gamma, -2.0)
    vega, theta = _greek(model.vega, -2.0), _greek(model.theta, -2.0)
    if iv is None:
        flags.append("iv_missing")
    if None in (delta, gamma, vega, theta):
        flags.append("greeks_missing")
    oi = size(open_interest(snapshot, contract.right))
    if oi is None:
        flags.append("oi_missing")
    und_price = _greek(model.und_price, -1.0)
    und_bid = price(underlying_snapshot.bid) if underlying_snapshot else None
    und_ask = price(underlying_snapshot.ask) if underlying_snapshot else None
    und_last = price(underlying_snapshot.last) if underlying_snapshot else None
    if und_price is None and und_last is None:
        flags.append("underlying_missing")
    if not snapshot.complete:
        flags.append("timeout" if not snapshot.errors else "ib_error")
    if contract.nonstandard:
        flags.append("nonstandard")
    if half_day:
        flags.append("half_day")
    return {
        "quote_date": trade_date,
        "underlying_symbol": underlying.symbol,
        "root": contract.trading_class,
        "occ_symbol": contract.local_symbol,
        "con_id": contract.con_id,
        "expiration": contract.expiration,
        "strike": contract.strike,
        "option_type": contract.right,
        "multiplier": contract.multiplier,
        "nonstandard": contract.nonstandard,
        "bid_eod": bid,
        "ask_eod": ask,
        "bid_size_eod": size(snapshot.bid_size) if bid is not None else None,
        "ask_size_eod": size(snapshot.ask_size) if ask is not None else None,
        "mid": mid,
        "last": price(snapshot.last),
        "prev_close": price(snapshot.close),
        "trade_volume": size(snapshot.volume),
        "open_interest": oi,
        "open_interest_asof": oi_asof if oi is not None else None,
        "implied_volatility": iv,
        "delta": delta,
        "gamma": gamma,
        "vega": vega,
        "theta": theta,
        "model_price": _greek(model.opt_price, -1.0),
        "pv_dividend": _greek(model.pv_dividend, -1.0),
        "underlying_price": und_price if und_price is not None else und_last,
        "underlying_bid": und_bid,
        "underlying_ask": und_ask,
        "underlying_last": und_last,
        "snapshot_ts": snapshot.received_at,
        "market_data_type": snapshot.market_data_type,
        "source": "snapshot",
        "run_id": run_id,
        "qa_flags": flags,
    }
