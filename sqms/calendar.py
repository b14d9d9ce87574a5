"""Working days from the official Chinese calendar (holidays and make-up workdays), and local time.

The official calendar is published every year by the State Council; `chinesecalendar`
carries it. A year the library does not know yet can be declared by the organisation in
`config/calendar/<year>.yaml` (its holidays with names, its make-up workdays; see
`config/calendar/README.md`). Per year:

- the library knows it: the library (a declared file for that year is compared with it, and
  `sqms doctor` reports any day on which they disagree; until then the file wins, since the
  organisation declared it on purpose);
- only the file knows it: the file;
- neither: Monday–Friday, with a warning logged once per year; `sqms doctor` fails when an open
  item's deadline falls in such a year, the monthly report says so and the quality manager is
  mailed once per year (`sqms.reminders.service.warn_unknown_calendar_years`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml

log = logging.getLogger(__name__)

UTC = timezone.utc
END_OF_DAY = time(23, 59, 59)


# -- declared years (config/calendar/<year>.yaml) ------------------------------------------


class CalendarFileError(ValueError):
    """A declared calendar file that cannot be used; `problems` name the file and the key."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class DeclaredYear:
    """The official days of one year as the organisation declared them."""

    year: int
    holidays: dict[date, str] = field(default_factory=dict)  # day off -> holiday name (元旦, 春节 ...)
    workdays: dict[date, str] = field(default_factory=dict)  # make-up working weekend day -> why
    source: str = ""
    path: str = ""

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


def _day(value, where: str, year: int, problems: list[str]) -> date | None:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            pass
    if not isinstance(value, date):
        problems.append(f"{where}: {value!r} is not a date such as {year}-01-01")
        return None
    if value.year != year:
        problems.append(f"{where}: {value.isoformat()} is not in {year}")
        return None
    return value


