"""reqMarketDataType (59), reqMktData (1) and cancelMktData (2): streams and snapshots.

What IB sends depends on the requested data type, the account and the clock:

=========  ==============================  =================================================
type       market open                     market closed
=========  ==============================  =================================================
1 live     live ticks                      bid/ask −1 (size 0); last, close, volume kept
2 frozen   live ticks (type 1)             the closing values, announced as type 2
3 delayed  live if subscribed, else        as type 1 but ``delayed_minutes`` old, on the
           delayed ticks (66.., 80..83)    delayed tick ids, and no greeks
4 d-frozen as 2, or delayed-frozen ids     closing values on the delayed ids (type 4)
=========  ==============================  =================================================

A delayed-only account (scenario) gets 354 for types 1/2 and 10167 before delayed ticks.
Every open stream holds a market-data line; a snapshot holds one until its 57 is sent.
Streams are refreshed every ``tick_interval_seconds`` and only changed values are re-sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opt_data.sim import messages as m
from opt_data.sim import protocol as p
from opt_data.sim.handlers_contracts import resolve_one
from opt_data.sim.instruments import Greeks, Instrument, Quote, StockState
from opt_data.sim.market import MarketDataError
from opt_data.sim.scenario import share_hit

if TYPE_CHECKING:
    from opt_data.sim.session import Session

# (live, delayed) tick ids
_BID = (1, 66)
_ASK = (2, 67)
_LAST = (4, 68)
_HIGH = (6, 72)
_LOW = (7, 73)
_VOLUME = (8, 74)
_CLOSE = (9, 75)
_OPEN = (14, 76)
_GREEKS = ((10, 80), (11, 81), (12, 82), (13, 83))  # bid, ask, last, model

_NO_SIZE_TICKS = (_HIGH, _LOW, _CLOSE, _OPEN)


@dataclass(slots=True, eq=False)
class Stream:
    """One open reqMktData: what it is for and what was last sent per tick."""

    req_id: int
    inst: Instrument
    generic: frozenset[int]
    snapshot: bool
    data_type: int  # the effective type (what 58 announced, 1 if none)
    sent: dict[tuple[int, int], tuple[str, ...]] = field(default_factory=dict)
    # The closed session whose final values were last sent: nothing changes until the open.
    quiet_session: dt.date | None = None


def market_data_type(s: Session, fields: p.Fields) -> None:
    """``59|1|type``: applies to later reqMktData on this connection; IB sends no reply."""
    data_type = int(fields[2])
    if 1 <= data_type <= 4:
        s.data_type = data_type


def req_mkt_data(s: Session, fields: p.Fields) -> None:
    req = p.parse_mkt_data(fields)
    kind = "snapshot" if req.snapshot else "market_data"
    server = s.server
    if req.req_id in s.streams:
        server.stats.request(kind, req.contract.symbol or None)
        s.error(req.req_id, m.DUPLICATE_TICKER)
        return
    if req.snapshot and req.generic:
        server.stats.request(kind, req.contract.symbol or None)
        server.stats.violation("snapshot_generic")
        s.error(req.req_id, m.SNAPSHOT_GENERIC)
        return
    inst = resolve_one(s, req.req_id, req.contract)
    server.stats.request(kind, inst.symbol if inst else req.contract.symbol or None)
    if inst is None:
        return
    if server.storm(kind, inst.symbol):
        s.error(req.req_id, m.RATE_EXCEEDED)
        return
    competing = server.scenario.competing_session
    if competing is not None and (not competing.symbols or inst.symbol in competing.symbols):
        s.error(req.req_id, m.COMPETING_SESSION)
        return
    delayed_only = server.scenario.delayed_only
    if delayed_only and s.data_type in (1, 2):
        s.error(req.req_id, m.not_subscribed(inst.sec_type))
        return
    if not server.take_line():
        server.stats.violation("lines")
        s.error(req.req_id, m.MAX_TICKERS)
        return
    stream = Stream(req.req_id, inst, req.generic, req.snapshot, _effective_type(s))
    s.streams[req.req_id] = stream

    def start() -> None:
        if s.streams.get(stream.req_id) is not stream:
            return  # cancelled before the first reply
        messages = [m.tick_req_params(stream.req_id, inst.min_tick)]
        if stream.data_type != 1:
            messages.append(m.market_data_type(stream.req_id, stream.data_type))
        s.send_many(messages)
        if delayed_only:
            s.error(stream.req_id, m.DELAYED_ONLY)
        try:
            ticks = _ticks(s, stream)
        except MarketDataError as exc:  # e.g. delayed data from before the contract listed
            del s.streams[stream.req_id]
            server.release_line()
            s.error(stream.req_id, (exc.code, exc.text))
            return
        s.send_many(_changed(stream, ticks))
        if stream.snapshot:
            s.call_later(server.limits.snapshot_seconds, lambda: _end_snapshot(s, stream))
        else:
            s.start_ticker()

    s.reply(kind, start)


def cancel_mkt_data(s: Session, fields: p.Fields) -> None:
    """``2|2|reqId``: stop the stream and free its line; an unknown id gets IB's 300."""
    req_id = int(fields[2])
    if s.streams.pop(req_id, None) is None:
        s.error(req_id, m.unknown_ticker(req_id))
        return
    s.server.release_line()


