"""The trading calendar: which dates are NYSE sessions, and when each opens and closes.

Backed by pandas-market-calendars' ``XNYS`` calendar (holidays incl. Good Friday, Juneteenth and
national days of mourning; observed-day shifts; 13:00 ET early closes), as recommended in
``shared/research/ib-limits.md`` §7: the NYSE calendar, not Cboe's, decides early closes
(Cboe's omits Christmas Eve).

pandas-market-calendars is slow to build a schedule (its first one computes every NYSE holiday
from 1885 on: 0.2–0.4 s, on the critical path of every run's first request) and its answers
never change for a given release, so the calendar builds one decade at a time on first use,
keeps it, and — given a ``cache_dir`` — stores it as a small JSON file named after the
calendar, the decade and the pandas-market-calendars version, read back in about a
millisecond by every later process. A cache file that cannot be read or written is ignored:
the schedule is built again. Supported years: ``MIN_YEAR``–``MAX_YEAR``; anything outside
raises ``ConfigError`` instead of guessing.

Dates passed in are exchange (New York) session dates. Times come back aware: UTC from
``session_open`` / ``session_close``, America/New_York from ``close_time_local``.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas_market_calendars as pmc
import platformdirs

from opt_data.errors import ConfigError

MIN_YEAR = 1970
MAX_YEAR = 2099
NEW_YORK = ZoneInfo("America/New_York")
_CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """The user's cache directory for opt-data (``~/.cache/opt-data`` on Linux)."""
    return Path(platformdirs.user_cache_dir("opt-data"))


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

    def __init__(self, name: str = "XNYS", *, cache_dir: Path | None = None) -> None:
        self._name = name
        self._calendar = pmc.get_calendar(name)
        self._decades: dict[int, _Decade] = {}
        self._cache_dir = cache_dir

    @property
    def name(self) -> str:
        """The pandas-market-calendars calendar name."""
        return self._name

    def _decade(self, year: int) -> _Decade:
        first = year - year % 10
        cached = self._decades.get(first)
        if cached is not None:
            return cached
        path = self._cache_path(first)
        decade = _read_cache(path) if path is not None else None
        if decade is None:
            decade = self._build(first)
            if path is not None:
                _write_cache(path, decade)
        self._decades[first] = decade
        return decade

    def _cache_path(self, first: int) -> Path | None:
        if self._cache_dir is None:
            return None
        release = version("pandas-market-calendars")
        name = f"calendar-{self._name}-{first}s-pmc{release}-v{_CACHE_FORMAT}.json"
        return self._cache_dir / name

    def _build(self, first: int) -> _Decade:
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
        return _Decade(
            sessions=sessions,
            opens=opens,
            closes=closes,
            early=frozenset(ts.date() for ts in early.index),
        )

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


def _read_cache(path: Path) -> _Decade | None:
    """A decade from its cache file, or None when there is none or it does not parse."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        sessions = tuple(dt.date.fromisoformat(day) for day in data["sessions"])
        opens = [dt.datetime.fromtimestamp(t, dt.UTC) for t in data["opens"]]
        closes = [dt.datetime.fromtimestamp(t, dt.UTC) for t in data["closes"]]
        if not len(sessions) == len(opens) == len(closes) or list(sessions) != sorted(sessions):
            return None
        return _Decade(
            sessions=sessions,
            opens=dict(zip(sessions, opens, strict=True)),
            closes=dict(zip(sessions, closes, strict=True)),
            early=frozenset(dt.date.fromisoformat(day) for day in data["early"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(path: Path, decade: _Decade) -> None:
    """Store a decade for later processes; a cache that cannot be written is only slower."""
    data = {
        "sessions": [day.isoformat() for day in decade.sessions],
        "opens": [int(decade.opens[day].timestamp()) for day in decade.sessions],
        "closes": [int(decade.closes[day].timestamp()) for day in decade.sessions],
        "early": sorted(day.isoformat() for day in decade.early),
    }
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        # written whole, then renamed: a concurrent reader sees the old file or the new one
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, separators=(",", ":"))
            Path(tmp).replace(path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise
