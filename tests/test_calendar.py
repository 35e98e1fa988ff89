"""The XNYS trading calendar: sessions, holidays, early closes and navigation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from dateutil.easter import easter
from hypothesis import given, settings
from hypothesis import strategies as st

from opt_data.calendar import NEW_YORK, TradingCalendar
from opt_data.errors import ConfigError

D = dt.date
days = st.dates(min_value=D(2000, 1, 1), max_value=D(2035, 12, 31))


@pytest.fixture(name="cal", scope="module")
def _cal() -> TradingCalendar:
    return TradingCalendar()


def good_friday(year: int) -> dt.date:
    return easter(year) - dt.timedelta(days=2)


class TestKnownDays:
    @pytest.mark.parametrize(
        "day",
        [D(2024, 11, 29), D(2025, 11, 28), D(2026, 11, 27), D(2026, 12, 24), D(2025, 7, 3)],
    )
    def test_early_closes_at_13_new_york(self, cal: TradingCalendar, day: dt.date) -> None:
        """Day after Thanksgiving, Christmas Eve and 3 July close at 13:00 ET."""
        assert cal.is_session(day)
        assert cal.is_early_close(day)
        assert cal.close_time_local(day).time() == dt.time(13, 0)
        assert cal.close_time_local(day).tzinfo == NEW_YORK

    def test_regular_close_in_utc_follows_daylight_saving(self, cal: TradingCalendar) -> None:
        """16:00 ET is 21:00 UTC in winter and 20:00 UTC in summer."""
        assert cal.session_close(D(2026, 1, 5)) == dt.datetime(2026, 1, 5, 21, tzinfo=dt.UTC)
        assert cal.session_close(D(2026, 7, 6)) == dt.datetime(2026, 7, 6, 20, tzinfo=dt.UTC)
        assert cal.session_open(D(2026, 7, 6)) == dt.datetime(2026, 7, 6, 13, 30, tzinfo=dt.UTC)
        assert not cal.is_early_close(D(2026, 7, 6))

    @pytest.mark.parametrize(
        "day",
        [
            D(2026, 7, 3),  # Independence Day observed (4 July is a Saturday)
            D(2025, 1, 9),  # national day of mourning (President Carter)
            D(2024, 6, 19),  # Juneteenth
            D(2026, 12, 25),
            D(2026, 11, 26),  # Thanksgiving
            D(2026, 7, 4),  # a Saturday
        ],
    )
    def test_closed_days(self, cal: TradingCalendar, day: dt.date) -> None:
        """Holidays, observed holidays and weekends are not sessions."""
        assert not cal.is_session(day)
        assert not cal.is_early_close(day)

    @pytest.mark.parametrize("year", range(2000, 2036))
    def test_good_friday_is_closed(self, cal: TradingCalendar, year: int) -> None:
        """Good Friday (Easter − 2 days) is a holiday every year."""
        day = good_friday(year)
        assert not cal.is_session(day)
        assert cal.is_session(day - dt.timedelta(days=1))

    def test_closing_time_of_a_holiday_is_a_clear_error(self, cal: TradingCalendar) -> None:
        """Asking for the close of a closed day names the day and why."""
        with pytest.raises(ConfigError, match=r"2026-07-03 \(Friday\) is not a XNYS session"):
            cal.session_close(D(2026, 7, 3))

    def test_datetimes_and_far_years_are_refused(self, cal: TradingCalendar) -> None:
        """A datetime is not a session date; years outside the cached range are refused."""
        with pytest.raises(TypeError):
            cal.is_session(dt.datetime(2026, 1, 5, 12))
        with pytest.raises(ConfigError, match="outside the supported calendar years"):
            cal.is_session(D(2150, 1, 5))

    def test_navigation_across_a_decade_boundary(self, cal: TradingCalendar) -> None:
        """Next/previous session work across the cache's decade blocks."""
        assert cal.next_session(D(2029, 12, 31)) == D(2030, 1, 2)
        assert cal.previous_session(D(2030, 1, 2)) == D(2029, 12, 31)
        assert cal.sessions(D(2029, 12, 28), D(2030, 1, 3)) == [
            D(2029, 12, 28),
            D(2029, 12, 31),
            D(2030, 1, 2),
            D(2030, 1, 3),
        ]

    def test_a_year_has_about_252_sessions(self, cal: TradingCalendar) -> None:
        """2024 had 252 NYSE sessions; an empty range is empty."""
        assert len(cal.sessions(D(2024, 1, 1), D(2024, 12, 31))) == 252
        assert cal.sessions(D(2024, 1, 2), D(2024, 1, 1)) == []


