"""The trading calendar: which dates are NYSE sessions, and when each opens and closes.

Backed by pandas-market-calendars' ``XNYS`` calendar (holidays incl. Good Friday, Juneteenth and
national days of mourning; observed-day shifts; 13:00 ET early closes), as recommended in
``shared/research/ib-limits.md`` §7: the NYSE calendar, not Cboe's, decides early closes
(Cboe's omits Christmas Eve).

pandas-market-calendars is slow to build a schedule and its answers never change, so the
calendar builds one decade at a time on first use and keeps it. Supported years:
``MIN_YEAR``–``MAX_YEAR``; anything outside raises ``ConfigError`` instead of guessing.

Dates passed in are exchange (New York) session dates. Times come back aware: UTC from
``session_open`` / ``session_close``, America/New_York from ``close_time_local``.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas_market_calendars as pmc

from opt_data.errors import ConfigError

MIN_YEAR = 1970
MAX_YEAR = 2099
NEW_YORK = ZoneInfo("America/New_York")


@dataclass(frozen=True, slots=True)
class _Decade:
    """Ten years of schedule, as plain Python values."""

    sessions: tuple[dt.date, ...]  # sorted
    opens: dict[dt.date, dt.datetime]
    closes: dict[dt.date, dt.datetime]
    early: frozenset[dt.date]


def _check_date(day: dt.date) -> dt.date:
    # datetime is a subclass of date; a datetime here almost always means a UTC instant was
    # passed where an exchange session date was meant.
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise TypeError(f"expected a datetime.date session date, got {day!r}")
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ConfigError(
            f"date {day.isoformat()} is outside the supported calendar years {MIN_YEAR}–{MAX_YEAR}"
        )
    return day


class TradingCalendar:
    """Sessions of one exchange calendar (default ``XNYS``), cached per decade."""

    def __init__(self, name: str = "XNYS") -> None:
        self._name = name
        self._calendar = pmc.get_calendar(name)
        self._decades: dict[int, _Decade] = {}

    @property
    def name(self) -> str:
        """The pandas-market-calendars calendar name."""
        return self._name

    def _decade(self, year: int) -> _Decade:
        first = year - year % 10
        cached = self._decades.get(first)
        if cached is not None:
            return cached
        start, end = max(first, MIN_YEAR), min(first + 9, MAX_YEAR)
        schedule = self._calendar.schedule(f"{start}-01-01", f"{end}-12-31")
        early = self._calendar.early_closes(schedule)
        sessions = tuple(ts.date() for ts in schedule.index)
        opens = {
            day: ts.to_pydatetime().astimezone(dt.UTC)
            for day, ts in zip(sessions, schedule["market_open"], strict=True)
        }
        closes = {
            day: ts.to_pydatetime().astimezone(dt.UTC)
            for day, ts in zip(sessions, schedule["market_close"], strict=True)
        }
        decade = _Decade(
            sessions=sessions,
            opens=opens,
            closes=closes,
            early=frozenset(ts.date() for ts in early.index),
        )
        self._decades[first] = decade
        return decade

    def is_session(self, day: dt.date) -> bool:
        """True when the exchange holds a session on ``day`` (early closes included)."""
        return _check_date(day) in self._decade(day.year).closes

    def _require_session(self, day: dt.date) -> _Decade:
        decade = self._decade(_check_date(day).year)
        if day not in decade.closes:
            raise ConfigError(
                f"{day.isoformat()} ({day:%A}) is not a {self._name} session "
                f"(weekend or exchange holiday)"
            )
        return decade

    def session_open(self, day: dt.date) -> dt.datetime:
        """The session's opening time, aware, in UTC. Raises ``ConfigError`` on a non-session."""
        return self._require_session(day).opens[day]

    def session_close(self, day: dt.date) -> dt.datetime:
        """The session's closing time (13:00 ET on early closes), aware, in UTC."""
        return self._require_session(day).closes[day]

    def close_time_local(self, day: dt.date) -> dt.datetime:
        """The session's closing time in America/New_York (16:00, or 13:00 on early closes)."""
        return self.session_close(day).astimezone(NEW_YORK)

    def is_early_close(self, day: dt.date) -> bool:
        """True on sessions that close before the regular time; False on full days and holidays."""
        return _check_date(day) in self._decade(day.year).early

    def next_session(self, day: dt.date) -> dt.date:
        """The first session strictly after ``day``."""
        _check_date(day)
        year = day.year
        while year <= MAX_YEAR:
            sessions = self._decade(year).sessions
            index = bisect.bisect_right(sessions, day)
            if index < len(sessions):
                return sessions[index]
            year = year - year % 10 + 10
        raise ConfigError(f"no {self._name} session after {day.isoformat()} before {MAX_YEAR + 1}")

    def previous_session(self, day: dt.date) -> dt.date:
        """The last session strictly before ``day``."""
        _check_date(day)
        year = day.year
        while year >= MIN_YEAR:
            sessions = self._decade(year).sessions
            index = bisect.bisect_left(sessions, day)
            if index > 0:
                return sessions[index - 1]
            year = year - year % 10 - 1
        raise ConfigError(f"no {self._name} session before {day.isoformat()} since {MIN_YEAR}")

    def sessions(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """Every session from ``start`` to ``end``, both included, in order."""
        _check_date(start)
        _check_date(end)
        found: list[dt.date] = []
        first_decade = start.year - start.year % 10
        for decade_year in range(first_decade, end.year + 1, 10):
            sessions = self._decade(decade_year).sessions
            lo = bisect.bisect_left(sessions, start)
            hi = bisect.bisect_right(sessions, end)
            found.extend(sessions[lo:hi])
        return found
