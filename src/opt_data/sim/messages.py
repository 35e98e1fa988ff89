"""Server→client messages at version 176, and IB's error codes and texts.

Each builder returns the fields of one message (``Fields``); ``protocol.frame`` turns them
into bytes. Layouts are the ones the 176 decoders of ib_insync / ib_async expect, checked in
``shared/research/tws-protocol.md`` §6: messages below id 75 carry a version field except
10, 17 and 21; integer fields are integer text; errors carry a 6th, empty field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from opt_data.sim.instruments import Bar, ChainParams, Greeks, Instrument
from opt_data.sim.protocol import SERVER_VERSION, Fields, fnum


def error(req_id: int, code: int, text: str) -> Fields:
    """``4|2|reqId|code|text|advancedOrderRejectJson``: without the last field it is dropped."""
    return ["4", "2", str(req_id), str(code), text, ""]


def server_hello(at: dt.datetime) -> Fields:
    """The handshake reply: exactly 2 fields, the version and a connection time text."""
    return [str(SERVER_VERSION), at.astimezone(dt.UTC).strftime("%Y%m%d %H:%M:%S") + " GMT"]


def next_valid_id(order_id: int) -> Fields:
    return ["9", "1", str(order_id)]


def managed_accounts(accounts: Sequence[str]) -> Fields:
    return ["15", "1", ",".join(accounts)]


def current_time(at: dt.datetime) -> Fields:
    return ["49", "1", str(int(at.timestamp()))]


def position_end() -> Fields:
    return ["62", "1"]


def open_order_end() -> Fields:
    return ["53", "1"]


def completed_orders_end() -> Fields:
    return ["102"]


def account_value(key: str, value: str, currency: str, account: str) -> Fields:
    return ["6", "2", key, value, currency, account]


def account_time(at: dt.datetime) -> Fields:
    return ["8", "1", at.strftime("%H:%M")]


def account_download_end(account: str) -> Fields:
    return ["54", "1", account]


def account_update_multi(req_id: int, account: str, key: str, value: str, currency: str) -> Fields:
    return ["73", "1", str(req_id), account, "", key, value, currency]


def account_update_multi_end(req_id: int) -> Fields:
    return ["74", "1", str(req_id)]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Fields:
    return ["63", "1", str(req_id), account, tag, value, currency]


def account_summary_end(req_id: int) -> Fields:
    return ["64", "1", str(req_id)]


def exec_details_end(req_id: int) -> Fields:
    return ["55", "1", str(req_id)]


_ORDER_TYPES = "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,LMT,MKT,STP"


def contract_data(
    req_id: int,
    inst: Instrument,
    *,
    under_symbol: str,
    under_sec_type: str,
    trading_hours: str,
    liquid_hours: str,
) -> Fields:
    """One contractData (id 10, no version field at ≥164): 40 fields with no sec ids."""
    is_option = inst.sec_type == "OPT"
    expiry = inst.expiry.strftime("%Y%m%d") if inst.expiry else ""
    return [
        "10",
        str(req_id),
        inst.symbol,
        inst.sec_type,
        expiry,
        fnum(inst.strike),
        inst.right,
        inst.exchange,
        inst.currency,
        inst.local_symbol,
        inst.trading_class,  # marketName
        inst.trading_class,
        str(inst.con_id),
        fnum(inst.min_tick),
        str(inst.multiplier) if is_option else "",
        _ORDER_TYPES,
        "SMART,AMEX,CBOE,ISE,PHLX,BOX" if is_option else "SMART,ARCA,NYSE,NASDAQ,BATS,IEX",
        "1",  # priceMagnifier
        str(inst.under_con_id),
        inst.long_name,
        "" if is_option else inst.primary_exchange,
        expiry[:6],  # contractMonth
        "",  # industry
        "",  # category
        "",  # subcategory
        "US/Eastern",
        trading_hours,
        liquid_hours,
        "",  # evRule
        "",  # evMultiplier
        "0",  # no sec ids
        "2" if is_option else "1",  # aggGroup
        under_symbol if is_option else "",
        under_sec_type if is_option else "",
        "32,32,32,32" if is_option else "26,26,26,26",  # marketRuleIds, one per exchange
        expiry,  # realExpirationDate
        "COMMON" if inst.sec_type == "STK" else "",  # stockType
        "1" if is_option else "0.0001",  # minSize
        "1" if is_option else "0.0001",  # sizeIncrement
        "1" if is_option else "100",  # suggestedSizeIncrement
    ]


def contract_data_end(req_id: int) -> Fields:
    return ["52", "1", str(req_id)]


def sec_def_opt_param(req_id: int, params: ChainParams) -> Fields:
    """One secDefOptParameter (id 75). Nothing may follow the strikes: ib_insync reads them all."""
    return [
        "75",
        str(req_id),
        params.exchange,
        str(params.underlying_con_id),
        params.trading_class,
        str(params.multiplier),
        str(len(params.expirations)),
        *params.expirations,
        str(len(params.strikes)),
        *(fnum(s) for s in params.strikes),
    ]


def sec_def_opt_param_end(req_id: int) -> Fields:
    return ["76", str(req_id)]


def tick_req_params(req_id: int, min_tick: float) -> Fields:
    """tickReqParams (id 81): min tick, BBO exchange id, snapshot permissions bit mask."""
    return ["81", str(req_id), fnum(min_tick), "9c0001", "3"]


def market_data_type(req_id: int, data_type: int) -> Fields:
    return ["58", "1", str(req_id), str(data_type)]


def tick_price(req_id: int, tick: int, price: float, size: int) -> Fields:
    """tickPrice (id 1): exactly 7 fields; −1 is IB's "no price"."""
    return ["1", "6", str(req_id), str(tick), fnum(price), str(size), "0"]


