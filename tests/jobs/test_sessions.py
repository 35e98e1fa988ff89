"""When the update collects: the gateway's clock against the XNYS calendar (pure)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from opt_data.calendar import TradingCalendar
from opt_data.errors import ConfigError
from opt_data.jobs.sessions import decide_trade_date, market_data_type_for

NY = ZoneInfo("America/New_York")
CAL = TradingCalendar()


def _decide(local: dt.datetime, requested: dt.date | None = None, force: bool = False):  # type: ignore[no-untyped-def]
    return decide_trade_date(local.astimezone(dt.UTC), requested, CAL, force=force, tz=NY)


@pytest.mark.parametrize(
    "local",
    [
        dt.datetime(2026, 11, 21, 17, 0, tzinfo=NY),  # Saturday
        dt.datetime(2026, 11, 22, 9, 0, tzinfo=NY),  # Sunday
        dt.datetime(2026, 11, 26, 17, 0, tzinfo=NY),  # Thanksgiving
        dt.datetime(2026, 12, 25, 17, 0, tzinfo=NY),  # Christmas
    ],
)
def test_non_sessions_collect_nothing(local: dt.datetime) -> None:
    """Weekends and holidays: market closed, said plainly."""
    decision = _decide(local)
    assert decision.action == "market_closed"
    assert "not an XNYS trading session" in decision.message


def test_before_the_close_is_refused_with_the_close_time() -> None:
    """At 15:00 on a normal day the update refuses and names 16:00."""
    with pytest.raises(ConfigError, match="closes at 16:00"):
        _decide(dt.datetime(2026, 11, 20, 15, 0, tzinfo=NY))


def test_early_close_day_collects_after_13_00_and_refuses_before() -> None:
    """The day after Thanksgiving closes at 13:00: 14:00 collects, 12:00 names 13:00."""
    assert _decide(dt.datetime(2026, 11, 27, 14, 0, tzinfo=NY)).action == "collect"
    with pytest.raises(ConfigError, match=r"13:00 EST \(early close\)"):
        _decide(dt.datetime(2026, 11, 27, 12, 0, tzinfo=NY))


def test_force_collects_before_the_close() -> None:
    """--force overrides the close check (e.g. a test run during the session)."""
    assert _decide(dt.datetime(2026, 11, 20, 11, 0, tzinfo=NY), force=True).action == "collect"


def test_trade_date_is_the_new_york_date_not_utc() -> None:
    """21:30 ET on Friday is Saturday in UTC; the session is still Friday's."""
    decision = _decide(dt.datetime(2026, 11, 20, 21, 30, tzinfo=NY))
    assert decision.trade_date == dt.date(2026, 11, 20) and decision.action == "collect"


def test_past_and_future_dates_are_refused_clearly() -> None:
    """A past --date says why not and what will do it; a future one is named."""
    evening = dt.datetime(2026, 11, 20, 18, 0, tzinfo=NY)
    with pytest.raises(ConfigError, match=r"2026-11-19 is a past session.*backfill.*not built"):
        _decide(evening, requested=dt.date(2026, 11, 19))
    with pytest.raises(ConfigError, match="in the future"):
        _decide(evening, requested=dt.date(2026, 11, 23))


@pytest.mark.parametrize(
    ("configured", "market_open", "expected"),
    [(1, True, 1), (1, False, 2), (2, False, 2), (3, False, 4), (3, True, 3), (4, False, 4)],
)
def test_after_the_close_live_becomes_frozen(
    configured: int, market_open: bool, expected: int
) -> None:
    """Live quotes are −1 after the close: ask frozen (2), or delayed-frozen (4)."""
    assert market_data_type_for(configured, market_open) == expected