def parse_declared_year(data: object, name: str) -> DeclaredYear:
    """Validate one file's content; every problem is named `<file>: <key>: ...`."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise CalendarFileError([f"{name}: expected keys year, holidays, workdays"])
    unknown = sorted(set(data) - {"year", "source", "holidays", "workdays"})
    if unknown:
        problems.append(f"{name}: unknown key(s) {', '.join(unknown)} (allowed: year, source, holidays, workdays)")
    year = data.get("year")
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise CalendarFileError(problems + [f"{name}: year: {year!r} is not a year such as 2027"])
    if Path(name).stem.isdigit() and int(Path(name).stem) != year:
        problems.append(f"{name}: year: {year} does not match the file name")
    holidays: dict[date, str] = {}
    for i, entry in enumerate(data.get("holidays") or []):
        where = f"{name}: holidays[{i}]"
        if not isinstance(entry, dict) or not str(entry.get("name") or "").strip():
            problems.append(f"{where}: needs a name and from/to (or days)")
            continue
        label = str(entry["name"]).strip()
        if "days" in entry:
            days = [_day(v, f"{where}.days", year, problems) for v in entry.get("days") or []]
        else:
            first = _day(entry.get("from"), f"{where}.from", year, problems)
            last = _day(entry.get("to", entry.get("from")), f"{where}.to", year, problems)
            if first and last and last < first:
                problems.append(f"{where}: to {last} is before from {first}")
                continue
            days = [first + timedelta(days=n) for n in range((last - first).days + 1)] if first and last else []
        for d in days:
            if d is None:
                continue
            if d in holidays:
                problems.append(f"{where}: {d} is already a holiday ({holidays[d]})")
            holidays[d] = label
    workdays: dict[date, str] = {}
    for i, entry in enumerate(data.get("workdays") or []):
        where = f"{name}: workdays[{i}]"
        value = entry.get("date") if isinstance(entry, dict) else entry
        d = _day(value, f"{where}.date" if isinstance(entry, dict) else where, year, problems)
        if d is None:
            continue
        if d.weekday() < 5:
            problems.append(f"{where}: {d} is a {d.strftime('%A')}, already a working day (make-up workdays "
                            "are Saturdays or Sundays)")
        if d in holidays:
            problems.append(f"{where}: {d} is also declared a holiday ({holidays[d]})")
        workdays[d] = str(entry.get("name") or "调休上班") if isinstance(entry, dict) else "调休上班"
    if not holidays:
        problems.append(f"{name}: holidays: none declared (a year has at least 元旦, 春节, 国庆 ...)")
    if problems:
        raise CalendarFileError(problems)
    return DeclaredYear(year, holidays, workdays, str(data.get("source") or ""), name)


def load_declared(directory: Path | str) -> dict[int, DeclaredYear]:
    """Every `<year>.yaml` in `directory` (other files, e.g. `2027.yaml.example`, are ignored)."""
    folder = Path(directory)
    found: dict[int, DeclaredYear] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        try:
            declared = parse_declared_year(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: invalid YAML: {str(exc).splitlines()[0]}")
            continue
        except CalendarFileError as exc:
            problems += exc.problems
            continue
        found[declared.year] = declared
    if problems:
        raise CalendarFileError(problems)
    return found


_declared: dict[int, DeclaredYear] = {}
_declared_from: str | None = None


def use_declared(directory: Path | str | None) -> dict[int, DeclaredYear]:
    """Make the declared years of `directory` the ones every working-day computation uses
    (called when the settings are loaded; tests point it at their own folder)."""
    global _declared, _declared_from
    key = str(Path(directory).resolve()) if directory is not None else None
    if key == _declared_from:
        return _declared
    _declared = load_declared(directory) if directory is not None else {}
    _declared_from = key
    is_working_day.cache_clear()
    _warn_unknown_year.cache_clear()
    return _declared


def declared_years() -> dict[int, DeclaredYear]:
    return dict(_declared)


def library_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
        return True
    except NotImplementedError:
        return False


def source_of(year: int) -> str | None:
    """`library`, `declared` (config/calendar) or None when neither knows the year."""
    if year in _declared:
        return "declared"
    return "library" if library_knows(year) else None


def disagreements(year: int) -> list[tuple[date, bool, bool]]:
    """(day, library says working, file says working) for every day of a year both know and differ on."""
    declared = _declared.get(year)
    if declared is None or not library_knows(year):
        return []
    out = []
    day = date(year, 1, 1)
    while day.year == year:
        library, ours = chinese_calendar.is_workday(day), declared.is_working_day(day)
        if library != ours:
            out.append((day, library, ours))
        day += timedelta(days=1)
    return out


@lru_cache(maxsize=None)
def _warn_unknown_year(year: int) -> None:
    log.warning(
        "the official working-day calendar for %s is not known to chinesecalendar %s nor declared in "
        "config/calendar/%s.yaml; falling back to Monday-Friday (declare the State Council's dates, "
        "or upgrade chinesecalendar)",
        year, getattr(chinese_calendar, "__version__", "?"), year,
    )


@lru_cache(maxsize=4096)
def is_working_day(day: date) -> bool:
    """True on a working day of the official calendar, including make-up Saturdays/Sundays."""
    declared = _declared.get(day.year)
    if declared is not None:
        return declared.is_working_day(day)
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        _warn_unknown_year(day.year)
        return day.weekday() < 5


def is_covered(day: date) -> bool:
    """Whether the official calendar (the library or a declared year, not the fallback) knows this day's year."""
    return source_of(day.year) is not None


def uncovered_years(days) -> list[int]:
    """The years among `days` (dates or datetimes) that neither the library nor a declared file knows."""
    return sorted({d.year for d in days if source_of(d.year) is None})


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


def late_working_days(due_day: date, today: date) -> int:
    """Full working days between the due day and today (today itself, not over yet, does not count)."""
    if today <= due_day:
        return 0
    return working_days_between(due_day, today) - (1 if is_working_day(today) else 0)


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


def parse_day(value: object) -> date:
    """A day from a cell or a YAML value: a date or datetime as it is, else text `YYYY-MM-DD` (or
    `YYYY/MM/DD`); ValueError with a readable message otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip().replace("/", "-"))
    except ValueError:
        raise ValueError(f"{value!r} is not a date such as 2026-03-31") from None


def parse_period(period: str) -> tuple[int, int]:
    """(year, month) of `YYYY-MM`; ValueError with a readable message otherwise."""
    try:
        year_s, month_s = period.split("-")
        # int() also reads full-width digits: they are refused here, the CLI normalises them
        if len(year_s) != 4 or len(month_s) != 2 or not (year_s + month_s).isascii():
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
