"""Working days and complaint deadlines on the official 2026 calendar, and local-time periods.

The expected days below were read from the State Council's 2026 holiday notice as
`chinesecalendar` carries it (checked in `test_the_library_knows_the_2026_notice`):
元旦 1 Jan–3 Jan (Sunday 4 Jan worked), 春节 15–23 Feb (Saturdays 14 and 28 Feb worked),
劳动节 1–5 May (Saturday 9 May worked), 国庆 1–7 Oct (Sunday 20 Sep and Saturday 10 Oct worked).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from sqms import calendar as cal
from sqms.complaints.service import deadline_for, deadlines_for

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def end_of(y: int, m: int, d: int) -> datetime:
    """23:59:59 Asia/Shanghai of that day, as UTC (15:59:59 UTC)."""
    return datetime(y, m, d, 23, 59, 59, tzinfo=SHANGHAI).astimezone(UTC)


def test_the_library_knows_the_2026_notice():
    """The make-up workdays and holidays the tests below rely on, straight from chinesecalendar."""
    made_up = [d for d in chinese_calendar.get_workdays(date(2026, 1, 1), date(2026, 12, 31)) if d.weekday() >= 5]
    assert made_up == [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
                       date(2026, 9, 20), date(2026, 10, 10)]
    for first, last in [(date(2026, 1, 1), date(2026, 1, 3)), (date(2026, 2, 15), date(2026, 2, 23)),
                        (date(2026, 5, 1), date(2026, 5, 5)), (date(2026, 10, 1), date(2026, 10, 7))]:
        day = first
        while day <= last:
            assert chinese_calendar.is_holiday(day) and not cal.is_working_day(day), day
            day += timedelta(days=1)
    for day in made_up:
        assert cal.is_working_day(day), day


@pytest.fixture
def settings_only(tmp_path):
    """The demo configuration (no database is touched by these tests)."""
    from tests.conftest import make_settings

    return make_settings(f"sqlite:///{tmp_path}/unused.db", tmp_path)


def _expected_by_library(received: datetime, n: int) -> date:
    """Independent count with chinesecalendar itself."""
    day = received.astimezone(SHANGHAI).date()
    while n:
        day += timedelta(days=1)
        if chinese_calendar.is_workday(day):
            n -= 1
    return day


@pytest.mark.parametrize(
    "received, severity, due",
    [
        (local(2026, 9, 30, 9), "normal", (2026, 10, 9)),
        (local(2026, 2, 13, 9), "normal", (2026, 2, 24)),
        (local(2026, 9, 30, 9), "special", (2026, 10, 13)),  # 8, 9, Sat 10, 12, 13
        (local(2026, 10, 1, 9), "normal", (2026, 10, 9)),  # received on a holiday: 8, 9
        (local(2026, 10, 8, 9), "normal", (2026, 10, 10)),  # 9, Saturday 10 (make-up)
        (local(2026, 10, 9, 9), "normal", (2026, 10, 12)),  # Sat 10, Mon 12
        (local(2026, 9, 18, 9), "normal", (2026, 9, 21)),  # Sunday 20 Sep worked, Mon 21
        (local(2025, 12, 31, 9), "normal", (2026, 1, 5)),  # 1–3 Jan off, Sun 4 worked, Mon 5
        (local(2025, 12, 31, 9), "special", (2026, 1, 8)),  # 4, 5, 6, 7, 8
        (local(2026, 1, 2, 9), "normal", (2026, 1, 5)),  # received on a holiday: Sun 4, Mon 5
        (local(2026, 2, 13, 9), "special", (2026, 2, 27)),  # Sat 14, 24, 25, 26, 27
        (local(2026, 2, 26, 9), "normal", (2026, 2, 28)),  # Fri 27, Sat 28 (make-up)
        (local(2026, 2, 27, 9), "special", (2026, 3, 5)),  # Sat 28, Mon 2, 3, 4, 5
        (local(2026, 4, 30, 9), "normal", (2026, 5, 7)),  # 1–5 May off: 6, 7
        (local(2026, 4, 30, 9), "special", (2026, 5, 11)),  # 6, 7, 8, Sat 9, Mon 11
        (local(2026, 5, 8, 9), "normal", (2026, 5, 11)),  # Sat 9 (make-up), Mon 11
        (local(2026, 10, 10, 9), "normal", (2026, 10, 13)),  # received on the make-up Saturday
    ],
    ids=lambda v: v.isoformat()[:13] if isinstance(v, datetime) else str(v),
)
def test_deadlines_around_the_2026_holidays(received, severity, due, settings_only):
    expected = end_of(*due)
    assert deadline_for(received, severity, settings_only) == expected
    assert deadline_for(received.astimezone(UTC), severity, settings_only) == expected  # same moment in UTC
    assert expected.astimezone(SHANGHAI).time().isoformat() == "23:59:59"
    n = settings_only.complaints.deadline_working_days[severity]
    assert _expected_by_library(received, n) == date(*due)


def test_the_deadline_is_15_59_59_utc():
    assert cal.deadline_after(local(2026, 9, 30, 9), 2, SHANGHAI) == datetime(2026, 10, 9, 15, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize("severity, due", [("normal", date(2026, 10, 9)), ("special", date(2026, 10, 13))])
def test_late_evening_receipt_counts_from_the_local_day(severity, due, settings_only):
    """23:30 on 30 Sep in Shanghai is 15:30 UTC the same day: still 30 Sep."""
    late = datetime(2026, 9, 30, 15, 30, tzinfo=UTC)
    assert late.astimezone(SHANGHAI).date() == date(2026, 9, 30)
    assert deadline_for(late, severity, settings_only) == end_of(due.year, due.month, due.day)


@pytest.mark.parametrize("received_utc, due", [
    (datetime(2026, 10, 9, 15, 30, tzinfo=UTC), (2026, 10, 12)),  # 23:30 Fri 9 Oct local: Sat 10, Mon 12
    (datetime(2026, 10, 9, 16, 30, tzinfo=UTC), (2026, 10, 13)),  # 00:30 Sat 10 Oct local: Mon 12, Tue 13
    (datetime(2026, 10, 7, 15, 59, tzinfo=UTC), (2026, 10, 9)),  # 23:59 Wed 7 Oct (holiday): 8, 9
    (datetime(2026, 10, 7, 16, 0, tzinfo=UTC), (2026, 10, 10)),  # 00:00 Thu 8 Oct: 9, Sat 10
])
def test_receipt_given_in_utc_counts_from_the_local_day(received_utc, due, settings_only):
    assert deadline_for(received_utc, "normal", settings_only) == end_of(*due)


def test_naive_receipt_is_taken_as_utc_by_deadline_after():
    """`to_local` treats a naive datetime as UTC (the database convention)."""
    naive_utc = datetime(2026, 2, 13, 16, 30)  # 00:30 on Sat 14 Feb local, a make-up workday
    assert cal.deadline_after(naive_utc, 2, SHANGHAI) == end_of(2026, 2, 25)  # 24, 25


def test_vectorised_deadlines_match_deadline_for(settings_only):
    import pandas as pd

    received = [datetime(2026, 9, 30, 15, 30), datetime(2026, 9, 30, 16, 30), None, datetime(2026, 2, 13, 1)]
    severity = ["normal", "special", "normal", None]
    out = deadlines_for(pd.Series(pd.to_datetime(received), dtype="datetime64[us]"),
                        pd.Series(severity, dtype=object), settings_only)
    assert out.iloc[0] == pd.Timestamp(end_of(2026, 10, 9)).tz_localize(None)
    # 16:30 UTC on 30 Sep is 00:30 on 1 Oct local: 5 working days after 1 Oct = 8, 9, 10, 12, 13
    assert out.iloc[1] == pd.Timestamp(end_of(2026, 10, 13)).tz_localize(None)
    assert pd.isna(out.iloc[2]) and pd.isna(out.iloc[3])


def test_configured_working_days_are_used(tmp_path):
    from tests.conftest import make_settings

    settings = make_settings(f"sqlite:///{tmp_path}/unused.db", tmp_path, complaints={"deadline_working_days": {"normal": 1,
                                                                                                  "special": 3}})
    assert deadline_for(local(2026, 9, 30), "normal", settings) == end_of(2026, 10, 8)
    assert deadline_for(local(2026, 9, 30), "special", settings) == end_of(2026, 10, 10)


def test_unknown_year_falls_back_to_weekdays_with_a_warning(caplog):
    cal.is_working_day.cache_clear()
    cal._warn_unknown_year.cache_clear()
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2031, 1, 1))  # the premise: the library does not know 2031
    with caplog.at_level(logging.WARNING, logger="sqms.calendar"):
        assert cal.is_working_day(date(2031, 1, 1))  # a Wednesday; the real 元旦 is unknown, so worked
        assert not cal.is_working_day(date(2031, 1, 4))  # Saturday
        assert not cal.is_covered(date(2031, 6, 2))
        # Friday 31 Jan 2031 -> Mon 3 Feb, Tue 4 Feb
        due = cal.deadline_after(datetime(2031, 1, 31, 9, tzinfo=SHANGHAI), 2, SHANGHAI)
    assert due == datetime(2031, 2, 4, 23, 59, 59, tzinfo=SHANGHAI).astimezone(UTC)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "2031" in r.getMessage()]
    assert len(warnings) == 1  # once per year, not once per day
    assert "Monday-Friday" in warnings[0].getMessage()
    assert cal.is_covered(date(2026, 6, 1))


def test_add_working_days_rejects_zero():
    with pytest.raises(ValueError):
        cal.add_working_days(date(2026, 10, 1), 0)


def test_working_days_between_and_next_working_day():
    assert cal.working_days_between(date(2026, 9, 30), date(2026, 10, 9)) == 2
    assert cal.working_days_between(date(2026, 10, 9), date(2026, 9, 30)) == -2
    assert cal.next_working_day(date(2026, 10, 3)) == date(2026, 10, 8)
    assert cal.next_working_day(date(2026, 10, 10)) == date(2026, 10, 10)


# -- periods in local time -----------------------------------------------------------


def test_month_bounds_are_local_months_in_utc():
    start, end = cal.month_bounds("2026-10", SHANGHAI)
    assert start == datetime(2026, 9, 30, 16, tzinfo=UTC)
    assert end == datetime(2026, 10, 31, 16, tzinfo=UTC)
    start, end = cal.month_bounds("2026-12", SHANGHAI)
    assert (start, end) == (datetime(2026, 11, 30, 16, tzinfo=UTC), datetime(2026, 12, 31, 16, tzinfo=UTC))
    assert cal.month_bounds("2026-01", ZoneInfo("UTC"))[0] == datetime(2026, 1, 1, tzinfo=UTC)


def test_previous_period_uses_the_local_month():
    assert cal.previous_period(datetime(2026, 10, 31, 20, tzinfo=UTC), SHANGHAI) == "2026-10"  # 04:00 1 Nov local
    assert cal.previous_period(datetime(2026, 10, 31, 15, 59, tzinfo=UTC), SHANGHAI) == "2026-09"
    assert cal.previous_period(datetime(2026, 1, 1, 0, 30, tzinfo=UTC), SHANGHAI) == "2025-12"
    assert cal.previous_period(datetime(2025, 12, 31, 16, 0, tzinfo=UTC), SHANGHAI) == "2025-12"  # 1 Jan local


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-10", "2026/10", "", "2026-00", "abcd-ef"])
def test_parse_period_rejects(bad):
    with pytest.raises(ValueError, match="YYYY-MM"):
        cal.parse_period(bad)


def test_shift_and_periods_ending():
    assert cal.shift_period("2026-01", -1) == "2025-12"
    assert cal.shift_period("2026-12", 1) == "2027-01"
    assert cal.periods_ending("2026-02", 3) == ["2025-12", "2026-01", "2026-02"]


def test_working_day_array_matches_the_day_by_day_walk():
    """The numpy working-day calendar (holidays and make-up days) gives `add_working_days` for every day
    of 2025–2026 and several n, including the Spring Festival and National Day weeks."""
    import numpy as np

    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(730)]
    for n in (1, 2, 5, 10):
        got = cal.add_working_days_array(np.array(days, dtype="datetime64[D]"), n)
        assert [d.astype(object) for d in got] == [cal.add_working_days(d, n) for d in days]
    mixed = cal.add_working_days_array(np.array([date(2026, 2, 13), date(2026, 9, 30)], dtype="datetime64[D]"),
                                       np.array([2, 5]))
    assert list(mixed.astype(object)) == [date(2026, 2, 24), date(2026, 10, 13)]  # 14 Feb is worked
