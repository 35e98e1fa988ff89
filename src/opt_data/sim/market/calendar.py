"""XNYS sessions as plain arrays: which days trade, when they open and close.

The whole schedule from ``FIRST_DAY`` to ``LAST_DAY`` is read once from
pandas-market-calendars (early 13:00 closes included) and then answered with ``bisect`` on
ordinals, because the market asks "which session is this?" thousands of times per second.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from functools import cache
from zoneinfo import ZoneInfo

import pandas_market_calendars as mcal

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC
# Wide enough for 2015..2030 queries plus LEAPS listed 2.5 years before and after them.
FIRST_DAY = dt.date(2012, 1, 1)
LAST_DAY = dt.date(2035, 12, 31)


class Sessions:
    """The XNYS trading sessions between ``FIRST_DAY`` and ``LAST_DAY``, indexed 0..n-1."""

    def __init__(self) -> None:
        ordinals, opens, closes = _xnys_schedule()
        self._ordinals = ordinals
        self._opens = opens  # epoch seconds, UTC
        self._closes = closes

    def __len__(self) -> int:
        return len(self._ordinals)

    def date(self, i: int) -> dt.date:
        return dt.date.fromordinal(self._ordinals[i])

    def ordinal(self, i: int) -> int:
        return self._ordinals[i]

    def is_session(self, day: dt.date) -> bool:
        o = day.toordinal()
        k = bisect_left(self._ordinals, o)
        return k < len(self._ordinals) and self._ordinals[k] == o

    def index_on_or_before(self, day: dt.date) -> int:
        """Index of the last session on or before ``day``."""
        k = bisect_right(self._ordinals, day.toordinal()) - 1
        if k < 0:
            raise ValueError(f"{day} is before the simulated calendar ({FIRST_DAY})")
        return k

    def index_on_or_after(self, day: dt.date) -> int:
        """Index of the first session on or after ``day`` (clamped to the last session)."""
        k = bisect_left(self._ordinals, day.toordinal())
        return min(k, len(self._ordinals) - 1)

    def index_of(self, day: dt.date) -> int:
        k = self.index_on_or_before(day)
        if self._ordinals[k] != day.toordinal():
            raise ValueError(f"{day} is not an XNYS session")
        return k

    def open_ts(self, i: int) -> int:
        return self._opens[i]

    def close_ts(self, i: int) -> int:
        return self._closes[i]

    def open_at(self, i: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._opens[i], NEW_YORK)

    def minutes(self, i: int) -> int:
        """Length of session ``i`` in minutes (390, or 210 on an early close)."""
        return (self._closes[i] - self._opens[i]) // 60

    def check_range(self, day: dt.date) -> None:
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValueError(f"{day} is outside the simulated calendar {FIRST_DAY}..{LAST_DAY}")


def aware(at: dt.datetime) -> dt.datetime:
    """``at`` as a New York time; naive datetimes are refused rather than guessed at."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"timezone-aware datetime required, got naive {at!r}")
    return at.astimezone(NEW_YORK)


@cache
def _xnys_schedule() -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    # A constant of the exchange, identical for every Market: memoised once per process
    # because building it costs ~0.2 s. Immutable tuples, so nothing can mutate it.
    schedule = mcal.get_calendar("XNYS").schedule(FIRST_DAY.isoformat(), LAST_DAY.isoformat())
    ordinals = tuple(d.date().toordinal() for d in schedule.index)
    opens = tuple(int(t.timestamp()) for t in schedule["market_open"])
    closes = tuple(int(t.timestamp()) for t in schedule["market_close"])
    return ordinals, opens, closes
