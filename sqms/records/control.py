"""控制图: the monthly report's control charts, from its 13-month KPI history (`sqms.spc` does the
statistics). The limits come from the first `kpi.control_baseline_months` months of the window; the
months after them are judged against those limits, so a drift shows as a special cause before the
value crosses its target."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sqms import spc
from sqms.kpi_catalog import KPI_BY_CODE
from sqms.reporting.formatting import is_missing


@dataclass
class ControlSeries:
    """One KPI's chart for the organisation (department None) or a department."""

    kpi: str
    department: str | None
    periods: list[str]
    chart: spc.ControlChart
    adverse: list[spc.Signal] = field(default_factory=list)  # on the KPI's bad side, after the baseline

    @property
    def current(self) -> list[spc.Signal]:
        """The adverse signals completed by the last month (the month reported on)."""
        last = len(self.periods) - 1
        return [s for s in self.adverse if s.index == last]

    def rules(self, locale: str, signals: list[spc.Signal] | None = None) -> list[str]:
        """The rules in words, each once."""
        seen: list[str] = []
        for s in self.current if signals is None else signals:
            if s.rule not in seen:
                seen.append(s.rule)
        return [spc.rule_words(r, locale) for r in seen]


def series_of(history: pd.DataFrame, kpi: str, department: str | None, periods: list[str]) -> tuple[list, list]:
    """(values, n) of one KPI over `periods` (None / 0 for a month without a value)."""
    h = history[(history["kpi"] == kpi) & (history["department"].isna() if department is None
                                           else history["department"] == department)]
    by_period = {r["period"]: r for r in h.to_dict("records")}
    values, n = [], []
    for period in periods:
        row = by_period.get(period)
        value = None if row is None or is_missing(row["value"]) else float(row["value"])
        values.append(value)
        n.append(0 if row is None or value is None else int(row["n"]))
    return values, n


def control_series(history: pd.DataFrame, periods: list[str], departments: list[str | None],
                   baseline_months: int) -> list[ControlSeries]:
    """Every charted KPI (sqms.spc.CHART_OF) for each of `departments` (None: the organisation)."""
    out = []
    for department in departments:
        for kpi in spc.CHART_OF:
            values, n = series_of(history, kpi, department, periods)
            chart = spc.chart_for(kpi, values, n, baseline=baseline_months)
            if chart is None or all(c is None for c in chart.centre):
                continue
            adverse = [s for s in spc.adverse(chart.signals, KPI_BY_CODE[kpi].better)
                       if s.index >= chart.baseline[1]]
            out.append(ControlSeries(kpi, department, list(periods), chart, adverse))
    return out
