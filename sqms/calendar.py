"""Working days from the official Chinese calendar (holidays and make-up workdays), and local time.

The official calendar is published every year by the State Council; `chinesecalendar`
carries it. For a year it does not know yet we fall back to Monday–Friday and log a
warning once per year, so deadlines keep being computed instead of failing.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)

UTC = timezone.utc
END_OF_DAY = time(23, 59, 59)


@lru_cache(maxsize=None)
def _warn_unknown_year(year: int) -> None:
    log.warning(
        "the official working-day calendar for %s is not known to chinesecalendar %s; "
        "falling back to Monday-Friday (upgrade chinesecalendar when the State Council publishes it)",
        year,
        getattr(chinese_calendar, "__version__", "?"),
    )


@lru_cache(maxsize=4096)
def is_working_day(day: date) -> bool:
    """True on a working day of the official calendar, including make-up Saturdays/Sundays."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        _warn_unknown_year(day.year)
        return day.weekday() < 5


def is_covered(day: date) -> bool:
    """Whether the official calendar (not the weekend fallback) knows this day's year."""
    try:
        chinese_calendar.is_workday(day)
        return True
    except NotImplementedError:
        return False


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after `day` (n ≥ 1); `day` itself never counts."""
    if n < 1:
        raise ValueError("n must be at least 1")
    current = day
    while n:
        current += timedelta(days=1)
        if is_working_day(current):
            n -= 1
    return current


def working_days_array(first: date, last: date):
    """The working days of [first, last] as a sorted numpy datetime64[D] array (official holidays and
    make-up days included): `add_working_days` for many days at once is a `searchsorted` on it."""
    import numpy as np

    days = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
    flags = np.fromiter((is_working_day(d) for d in days.astype(object)), dtype=bool, count=len(days))
    return days[flags]


def add_working_days_array(days, n):
    """Vectorised `add_working_days`: `days` datetime64[D], `n` ≥ 1 (an int or an array like `days`)."""
    import numpy as np

    days = np.asarray(days, dtype="datetime64[D]")
    n = np.broadcast_to(np.asarray(n, dtype=np.int64), days.shape)
    if days.size == 0:
        return days
    if (n < 1).any():
        raise ValueError("n must be at least 1")
    # enough calendar after the last day for n working days even across the longest holiday (Spring Festival)
    first, last = days.min().astype(object), days.max().astype(object)
    span = int(n.max()) * 2 + 30
    work = working_days_array(first, last + timedelta(days=span))
    return work[np.searchsorted(work, days, side="right") + n - 1]


def next_working_day(day: date) -> date:
    """`day` if it is a working day, else the first working day after it."""
    return day if is_working_day(day) else add_working_days(day, 1)


def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]: how many working days `end` lies after `start` (negative if before)."""
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for i in range(1, (end - start).days + 1) if is_working_day(start + timedelta(days=i)))


def to_utc(moment: datetime, tz: ZoneInfo) -> datetime:
    """An aware UTC datetime; a naive input is taken as local time in `tz`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def to_local(moment: datetime, tz: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz)


def deadline_after(received_at: datetime, working_days: int, tz: ZoneInfo) -> datetime:
    """End (23:59:59 local) of the N-th working day after the local calendar day of receipt, in UTC."""
    local_day = to_local(received_at, tz).date()
    due_day = add_working_days(local_day, working_days)
    return datetime.combine(due_day, END_OF_DAY, tzinfo=tz).astimezone(UTC)


def month_bounds(period: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a `YYYY-MM` calendar month in local time, as UTC datetimes."""
    year, month = parse_period(period)
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def parse_period(period: str) -> tuple[int, int]:
    """(year, month) of `YYYY-MM`; ValueError with a readable message otherwise."""
    try:
        year_s, month_s = period.split("-")
        if len(year_s) != 4 or len(month_s) != 2:
            raise ValueError
        year, month = int(year_s), int(month_s)
        if not 1 <= month <= 12 or year < 1900:
            raise ValueError
    except ValueError:
        raise ValueError(f"period must be YYYY-MM, e.g. 2026-10 (got {period!r})") from None
    return year, month


def shift_period(period: str, months: int) -> str:
    year, month = parse_period(period)
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def previous_period(now: datetime, tz: ZoneInfo) -> str:
    """The calendar month before the one `now` falls in, in local time."""
    local = to_local(now, tz)
    return shift_period(f"{local.year:04d}-{local.month:02d}", -1)


def periods_ending(period: str, count: int) -> list[str]:
    """`count` consecutive periods ending with `period`, oldest first."""
    return [shift_period(period, -i) for i in range(count - 1, -1, -1)]


def utcnow() -> datetime:
    return datetime.now(UTC)