class TestProperties:
    @settings(max_examples=300, deadline=None)
    @given(day=days)
    def test_sessions_are_weekdays_and_never_fixed_holidays(
        self, cal: TradingCalendar, day: dt.date
    ) -> None:
        """No session on a weekend, New Year's Day, 4 July, Christmas or Good Friday."""
        if cal.is_session(day):
            assert day.weekday() < 5
            assert (day.month, day.day) not in {(1, 1), (7, 4), (12, 25)}
            assert day != good_friday(day.year)

    @settings(max_examples=300, deadline=None)
    @given(day=days)
    def test_next_and_previous_are_consistent(self, cal: TradingCalendar, day: dt.date) -> None:
        """next(d) is the first session after d; previous(next(d)) is d itself or d's previous."""
        after = cal.next_session(day)
        assert after > day
        assert cal.is_session(after)
        assert all(
            not cal.is_session(day + dt.timedelta(days=k)) for k in range(1, (after - day).days)
        )
        back = cal.previous_session(after)
        assert back == (day if cal.is_session(day) else cal.previous_session(day))
        assert cal.next_session(cal.previous_session(day)) == (
            day if cal.is_session(day) else after
        )
        # Even the longest closures (9/11: 4 sessions lost) leave gaps under two weeks.
        assert (after - day).days <= 10

    @settings(max_examples=100, deadline=None)
    @given(start=days, length=st.integers(min_value=0, max_value=40))
    def test_sessions_lists_exactly_the_session_days(
        self, cal: TradingCalendar, start: dt.date, length: int
    ) -> None:
        """sessions(a, b) is every day in [a, b] for which is_session holds, in order."""
        end = start + dt.timedelta(days=length)
        expected = [
            start + dt.timedelta(days=k)
            for k in range(length + 1)
            if cal.is_session(start + dt.timedelta(days=k))
        ]
        assert cal.sessions(start, end) == expected

    @settings(max_examples=200, deadline=None)
    @given(day=days)
    def test_closes_are_16_or_13_new_york(self, cal: TradingCalendar, day: dt.date) -> None:
        """Every session closes at 16:00 ET, or at 13:00 ET exactly when it is an early close."""
        if cal.is_session(day):
            local = cal.close_time_local(day)
            assert local.date() == day
            expected = dt.time(13) if cal.is_early_close(day) else dt.time(16)
            assert local.time() == expected
            assert cal.session_open(day) < cal.session_close(day)


class TestScheduleCache:
    def test_a_second_calendar_reads_the_decade_back_without_the_library(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The cached decade answers exactly as the built one, and no schedule is built."""
        built = TradingCalendar(cache_dir=tmp_path)
        days = built.sessions(dt.date(2020, 1, 1), dt.date(2029, 12, 31))
        assert len(list(tmp_path.glob("calendar-XNYS-2020s-pmc*.json"))) == 1
        cached = TradingCalendar(cache_dir=tmp_path)

        def no_schedule(*args: object, **kwargs: object) -> None:
            raise AssertionError("the cache should have answered")

        monkeypatch.setattr(cached._calendar, "schedule", no_schedule)
        assert cached.sessions(dt.date(2020, 1, 1), dt.date(2029, 12, 31)) == days
        for day in days:
            assert cached.session_open(day) == built.session_open(day)
            assert cached.session_close(day) == built.session_close(day)
            assert cached.is_early_close(day) == built.is_early_close(day)

    @pytest.mark.parametrize("content", ["", "{not json", '{"sessions": []}', "[1, 2]"])
    def test_a_broken_cache_file_is_built_again_and_replaced(
        self, tmp_path: Path, content: str
    ) -> None:
        TradingCalendar(cache_dir=tmp_path).is_session(dt.date(2026, 11, 20))
        (path,) = tmp_path.glob("calendar-XNYS-2020s-*.json")
        path.write_text(content, encoding="utf-8")
        cal = TradingCalendar(cache_dir=tmp_path)
        assert cal.is_early_close(dt.date(2026, 11, 27))
        assert not cal.is_session(dt.date(2026, 11, 26))
        assert json.loads(path.read_text(encoding="utf-8"))["early"]

    def test_an_unwritable_cache_directory_only_costs_time(self, tmp_path: Path) -> None:
        blocked = tmp_path / "file"
        blocked.write_text("not a directory", encoding="utf-8")
        cal = TradingCalendar(cache_dir=blocked / "cache")
        assert cal.is_session(dt.date(2026, 11, 20))
