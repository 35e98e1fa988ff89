"""Which expiries a trading class lists, and from which session each one is listed.

Monthlies expire on the third Friday (the Thursday before when Friday is a holiday);
weeklies every Friday; Monday/Wednesday expiries where the class has them. An expiry is
listed ``horizon`` calendar days before it expires, where the horizon is the longest of
the kinds it belongs to (January third Fridays are LEAPS, ~2.5 years; Mar/Jun/Sep/Dec
quarterlies ~15 months; other monthlies ~9 months; weeklies ~5 weeks).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from opt_data.sim.market.calendar import FIRST_DAY, LAST_DAY, Sessions
from opt_data.sim.market.underlyings import OptionClass

_FRIDAY, _MONDAY, _WEDNESDAY = 4, 0, 2


@dataclass(frozen=True, slots=True)
class Expiry:
    """One expiry of one class: its date, its session index and its listing session index."""

    day: dt.date
    index: int
    listing_index: int


def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(_FRIDAY - first.weekday()) % 7 + 14)


def _friday_or_thursday(friday: dt.date, sessions: Sessions) -> dt.date | None:
    if sessions.is_session(friday):
        return friday
    thursday = friday - dt.timedelta(days=1)
    return thursday if sessions.is_session(thursday) else None


def _kinds_of(day: dt.date, nominal_friday: dt.date | None) -> set[str]:
    kinds: set[str] = set()
    if nominal_friday is None:  # a Monday or Wednesday expiry
        return {"mon_wed"}
    kinds.add("weekly")
    if nominal_friday == third_friday(nominal_friday.year, nominal_friday.month):
        kinds.add("monthly")
        if nominal_friday.month in (3, 6, 9, 12):
            kinds.add("quarterly")
        if nominal_friday.month == 1:
            kinds.add("leaps")
    return kinds


def class_expiries(cls: OptionClass, sessions: Sessions) -> tuple[Expiry, ...]:
    """Every expiry of ``cls`` inside the simulated calendar, sorted by date."""
    horizons = dict(cls.kinds)
    found: dict[dt.date, int] = {}
    # Walk every Friday (and Monday/Wednesday) of the calendar once.
    start = FIRST_DAY + dt.timedelta(days=(_FRIDAY - FIRST_DAY.weekday()) % 7)
    friday = start
    while friday <= LAST_DAY:
        candidates: list[tuple[dt.date | None, dt.date | None]] = [
            (_friday_or_thursday(friday, sessions), friday)
        ]
        if "mon_wed" in horizons:
            for back in (4, 2):  # the Monday and Wednesday of the same week
                mon_wed = friday - dt.timedelta(days=back)
                candidates.append((mon_wed if sessions.is_session(mon_wed) else None, None))
        for day, nominal in candidates:
            if day is None:
                continue
            horizon = max(
                (horizons[k] for k in _kinds_of(day, nominal) if k in horizons), default=0
            )
            if horizon:
                found[day] = max(found.get(day, 0), horizon)
        friday += dt.timedelta(days=7)
    return tuple(
        Expiry(
            day=day,
            index=sessions.index_of(day),
            listing_index=sessions.index_on_or_after(day - dt.timedelta(days=horizon)),
        )
        for day, horizon in sorted(found.items())
    )
