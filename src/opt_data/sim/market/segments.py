"""Bar arithmetic: stretches of one series ("segments") and their aggregation into bars.

A segment is the smallest piece the market knows: one step between two sampled minutes
(open = value at its start, close = value at its end) or one option trade. Bars are runs
of segments that share a UTC-aligned bucket (intraday) or a session/week/month (daily).
BID_ASK bars follow IB: open = average bid, high = highest ask, low = lowest bid, close =
average ask. Bars without volume (quotes, volatilities) carry IB's -1 volume/WAP/count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from opt_data.sim.instruments import Bar
from opt_data.sim.market.calendar import NEW_YORK, Sessions

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_SHARES_PER_TRADE = 150.0


@dataclass(frozen=True, slots=True)
class Segments:
    """Parallel arrays, one entry per segment, in time order."""

    ts: IntArray  # epoch seconds at which the segment starts
    session: IntArray
    open_ts: IntArray  # open of the segment's session
    o: FloatArray
    h: FloatArray
    low: FloatArray
    c: FloatArray
    volume: FloatArray  # -1 where the series has no volume
    wap: FloatArray
    count: FloatArray

    @staticmethod
    def from_points(
        sessions: Sessions,
        i: int,
        points: IntArray,
        bid: FloatArray,
        ask: FloatArray,
        what: str,
        volume: FloatArray | None,
        extremes: tuple[float, float] | None,
    ) -> Segments:
        """Segments between consecutive sampled minutes ``points`` of session ``i``.

        ``bid``/``ask`` are the series at the points (equal for one-sided series);
        ``extremes`` (high, low) override the endpoint-based high/low of a single segment.
        """
        if what == "BID_ASK":
            o, c = bid[:-1], ask[:-1]
            h, low = np.maximum(ask[:-1], ask[1:]), np.minimum(bid[:-1], bid[1:])
        else:
            v = ask if what == "ASK" else bid
            o, c = v[:-1], v[1:]
            h, low = np.maximum(o, c), np.minimum(o, c)
        if extremes is not None:
            h, low = np.maximum(h, extremes[0]), np.minimum(low, extremes[1])
        k = len(o)
        if volume is None:
            vol = wap = count = np.full(k, -1.0)
        else:
            vol = volume.astype(np.float64)
            wap = (o + h + low + c) / 4
            count = np.where(vol > 0, np.maximum(1.0, np.round(vol / _SHARES_PER_TRADE)), 0.0)
        open_ts = sessions.open_ts(i)
        return Segments(
            ts=open_ts + 60 * points[:-1],
            session=np.full(k, i, dtype=np.int64),
            open_ts=np.full(k, open_ts, dtype=np.int64),
            o=o, h=h, low=low, c=c, volume=vol, wap=wap, count=count,
        )  # fmt: skip

    @staticmethod
    def from_trades(
        sessions: Sessions, i: int, minutes: IntArray, prices: FloatArray, sizes: FloatArray
    ) -> Segments:
        """One segment per option trade."""
        k = len(minutes)
        open_ts = sessions.open_ts(i)
        return Segments(
            ts=open_ts + 60 * minutes,
            session=np.full(k, i, dtype=np.int64),
            open_ts=np.full(k, open_ts, dtype=np.int64),
            o=prices, h=prices, low=prices, c=prices,
            volume=sizes, wap=prices, count=np.ones(k),
        )  # fmt: skip

    @staticmethod
    def concat(parts: list[Segments]) -> Segments | None:
        if not parts:
            return None
        return Segments(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Segments))
        )


def _reduce(
    seg: Segments, key: IntArray, bid_ask: bool
) -> tuple[IntArray, list[tuple[float, ...]]]:
    """Group consecutive segments with equal ``key``; returns group starts and OHLCV rows."""
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    ends = np.append(starts[1:], len(key))
    sizes = (ends - starts).astype(np.float64)
    if bid_ask:
        o = np.add.reduceat(seg.o, starts) / sizes
        c = np.add.reduceat(seg.c, starts) / sizes
    else:
        o, c = seg.o[starts], seg.c[ends - 1]
    h = np.maximum.reduceat(seg.h, starts)
    low = np.minimum.reduceat(seg.low, starts)
    has_volume = seg.volume[0] >= 0
    if has_volume:
        vol = np.add.reduceat(seg.volume, starts)
        weighted = np.add.reduceat(seg.wap * seg.volume, starts)
        plain = np.add.reduceat(seg.wap, starts) / sizes
        wap = np.where(vol > 0, weighted / np.maximum(vol, 1e-12), plain)
        count = np.add.reduceat(seg.count, starts)
    else:
        vol = wap = count = np.full(len(starts), -1.0)
    rows = list(
        zip(o.tolist(), h.tolist(), low.tolist(), c.tolist(), vol.tolist(), wap.tolist(),
            count.tolist(), strict=True)
    )  # fmt: skip
    return starts, rows


def aggregate_intraday(seg: Segments, bar_seconds: int, bid_ask: bool) -> list[Bar]:
    """Bars on UTC-aligned ``bar_seconds`` buckets, labelled at bucket start or the open."""
    bucket = seg.ts // bar_seconds
    key = bucket * 100_000 + seg.session  # a bucket never spans two sessions
    starts, rows = _reduce(seg, key, bid_ask)
    out = []
    for start, (o, h, low, c, vol, wap, count) in zip(starts.tolist(), rows, strict=True):
        label = max(int(bucket[start]) * bar_seconds, int(seg.open_ts[start]))
        when = dt.datetime.fromtimestamp(label, NEW_YORK)
        out.append(Bar(when, o, h, low, c, vol, wap, int(count)))
    return out


def aggregate_daily(seg: Segments, period: str, sessions: Sessions, bid_ask: bool) -> list[Bar]:
    """One bar per session, ISO week or month, labelled with its first session's date."""
    days = [sessions.date(i) for i in seg.session.tolist()]
    if period == "week":
        keys = [d.isocalendar()[0] * 100 + d.isocalendar()[1] for d in days]
    elif period == "month":
        keys = [d.year * 100 + d.month for d in days]
    else:
        keys = [d.toordinal() for d in days]
    starts, rows = _reduce(seg, np.array(keys, dtype=np.int64), bid_ask)
    return [
        Bar(days[start], o, h, low, c, vol, wap, int(count))
        for start, (o, h, low, c, vol, wap, count) in zip(starts.tolist(), rows, strict=True)
    ]
