"""The TWS socket wire format at server version 176: framing, field codecs, requests.

Everything here is pure: bytes in, fields out. Layouts follow
``shared/research/tws-protocol.md`` (checked against unmodified ib_insync 0.9.86 and ib_async
2.1.0); what the server sends back is built in ``messages``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

SERVER_VERSION = 176
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