def tick_size(req_id: int, tick: int, size: float) -> Fields:
    return ["2", "6", str(req_id), str(tick), str(int(size))]


def tick_generic(req_id: int, tick: int, value: float) -> Fields:
    return ["45", "6", str(req_id), str(tick), fnum(value)]


def _or(value: float | None, sentinel: float) -> str:
    return fnum(sentinel if value is None else value)


def tick_option_computation(req_id: int, tick: int, greeks: Greeks) -> Fields:
    """tickOptionComputation (id 21): no version field, exactly 12 numeric fields.

    "Not computed" is −1 for IV, prices and pvDividend and −2 for the greeks; an empty field
    would make the client drop the whole message.
    """
    return [
        "21",
        str(req_id),
        str(tick),
        "1",  # price-based
        _or(greeks.implied_vol, -1.0),
        _or(greeks.delta, -2.0),
        _or(greeks.opt_price, -1.0),
        _or(greeks.pv_dividend, -1.0),
        _or(greeks.gamma, -2.0),
        _or(greeks.vega, -2.0),
        _or(greeks.theta, -2.0),
        _or(greeks.und_price, -1.0),
    ]


def tick_snapshot_end(req_id: int) -> Fields:
    return ["57", "1", str(req_id)]


def historical_data(req_id: int, start: str, end: str, bars: Sequence[Sequence[str]]) -> Fields:
    """historicalData (id 17): all bars in one message; each bar is 8 preformatted fields."""
    out = ["17", str(req_id), start, end, str(len(bars))]
    for bar in bars:
        out.extend(bar)
    return out


def bar_fields(bar: Bar, date_text: str) -> list[str]:
    """One bar's 8 fields: date, open, high, low, close, volume, wap, count (int)."""
    return [
        date_text,
        fnum(bar.open),
        fnum(bar.high),
        fnum(bar.low),
        fnum(bar.close),
        fnum(bar.volume),
        fnum(bar.wap),
        str(int(bar.count)),
    ]


