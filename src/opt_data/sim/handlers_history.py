"""reqHistoricalData (20), cancelHistoricalData (25), reqHeadTimeStamp (87) and its cancel (90).

IB's rules modelled here: at most ``max_open_historical`` open queries (322), where a head
timestamp stays open until the client cancels it (both clients do, right after the answer) and
a keepUpToDate query until it is cancelled; small-bar pacing (162) for bars ≤ 30 s and head
timestamps; cancelling a query still in progress answers 162 "query cancelled", cancelling an
unknown one 366. The bars themselves, and IB's 162 texts for "no data", EODChart and options
IV, come from the market.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opt_data.sim import messages as m
from opt_data.sim import protocol as p
from opt_data.sim.handlers_contracts import resolve
from opt_data.sim.instruments import Bar, Instrument
from opt_data.sim.limits import HistKey, is_small_bar
from opt_data.sim.market import MarketDataError

if TYPE_CHECKING:
    from opt_data.sim.session import Session

NEW_YORK = ZoneInfo("America/New_York")
_BAR_TZ = "US/Eastern"  # how TWS names the exchange time zone in bar dates


@dataclass(slots=True, eq=False)
class HistJob:
    """An open historical query: answered (and streaming updates) or still in progress."""

    req: p.HistoricalRequest
    inst: Instrument
    answered: bool = False
    last_bar: tuple[str, ...] = ()


def req_historical(s: Session, fields: p.Fields) -> None:
    req = p.parse_historical(fields)
    server = s.server
    found = resolve(s, req.contract, include_expired=req.include_expired)
    symbol = found[0].symbol if len(found) == 1 else req.contract.symbol
    server.stats.request("historical", symbol or None)
    if req.req_id in s.historical:
        s.error(req.req_id, m.DUPLICATE_TICKER)
        return
    if len(found) != 1:
        s.error(req.req_id, m.NO_SECURITY)
        return
    inst = found[0]
    end = _parse_end(req.end, server.clock.now())
    if end is None:
        s.error(req.req_id, m.bad_end_date(req.end))
        return
    if req.keep_up_to_date and req.end:
        s.error(req.req_id, m.END_WITH_LIVE_UPDATES)
        return
    key = HistKey(
        str(inst.con_id),
        req.contract.exchange,
        req.what_to_show,
        f"{req.end}|{req.duration}|{req.bar_size}|{req.use_rth}|{req.format_date}",
    )
    if not _admit(s, req.req_id, inst, "historical", key, small=is_small_bar(req.bar_size)):
        return
    job = HistJob(req, inst)
    s.historical[req.req_id] = job

    def answer() -> None:
        if s.historical.get(req.req_id) is not job:
            return  # cancelled meanwhile
        try:
            bars = server.market.bars(
                inst,
                end=end,
                duration=req.duration,
                bar_size=req.bar_size,
                what_to_show=req.what_to_show,
                use_rth=req.use_rth,
                now=server.clock.now(),
            )
        except MarketDataError as exc:
            del s.historical[req.req_id]
            server.close_hist()
            s.error(req.req_id, (exc.code, exc.text))
            return
        job.answered = True
        rows = [m.bar_fields(bar, _bar_date(bar, req.format_date)) for bar in bars]
        start_text = rows[0][0] if rows else _end_text(end)
        # Bookkeeping first: whoever has seen the reply also sees the slot freed.
        if req.keep_up_to_date:
            job.last_bar = tuple(rows[-1]) if rows else ()
            s.call_later(s.server.limits.keep_up_to_date_seconds, lambda: _update(s, job))
        else:
            del s.historical[req.req_id]
            server.close_hist()
        s.send(m.historical_data(req.req_id, start_text, _end_text(end), rows))

    s.reply("historical", answer)


def cancel_historical(s: Session, fields: p.Fields) -> None:
    """``25|1|reqId``: end the query; 162 "cancelled" if still in progress, 366 if unknown."""
    req_id = int(fields[2])
    job = s.historical.pop(req_id, None)
    if job is None:
        s.error(req_id, m.hist_unknown(req_id))
        return
    s.server.close_hist()
    if not job.answered:
        s.error(req_id, m.hist_cancelled(req_id))


def req_head_timestamp(s: Session, fields: p.Fields) -> None:
    req = p.parse_head_timestamp(fields)
    server = s.server
    found = resolve(s, req.contract, include_expired=req.include_expired)
    symbol = found[0].symbol if len(found) == 1 else req.contract.symbol
    server.stats.request("head_timestamp", symbol or None)
    if len(found) != 1:
        s.error(req.req_id, m.NO_SECURITY)
        return
    inst = found[0]
    key = HistKey(
        str(inst.con_id),
        req.contract.exchange,
        req.what_to_show,
        f"head_timestamp|{req.use_rth}|{req.format_date}",
    )
    if not _admit(s, req.req_id, inst, "head_timestamp", key, small=True):
        return
    s.head_timestamps.add(req.req_id)

    def answer() -> None:
        if req.req_id not in s.head_timestamps:
            return
        try:
            first = server.market.head_timestamp(inst, req.what_to_show, now=server.clock.now())
        except MarketDataError as exc:
            s.head_timestamps.discard(req.req_id)
            server.close_hist()
            s.error(req.req_id, (exc.code, exc.text))
            return
        if req.format_date == 2:
            text = str(int(first.timestamp()))
        else:
            text = first.astimezone(dt.UTC).strftime("%Y%m%d-%H:%M:%S")
        s.send(m.head_timestamp(req.req_id, text))

    s.reply("head_timestamp", answer)


def cancel_head_timestamp(s: Session, fields: p.Fields) -> None:
    """``90|reqId``: frees the query's slot (both clients send it after every answer)."""
    req_id = int(fields[1])
    if req_id in s.head_timestamps:
        s.head_timestamps.discard(req_id)
        s.server.close_hist()


