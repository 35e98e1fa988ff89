"""Historical bars and head timestamps, consistent with the live market.

Intraday bars are built from the same minute path, model prices and trades that
``option_state``/``stock_state`` show, sampled at minute boundaries (every 5 minutes for
bars of an hour or more) and bucketed on UTC-aligned boundaries, so ``8 hours`` gives two
bars per US session and the last bar of a session closes at the closing mid. Daily,
weekly and monthly bars exist only for stocks and indices: options get IB's EODChart
error, expired options IB's expired-contract error.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import numpy.typing as npt

from opt_data.sim.instruments import Bar
from opt_data.sim.market import barspec, surface
from opt_data.sim.market.barspec import BarSize, Duration
from opt_data.sim.market.calendar import NEW_YORK, aware
from opt_data.sim.market.chains import Contract
from opt_data.sim.market.paths import realised_vol, volume_profile
from opt_data.sim.market.pricing import Pricer, quote_levels
from opt_data.sim.market.quotes import IV_YEARS, Quoter
from opt_data.sim.market.segments import Segments, aggregate_daily, aggregate_intraday
from opt_data.sim.market.underlyings import Underlying

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_STOCK_HALF_SPREAD = 0.01


class History:
    """Answers reqHistoricalData and reqHeadTimeStamp for one market."""

    def __init__(self, pricer: Pricer, quoter: Quoter) -> None:
        self._pricer = pricer
        self._quoter = quoter
        self._sessions = pricer.sessions

    def bars(
        self,
        u: Underlying,
        c: Contract | None,
        *,
        end: dt.datetime,
        duration: str,
        bar_size: str,
        what_to_show: str,
        now: dt.datetime | None,
    ) -> list[Bar]:
        dur = barspec.parse_duration(duration)
        bar = barspec.parse_bar_size(bar_size)
        what = barspec.parse_what(what_to_show)
        asked_at = aware(end if now is None else now)
        end = min(aware(end), asked_at)
        name = u.symbol if c is None else c.inst.local_symbol
        if c is not None:
            self._check_option(c, what, bar, dur, asked_at)
        elif u.sec_type == "IND" and what in ("BID", "ASK", "BID_ASK"):
            raise barspec.no_data_error(name, what)
        first, last, start_ts, end_ts = self._window(end, dur)
        if c is not None:
            first, last = max(first, c.first_index), min(last, c.series.expiry.index)
        parts = [
            self._session_segments(u, c, i, what, bar, start_ts, end_ts)
            for i in range(first, last + 1)
        ]
        segments = Segments.concat([p for p in parts if p is not None])
        if segments is None:
            raise barspec.no_data_error(name, what)
        if bar.daily:
            return aggregate_daily(segments, bar.period, self._sessions, what == "BID_ASK")
        return aggregate_intraday(segments, bar.seconds, what == "BID_ASK")

    def head_timestamp(
        self, u: Underlying, c: Contract | None, what_to_show: str, now: dt.datetime | None
    ) -> dt.datetime:
        what = barspec.parse_what(what_to_show)
        if c is None:
            if u.sec_type == "IND" and what in ("BID", "ASK", "BID_ASK"):
                raise barspec.no_data_error(u.symbol, what)
            return self._sessions.open_at(0)
        if what in barspec.VOL_KINDS:
            raise barspec.option_vol_error(u.symbol, what, 3600)
        if now is not None and _expired(c, aware(now)):
            raise barspec.expired_error()
        return self._sessions.open_at(c.first_index)

    def _check_option(
        self, c: Contract, what: str, bar: BarSize, dur: Duration, asked_at: dt.datetime
    ) -> None:
        if what in barspec.VOL_KINDS:
            raise barspec.option_vol_error(c.inst.symbol, what, bar.seconds or 86400)
        if bar.daily:
            raise barspec.eod_chart_error(dur, bar)
        if _expired(c, asked_at):
            raise barspec.expired_error()

    def _window(self, end: dt.datetime, dur: Duration) -> tuple[int, int, float, float]:
        """First and last session touched, and the request's start/end instants."""
        s = self._sessions
        end_ts = end.timestamp()
        last = self._pricer.moment(end).session
        if dur.unit == "D":
            return max(last - dur.count + 1, 0), last, -math.inf, end_ts
        start_ts = end_ts - dur.seconds
        first = s.index_on_or_after(dt.datetime.fromtimestamp(start_ts, NEW_YORK).date())
        if s.close_ts(first) <= start_ts:
            first += 1
        return first, last, start_ts, end_ts

    def _session_segments(
        self,
        u: Underlying,
        c: Contract | None,
        i: int,
        what: str,
        bar: BarSize,
        start_ts: float,
        end_ts: float,
    ) -> Segments | None:
        s = self._sessions
        n, open_ts = s.minutes(i), s.open_ts(i)
        a = 0 if start_ts <= open_ts else math.ceil((start_ts - open_ts) / 60)
        b = n if end_ts >= s.close_ts(i) else math.floor((end_ts - open_ts) / 60)
        if b <= a:
            return None
        if c is not None and what == "TRADES":
            return self._option_trades(c, i, a, b)
        if bar.daily:
            points = np.array([a, b], dtype=np.int64)  # open to close; extremes added below
        else:
            step = 1 if bar.seconds < 3600 else 5
            points = np.unique(np.append(np.arange(a, b, step, dtype=np.int64), b))
        if c is not None:
            return self._option_quotes(c, i, points, what)
        return self._stock_values(u, i, points, what, bar.daily)

    def _stock_values(
        self, u: Underlying, i: int, points: IntArray, what: str, daily: bool
    ) -> Segments:
        p = self._pricer
        n = self._sessions.minutes(i)
        prices = p.minute_prices(u, i)
        path = p.daily(u)
        values = prices[points]
        if what == "HISTORICAL_VOLATILITY":
            values = realised_vol(path, i, values)
        elif what == "OPTION_IMPLIED_VOLATILITY":
            regimes = np.asarray(p.regime(u, i, points / n), dtype=np.float64).tolist()
            values = np.array([surface.atm_vol(u, r, IV_YEARS) for r in regimes])
        half = _STOCK_HALF_SPREAD if what in ("BID", "ASK", "BID_ASK") else 0.0
        bid, ask = values - half, values + half
        extremes = None
        if daily and what not in barspec.VOL_KINDS:  # the day's true high and low
            window = prices[points[0] : points[-1] + 1]
            up = half if what in ("ASK", "BID_ASK") else -half
            down = -half if what in ("BID", "BID_ASK") else half
            extremes = (float(window.max()) + up, float(window.min()) + down)
        volume = None
        if what in ("TRADES", "ADJUSTED_LAST"):
            cumulative = np.asarray(volume_profile(points / n), dtype=np.float64)
            day_volume = float(path.volumes[i]) if u.sec_type == "STK" else 0.0
            volume = np.round(np.diff(cumulative) * day_volume, -2)
        return Segments.from_points(self._sessions, i, points, bid, ask, what, volume, extremes)

    def _option_quotes(self, c: Contract, i: int, points: IntArray, what: str) -> Segments:
        model, t = self._pricer.model_prices(c, i, points)
        levels = [quote_levels(c, m, tt) for m, tt in zip(model.tolist(), t.tolist(), strict=True)]
        bid = np.array([b for b, _ in levels])
        ask = np.array([a for _, a in levels])
        if what in ("MIDPOINT", "ADJUSTED_LAST"):
            bid = ask = np.round((bid + ask) / 2, 3)
        return Segments.from_points(self._sessions, i, points, bid, ask, what, None, None)

    def _option_trades(self, c: Contract, i: int, a: int, b: int) -> Segments | None:
        day = self._quoter.day_trades(c, i)
        keep = [j for j, m in enumerate(day.minutes) if a <= m < b]
        if not keep:
            return None
        minutes = np.array([day.minutes[j] for j in keep], dtype=np.int64)
        prices = np.array([day.prices[j] for j in keep])
        sizes = np.array([day.sizes[j] for j in keep], dtype=np.float64)
        return Segments.from_trades(self._sessions, i, minutes, prices, sizes)


def _expired(c: Contract, asked_at: dt.datetime) -> bool:
    """IB keeps no history for expired options: asked after its expiry date, it has none.

    The expiry evening itself still counts as live so a 17:00 run can read 0DTE history.
    """
    assert c.inst.expiry is not None
    return asked_at.date() > c.inst.expiry