def historical_data_update(req_id: int, bar: Bar, date_text: str) -> Fields:
    """historicalDataUpdate (id 90): note the order open, close, high, low."""
    return [
        "90",
        str(req_id),
        str(int(bar.count)),
        date_text,
        fnum(bar.open),
        fnum(bar.close),
        fnum(bar.high),
        fnum(bar.low),
        fnum(bar.wap),
        fnum(bar.volume),
    ]


def head_timestamp(req_id: int, text: str) -> Fields:
    return ["88", str(req_id), text]


# --------------------------------------------------------------------------- IB's error texts
# Codes and texts are identifiers clients match on, so they are IB's, character for character.

RATE_EXCEEDED = (100, "Max rate of messages per second has been exceeded.")
MAX_TICKERS = (101, "Max number of tickers has been reached.")
HMDS_PREFIX = "Historical Market Data Service error message:"
HIST_PACING = (162, HMDS_PREFIX + "Historical data request pacing violation")
NO_SECURITY = (200, "No security definition has been found for the request")
SNAPSHOT_GENERIC = (
    321,
    "Error validating request.-'bM' : cause - Snapshot market data subscription is not "
    "applicable to generic ticks",
)
DUPLICATE_TICKER = (322, "Error processing request.-'bO' : cause - Duplicate ticker id")
CLIENT_ID_IN_USE = (
    326,
    "Unable to connect as the client id is already in use. Retry with a unique client id.",
)
DELAYED_ONLY = (10167, "Requested market data is not subscribed. Displaying delayed market data.")
COMPETING_SESSION = (10197, "No market data during competing live session")
CONNECTIVITY_LOST = (1100, "Connectivity between IB and Trader Workstation has been lost.")
RESTORED_DATA_LOST = (
    1101,
    "Connectivity between IB and Trader Workstation has been restored - data lost.",
)
RESTORED_DATA_KEPT = (
    1102,
    "Connectivity between IB and Trader Workstation has been restored - data maintained.",
)
FARMS_OK = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)


READ_ERROR = (320, "Error reading request.")
END_WITH_LIVE_UPDATES = (
    321,
    "Error validating request.-'bP' : cause - End date not supported with live updates",
)


def bad_end_date(text: str) -> tuple[int, str]:
    """321: an endDateTime TWS cannot read."""
    return (
        321,
        "Error validating request.-'bP' : cause - Historical data query end date/time string "
        f"[{text}] is invalid.  Format is 'YYYYMMDD{{SPACE}}hh:mm:ss[{{SPACE}}TMZ]'.",
    )


def unknown_ticker(req_id: int) -> tuple[int, str]:
    """300: cancelMktData for an id with no open stream."""
    return 300, f"Can't find EId with tickerId:{req_id}"


def hist_cancelled(req_id: int) -> tuple[int, str]:
    """162: a historical request cancelled while it was still being served."""
    return 162, f"{HMDS_PREFIX}API historical data query cancelled: {req_id}"


def hist_unknown(req_id: int) -> tuple[int, str]:
    """366: cancelHistoricalData for an id with no open query."""
    return 366, f"No historical data query found for ticker id:{req_id}"


def too_many_historical(limit: int) -> tuple[int, str]:
    """322: more simultaneous historical requests than the limit (50)."""
    return (
        322,
        "Error processing request:-'bS' : cause - Only "
        f"{limit} simultaneous API historical data requests allowed.",
    )


def not_subscribed(sec_type: str) -> tuple[int, str]:
    """354: live/frozen data requested by an account that only has delayed data."""
    book = f"BEST/{sec_type}/Top"
    return (
        354,
        "Requested market data is not subscribed.Delayed market data is available."
        f"Error&{book}&{book}",
    )


def no_permissions(exchange: str, sec_type: str) -> tuple[int, str]:
    """162: historical bars need a live subscription that a delayed-only account lacks."""
    return 162, f"{HMDS_PREFIX}No market data permissions for {exchange} {sec_type}"
