"""Fixtures for the simulated market: one shared default market and handy instants."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from opt_data.sim.market import Market

NY = ZoneInfo("America/New_York")
DAY = dt.date(2024, 3, 28)  # a Thursday before Good Friday (a holiday with a moved weekly)
AFTER_CLOSE = dt.datetime(2024, 3, 28, 17, 0, tzinfo=NY)
MIDDAY = dt.datetime(2024, 3, 28, 11, 15, tzinfo=NY)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


@pytest.fixture(scope="session")
def market() -> Market:
    """The default market, seed 0. Read-only in tests, so sharing it is safe and fast."""
    return Market(seed=0)
