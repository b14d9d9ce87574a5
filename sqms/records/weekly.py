"""周控制图: the volume-heavy KPIs (`sqms.spc.WEEKLY_KPIS`) week by week, for the monthly report.

A month has four or five weeks of thousands of service records each: charted by week, a drift shows
within weeks, where the monthly chart needs months. The last `kpi.control_weeks` whole weeks (Monday
to Sunday, local time) that end in or before the month are charted; the limits come from the first
`kpi.control_baseline_weeks` of them (a series with fewer than 8 baseline weeks of data is not
charted); a week belongs to the month its Sunday is in. Each week's
values are the KPI definitions of `sqms.records.service` applied to the week's records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy.orm import Session

from sqms import spc
from sqms.calendar import UTC, month_bounds, parse_period, to_local
from sqms.config import Settings
from sqms.kpi_catalog import KPI_BY_CODE
from sqms.records.control import ControlSeries
from sqms.records.models import ServiceRecord
from sqms.records.service import _RECORD_COLUMNS, _SUMS, _frame, _values_from


MIN_BASELINE_WEEKS = 8  # limits from fewer weeks with data would flag chance as a special cause


@dataclass
class WeeklySeries(ControlSeries):
    """One KPI's weekly chart; `month_from` is the index of the month's first week."""

    month_from: int = 0

    @property
    def current(self) -> list[spc.Signal]:
        """The adverse signals completed in one of the month's weeks."""
        return [s for s in self.adverse if s.index >= self.month_from]


def week_values(records: pd.DataFrame, mondays: list[date], settings: Settings, tz,
                department: str | None = None) -> dict[str, tuple[list, list]]:
    """kpi -> (values, n) per week of `mondays` from service records (opened_at naive UTC): the sums of
    `sqms.records.service._sums_of` for every week at once (one group-by, not one slice per week)."""
    if department is not None:
        records = records[records["department"] == department]
    edges = pd.DatetimeIndex([_naive_utc(m, tz) for m in mondays] + [_naive_utc(mondays[-1] + timedelta(days=7), tz)])
    week = pd.cut(records["opened_at"], bins=edges, right=False, labels=False)
    resolved = records["resolved_at"].notna()
    handled_us = (records["resolved_at"] - records["opened_at"]) // pd.Timedelta(microseconds=1)
    answer = records["first_contact_resolved"]
    known = answer.notna()
    targets = settings.kpi.response_targets_seconds
    targeted = records["channel"].isin(list(targets))
    limit = records["channel"].map(targets).astype(float)
    delay = (records["first_response_at"] - records["opened_at"]).dt.total_seconds()
    parts = pd.DataFrame({
        "week": week, "records": 1, "handled": resolved.astype(int),
        "handled_us": handled_us.where(resolved, 0).astype(float),
        "fcr_known": known.astype(int), "fcr_true": (known & answer.where(known, False).astype(bool)).astype(int),
        "targeted": targeted.astype(int), "within": (targeted & delay.notna() & (delay <= limit)).astype(int),
    }).dropna(subset=["week"])
    sums = parts.groupby("week").sum()
    zero = {k: 0 for k in _SUMS}
    out: dict[str, tuple[list, list]] = {k: ([], []) for k in spc.WEEKLY_KPIS}
    for i in range(len(mondays)):
        counts = sums.loc[float(i)].to_dict() if float(i) in sums.index else {}
        values = _values_from({**zero, **counts})
        for kpi in spc.WEEKLY_KPIS:
            value, n, _ = values[kpi]
            out[kpi][0].append(value)
            out[kpi][1].append(n if value is not None else 0)
    return out


def _naive_utc(day: date, tz) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def weekly_series(session: Session, settings: Settings, period: str, as_of: datetime | None = None
                  ) -> list[WeeklySeries]:
    """The weekly charts of the organisation and every department for the report of `period`."""
    year, month = parse_period(period)
    month_start = date(year, month, 1)
    month_end = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1))
    if as_of is not None:  # a report made before the month ended charts the weeks that are over
        month_end = min(month_end, to_local(as_of, settings.tz).date() - timedelta(days=1))
    mondays, month_from = spc.weekly_window(month_start, month_end, weeks=settings.kpi.control_weeks)
    start = datetime(mondays[0].year, mondays[0].month, mondays[0].day, tzinfo=settings.tz).astimezone(UTC)
    end = month_bounds(period, settings.tz)[1]
    records = _frame(session.connection(), ServiceRecord, _RECORD_COLUMNS, "opened_at", start, end)
    if records.empty:
        return []
    records["opened_at"] = pd.to_datetime(records["opened_at"])
    labels = [spc.week_label(m) for m in mondays]
    baseline = settings.kpi.control_baseline_weeks
    out = []
    for department in [None, *[d.code for d in settings.departments]]:
        per_kpi = week_values(records, mondays, settings, settings.tz, department)
        for kpi, (values, n) in per_kpi.items():
            chart = spc.chart_for(kpi, values, n, baseline=baseline)
            if chart is None or sum(v is not None for v in values[:baseline]) < MIN_BASELINE_WEEKS:
                continue
            adverse = [s for s in spc.adverse(chart.signals, KPI_BY_CODE[kpi].better) if s.index >= baseline]
            out.append(WeeklySeries(kpi, department, labels, chart, adverse, month_from=month_from))
    return out
