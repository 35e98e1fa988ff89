"""The TWS socket wire format at server version 176: framing, field codecs, message builders.

Everything here is pure: bytes in, fields out, and fields in, bytes out. Layouts follow
``shared/research/tws-protocol.md`` (checked against unmodified ib_insync 0.9.86 and ib_async
2.1.0). Three rules the clients enforce silently, by dropping the message:

* messages below id 75 carry a version field after the id, except 10, 17 and 21;
* integer fields (reqId, conId, tick type, bar count...) must be integer text;
* the error message carries a 6th field (advancedOrderRejectJson), even when empty.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from opt_data.sim.instruments import Bar, ChainParams, Greeks, Instrument

SERVER_VERSION = 176
MIN_CLIENT_VERSION = 157
API_PREFIX = b"API\0"
_LENGTH = struct.Struct(">I")
# A frame larger than this is a garbage stream, not a request: the session drops it.
MAX_FRAME = 1 << 24

Fields = list[str]


class In(IntEnum):
    """Client→server message ids the gateway understands."""

    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    REQ_OPEN_ORDERS = 5
    REQ_ACCOUNT_UPDATES = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DATA = 9
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_HISTORICAL_DATA = 20
    CANCEL_HISTORICAL_DATA = 25
    REQ_CURRENT_TIME = 49
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    REQ_ACCOUNT_SUMMARY = 62
    CANCEL_ACCOUNT_SUMMARY = 63
    CANCEL_POSITIONS = 64
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    CANCEL_ACCOUNT_UPDATES_MULTI = 77
    REQ_SEC_DEF_OPT_PARAMS = 78
    REQ_HEAD_TIMESTAMP = 87
    CANCEL_HEAD_TIMESTAMP = 90
    REQ_COMPLETED_ORDERS = 99


class Out(IntEnum):
    """Server→client message ids the gateway sends."""

    TICK_PRICE = 1
    TICK_SIZE = 2
    ERROR = 4
    ACCOUNT_VALUE = 6
    ACCOUNT_TIME = 8
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    MANAGED_ACCOUNTS = 15
    HISTORICAL_DATA = 17
    TICK_OPTION_COMPUTATION = 21
    TICK_GENERIC = 45
    TICK_STRING = 46
    CURRENT_TIME = 49
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCOUNT_DOWNLOAD_END = 54
    EXEC_DETAILS_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    SEC_DEF_OPT_PARAM = 75
    SEC_DEF_OPT_PARAM_END = 76
    TICK_REQ_PARAMS = 81
    HEAD_TIMESTAMP = 88
    HISTORICAL_DATA_UPDATE = 90
    COMPLETED_ORDERS_END = 102


def message_name(msg_id: int, *, incoming: bool) -> str:
    """A readable name for counters: the enum member name, or the bare id if unknown."""
    enum: type[IntEnum] = In if incoming else Out
    try:
        return enum(msg_id).name.lower()
    except ValueError:
        return str(msg_id)


# --------------------------------------------------------------------------- framing


def frame(fields: Sequence[str]) -> bytes:
    """One length-prefixed message: every field NUL-terminated, as the clients split it."""
    payload = ("\0".join(fields) + "\0").encode()
    return _LENGTH.pack(len(payload)) + payload


class FrameDecoder:
    """Reassembles length-prefixed payloads from arbitrary TCP chunks.

    The stream starts with the raw ``API\\0`` prefix, which has no length; after it every
    message (the handshake included) is ``uint32 length`` + payload.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._prefix_seen = False

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return every payload now complete. Raises ValueError on a bad stream."""
        self._buf += data
        if not self._prefix_seen:
            if len(self._buf) < len(API_PREFIX):
                if not API_PREFIX.startswith(bytes(self._buf)):
                    raise ValueError("stream does not start with API\\0")
                return []
            if not self._buf.startswith(API_PREFIX):
                raise ValueError("stream does not start with API\\0")
            del self._buf[: len(API_PREFIX)]
            self._prefix_seen = True
        out: list[bytes] = []
        pos = 0
        buf = self._buf
        while len(buf) - pos >= 4:
            (size,) = _LENGTH.unpack_from(buf, pos)
            if size > MAX_FRAME:
                raise ValueError(f"frame of {size} bytes")
            end = pos + 4 + size
            if len(buf) < end:
                break
            out.append(bytes(buf[pos + 4 : end]))
            pos = end
        if pos:
            del buf[:pos]
        return out


def split_fields(payload: bytes) -> Fields:
    """The text fields of one payload (the trailing NUL's empty element dropped)."""
    fields = payload.decode(errors="backslashreplace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


def parse_handshake(payload: bytes) -> tuple[int, int]:
    """``v157..176[ options]`` → (min, max) client version. Raises ValueError if malformed."""
    text = payload.decode(errors="replace").split(" ", 1)[0]
    if not text.startswith("v"):
        raise ValueError(f"bad handshake {text!r}")
    low, sep, high = text[1:].partition("..")
    return int(low), int(high if sep else low)


# --------------------------------------------------------------------------- field codecs


def fnum(value: float) -> str:
    """A float as the clients parse it: shortest round-trip text (``500.0``, ``1e-05``)."""
    return repr(float(value))


def fint(value: int) -> str:
    """Integer text; the clients' ``int()`` rejects ``1.0``."""
    return str(int(value))


def to_int(text: str) -> int:
    """Request integer field; '' (unset) is 0."""
    return int(text) if text else 0


def to_float(text: str) -> float:
    """Request float field; '' (unset) is 0.0 and ``Infinite`` is +inf."""
    if not text:
        return 0.0
    if text == "Infinite":
        return float("inf")
    return float(text)


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """The 12 contract fields every request carries, as the client sent them."""

    con_id: int
    symbol: str
    sec_type: str
    expiry: str  # lastTradeDateOrContractMonth: '', YYYYMM or YYYYMMDD
    strike: float  # 0.0 = unset
    right: str  # '', 'C' or 'P' (CALL/PUT normalised)
    multiplier: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str

    @property
    def label(self) -> str:
        """A short description for error texts and logs."""
        return self.local_symbol or self.symbol or str(self.con_id)


CONTRACT_FIELDS = 12


def parse_contract(fields: Sequence[str], at: int) -> ContractSpec:
    """The contract starting at ``fields[at]``; raises IndexError/ValueError when malformed."""
    f = fields[at : at + CONTRACT_FIELDS]
    if len(f) < CONTRACT_FIELDS:
        raise IndexError("contract truncated")
    right = f[5].upper()
    right = {"CALL": "C", "PUT": "P"}.get(right, right)
    return ContractSpec(
        con_id=to_int(f[0]),
        symbol=f[1],
        sec_type=f[2].upper(),
        expiry=f[3],
        strike=to_float(f[4]),
        right=right,
        multiplier=f[6],
        exchange=f[7],
        primary_exchange=f[8],
        currency=f[9],
        local_symbol=f[10],
        trading_class=f[11],
    )


@dataclass(frozen=True, slots=True)
class MktDataRequest:
    """reqMktData (id 1)."""

    req_id: int
    contract: ContractSpec
    generic: frozenset[int]
    snapshot: bool


def parse_mkt_data(fields: Sequence[str]) -> MktDataRequest:
    """``1|11|reqId|<C>|[BAG legs]|dnc|[dnc fields]|generic|snapshot|regSnapshot|options``."""
    req_id = int(fields[2])
    contract = parse_contract(fields, 3)
    i = 3 + CONTRACT_FIELDS
    if contract.sec_type == "BAG":
        i += 1 + 4 * to_int(fields[i])
    if fields[i] == "1":  # delta-neutral contract: conId, delta, price follow
        i += 3
    i += 1
    generic = frozenset(int(t) for t in fields[i].split(",") if t.strip())
    snapshot = fields[i + 1] == "1" or fields[i + 2] == "1"
    return MktDataRequest(req_id, contract, generic, snapshot)


@dataclass(frozen=True, slots=True)
class ContractDetailsRequest:
    """reqContractDetails (id 9)."""

    req_id: int
    contract: ContractSpec
    include_expired: bool


def parse_contract_details(fields: Sequence[str]) -> ContractDetailsRequest:
    """``9|8|reqId|<C>|includeExpired|secIdType|secId|issuerId``."""
    contract = parse_contract(fields, 3)
    include_expired = fields[3 + CONTRACT_FIELDS] == "1"
    return ContractDetailsRequest(int(fields[2]), contract, include_expired)


@dataclass(frozen=True, slots=True)
class SecDefRequest:
    """reqSecDefOptParams (id 78)."""

    req_id: int
    symbol: str
    fut_fop_exchange: str
    sec_type: str
    con_id: int


def parse_sec_def(fields: Sequence[str]) -> SecDefRequest:
    """``78|reqId|symbol|futFopExchange|secType|conId`` (no version field)."""
    return SecDefRequest(int(fields[1]), fields[2], fields[3], fields[4], to_int(fields[5]))


@dataclass(frozen=True, slots=True)
class HistoricalRequest:
    """reqHistoricalData (id 20)."""

    req_id: int
    contract: ContractSpec
    include_expired: bool
    end: str  # '' = now, else 'YYYYMMDD HH:MM:SS[ tz]' or 'YYYYMMDD-HH:MM:SS'
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool


def parse_historical(fields: Sequence[str]) -> HistoricalRequest:
    """``20|reqId|<C>|includeExpired|end|barSize|duration|useRTH|what|formatDate|[legs]|keep|opts``.

    Note the order: bar size before duration.
    """
    req_id = int(fields[1])
    contract = parse_contract(fields, 2)
    i = 2 + CONTRACT_FIELDS
    rest = fields[i : i + 7]
    if len(rest) < 7:
        raise IndexError("historical request truncated")
    include_expired, end, bar_size, duration, use_rth, what, fmt = rest
    j = i + 7
    if contract.sec_type == "BAG":
        j += 1 + 4 * to_int(fields[j])
    keep = len(fields) > j and fields[j] == "1"
    return HistoricalRequest(
        req_id=req_id,
        contract=contract,
        include_expired=include_expired == "1",
        end=end.strip(),
        bar_size=bar_size.strip(),
        duration=duration.strip(),
        use_rth=use_rth == "1",
        what_to_show=what.strip().upper(),
        format_date=to_int(fmt) or 1,
        keep_up_to_date=keep,
    )


@dataclass(frozen=True, slots=True)
class HeadTimestampRequest:
    """reqHeadTimeStamp (id 87)."""

    req_id: int
    contract: ContractSpec
    include_expired: bool
    use_rth: bool
    what_to_show: str
    format_date: int


def parse_head_timestamp(fields: Sequence[str]) -> HeadTimestampRequest:
    """``87|reqId|<C>|includeExpired|useRTH|whatToShow|formatDate`` (no version field)."""
    contract = parse_contract(fields, 2)
    i = 2 + CONTRACT_FIELDS
    return HeadTimestampRequest(
        req_id=int(fields[1]),
        contract=contract,
        include_expired=fields[i] == "1",
        use_rth=fields[i + 1] == "1",
        what_to_show=fields[i + 2].strip().upper(),
        format_date=to_int(fields[i + 3]) or 1,
    )


def request_id(fields: Sequence[str]) -> int:
    """The reqId of a request, where the layout has one; −1 otherwise (IB's "no request")."""
    try:
        msg = int(fields[0])
        if msg in (In.REQ_SEC_DEF_OPT_PARAMS, In.REQ_HISTORICAL_DATA, In.REQ_HEAD_TIMESTAMP):
            return int(fields[1])  # no version field in these layouts
        if msg in _VERSIONED_WITH_ID:
            return int(fields[2])
    except (ValueError, IndexError):
        pass
    return -1


_VERSIONED_WITH_ID = frozenset(
    {
        In.REQ_MKT_DATA,
        In.CANCEL_MKT_DATA,
        In.REQ_CONTRACT_DATA,
        In.CANCEL_HISTORICAL_DATA,
        In.REQ_EXECUTIONS,
        In.REQ_ACCOUNT_SUMMARY,
        In.REQ_ACCOUNT_UPDATES_MULTI,
    }
)


# --------------------------------------------------------------------------- replies


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
        "" if is_option else "COMMON",  # stockType
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


def tick_string(req_id: int, tick: int, value: str) -> Fields:
    return ["46", "6", str(req_id), str(tick), value]


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