def drop_all(s: Session) -> None:
    """Free the slots of every open query of a closed session."""
    for _ in range(len(s.historical) + len(s.head_timestamps)):
        s.server.close_hist()
    s.historical.clear()
    s.head_timestamps.clear()


# --------------------------------------------------------------------------- helpers


def _admit(
    s: Session, req_id: int, inst: Instrument, kind: str, key: HistKey, *, small: bool
) -> bool:
    """IB's checks before a query is accepted; sends the error and returns False if refused."""
    server = s.server
    if server.storm(kind, inst.symbol):
        s.error(req_id, m.HIST_PACING)
        return False
    if server.scenario.delayed_only and inst.sec_type == "OPT":
        s.error(req_id, m.no_permissions(inst.exchange, inst.sec_type))
        return False
    if server.open_historical >= server.limits.max_open_historical:
        server.stats.violation("open_historical")
        s.error(req_id, m.too_many_historical(server.limits.max_open_historical))
        return False
    if small and server.pacing.violation(key, s.loop.time()) is not None:
        server.stats.violation("hist_pacing")
        s.error(req_id, m.HIST_PACING)
        return False
    return server.open_hist()


def _update(s: Session, job: HistJob) -> None:
    """keepUpToDate: re-read the last bar and send it (90) when it changed."""
    if s.historical.get(job.req.req_id) is not job:
        return
    if s.server.connected:
        req = job.req
        now = s.server.clock.now()
        try:
            bars = s.server.market.bars(
                job.inst,
                end=now,
                now=now,
                duration=req.duration,
                bar_size=req.bar_size,
                what_to_show=req.what_to_show,
                use_rth=req.use_rth,
            )
        except MarketDataError:
            bars = []
        if bars:
            bar = bars[-1]
            date_text = _bar_date(bar, req.format_date)
            row = tuple(m.bar_fields(bar, date_text))
            if row != job.last_bar:
                job.last_bar = row
                s.send(m.historical_data_update(req.req_id, bar, date_text))
    s.call_later(s.server.limits.keep_up_to_date_seconds, lambda: _update(s, job))


def _parse_end(text: str, now: dt.datetime) -> dt.datetime | None:
    """IB's endDateTime: '' (now), ``YYYYMMDD HH:MM:SS[ tz]`` or ``YYYYMMDD-HH:MM:SS`` (UTC)."""
    if not text:
        return now
    try:
        if "-" in text and " " not in text:
            return dt.datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=dt.UTC)
        parts = text.split()
        stamp = dt.datetime.strptime(f"{parts[0]} {parts[1]}", "%Y%m%d %H:%M:%S")
        if len(parts) == 2:
            # Without a zone TWS reads the time in its login zone: the exchange's here.
            return stamp.replace(tzinfo=NEW_YORK)
        return stamp.replace(tzinfo=dt.UTC if parts[2] == "UTC" else ZoneInfo(parts[2]))
    except (ValueError, IndexError, ZoneInfoNotFoundError):
        return None


def _bar_date(bar: Bar, format_date: int) -> str:
    """Daily bars: ``YYYYMMDD``; intraday: exchange time with its zone, or epoch seconds."""
    if not isinstance(bar.start, dt.datetime):
        return bar.start.strftime("%Y%m%d")
    if format_date == 2:
        return str(int(bar.start.timestamp()))
    return bar.start.astimezone(NEW_YORK).strftime("%Y%m%d %H:%M:%S ") + _BAR_TZ


def _end_text(end: dt.datetime) -> str:
    return end.astimezone(NEW_YORK).strftime("%Y%m%d %H:%M:%S ") + _BAR_TZ