def drop_all(s: Session) -> None:
    """Forget every stream of the session and free their lines (disconnect, 1101)."""
    for _ in range(len(s.streams)):
        s.server.release_line()
    s.streams.clear()


def refresh(s: Session) -> None:
    """Re-read the market for every open stream and send what changed."""
    out: list[p.Fields] = []
    market = s.server.market
    now = s.server.clock.now()
    for stream in list(s.streams.values()):
        if stream.snapshot:
            continue
        at = _delayed_now(s) if stream.data_type in (3, 4) else now
        if not market.is_open(at) and stream.quiet_session == market.session_of(at):
            continue  # a closed market does not move: skip the pricing work
        try:
            out.extend(_changed(stream, _ticks(s, stream)))
        except MarketDataError:
            continue  # the contract expired under a running clock: IB just goes quiet
    s.send_many(out)


def _end_snapshot(s: Session, stream: Stream) -> None:
    if s.streams.get(stream.req_id) is stream:
        del s.streams[stream.req_id]
        s.server.release_line()
        s.send(m.tick_snapshot_end(stream.req_id))


# --------------------------------------------------------------------------- what to send


def _effective_type(s: Session) -> int:
    """The data type IB actually serves for a request made now (see the module table)."""
    requested = s.data_type
    if not s.server.scenario.delayed_only:
        if requested in (2, 4) and not s.server.market.is_open(s.server.clock.now()):
            return 2
        return 1  # live is available, so delayed requests get live data
    if requested == 4 and not s.server.market.is_open(_delayed_now(s)):
        return 4
    return 3


def _delayed_now(s: Session) -> dt.datetime:
    return s.server.clock.now() - dt.timedelta(minutes=s.server.limits.delayed_minutes)


def _ticks(s: Session, stream: Stream) -> list[tuple[tuple[int, int], p.Fields]]:
    """Every tick the stream carries right now, keyed by (message id, tick id)."""
    market = s.server.market
    delayed = stream.data_type in (3, 4)
    at = _delayed_now(s) if delayed else s.server.clock.now()
    # Live (1) and delayed (3) lose their quotes when the market is closed; the frozen
    # types (2, 4) keep the closing values.
    is_open = market.is_open(at)
    stream.quiet_session = None if is_open else market.session_of(at)
    quotes_gone = stream.data_type in (1, 3) and not is_open
    col = 1 if delayed else 0
    rid = stream.req_id
    inst = stream.inst
    out: list[tuple[tuple[int, int], p.Fields]] = []
    if inst.sec_type == "OPT":
        state = market.option_state(inst, at)
        out.extend(_quote_ticks(rid, state.quote, col, quotes_gone))
        seed = s.server.seed
        missing = s.server.scenario.missing
        if not (quotes_gone and delayed) and not share_hit(
            seed, inst.con_id, "greeks", missing.greeks_share
        ):
            sources: tuple[Greeks, ...] = (
                state.bid_greeks,
                state.ask_greeks,
                state.last_greeks,
                state.model_greeks,
            )
            for ticks, greeks in zip(_GREEKS, sources, strict=True):
                if quotes_gone and ticks[0] in (10, 11):
                    continue  # no quote, nothing to imply a volatility from
                tick = ticks[col]
                out.append(((21, tick), m.tick_option_computation(rid, tick, greeks)))
        call = inst.right == "C"
        if 100 in stream.generic:
            tick = 29 if call else 30
            out.append(((2, tick), m.tick_size(rid, tick, state.quote.volume)))
        if 101 in stream.generic and not share_hit(seed, inst.con_id, "oi", missing.oi_share):
            tick = 27 if call else 28
            out.append(((2, tick), m.tick_size(rid, tick, state.open_interest)))
        if stream.generic & {104, 106}:
            under = market.instrument(inst.under_con_id)
            if under is not None:
                out.extend(_vol_ticks(rid, stream.generic, market.stock_state(under, at)))
        return out
    stock = market.stock_state(inst, at)
    out.extend(_quote_ticks(rid, stock.quote, col, quotes_gone))
    if 100 in stream.generic:
        out.append(((2, 29), m.tick_size(rid, 29, stock.call_volume)))
        out.append(((2, 30), m.tick_size(rid, 30, stock.put_volume)))
    if 101 in stream.generic:
        out.append(((2, 27), m.tick_size(rid, 27, stock.call_open_interest)))
        out.append(((2, 28), m.tick_size(rid, 28, stock.put_open_interest)))
    out.extend(_vol_ticks(rid, stream.generic, stock))
    return out


def _quote_ticks(
    rid: int, quote: Quote, col: int, quotes_gone: bool
) -> list[tuple[tuple[int, int], p.Fields]]:
    out: list[tuple[tuple[int, int], p.Fields]] = []
    for ticks, price, size in (
        (_BID, quote.bid, quote.bid_size),
        (_ASK, quote.ask, quote.ask_size),
    ):
        tick = ticks[col]
        if quotes_gone or price is None or size <= 0:
            # −1 with size 0 is IB's "no quote"; a real price always goes with a real size.
            out.append(((1, tick), m.tick_price(rid, tick, -1.0, 0)))
        else:
            out.append(((1, tick), m.tick_price(rid, tick, price, size)))
    if quote.last is not None:
        tick = _LAST[col]
        out.append(((1, tick), m.tick_price(rid, tick, quote.last, quote.last_size)))
    for ticks, value in zip(
        _NO_SIZE_TICKS, (quote.high, quote.low, quote.close, quote.open), strict=True
    ):
        if value is not None:
            tick = ticks[col]
            out.append(((1, tick), m.tick_price(rid, tick, value, 0)))
    tick = _VOLUME[col]
    out.append(((2, tick), m.tick_size(rid, tick, quote.volume)))
    return out


def _vol_ticks(
    rid: int, generic: frozenset[int], stock: StockState
) -> list[tuple[tuple[int, int], p.Fields]]:
    out: list[tuple[tuple[int, int], p.Fields]] = []
    if 104 in generic:
        out.append(((45, 23), m.tick_generic(rid, 23, stock.hist_vol)))
    if 106 in generic:
        out.append(((45, 24), m.tick_generic(rid, 24, stock.implied_vol)))
    return out


def _changed(stream: Stream, ticks: list[tuple[tuple[int, int], p.Fields]]) -> list[p.Fields]:
    """The ticks whose value differs from what the stream last sent (all of them at first)."""
    out: list[p.Fields] = []
    sent = stream.sent
    for key, fields in ticks:
        value = tuple(fields[3:])
        if sent.get(key) != value:
            sent[key] = value
            out.append(fields)
    return out
