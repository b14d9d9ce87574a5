"""周控制图 in the monthly report: the weekly control charts of the volume-heavy KPIs (sqms.records.weekly),
drawn in the report's SVG style, and the signals of the month's weeks with their rules in words."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from sqms.kpi_catalog import KPI_BY_CODE
from sqms.reporting import charts
from sqms.reporting.formatting import t

_KIND = {"p": ("p 图", "p chart"), "u": ("u 图", "u chart"), "xmr": ("X-MR 图", "XmR chart")}


def weekly_context(series: list[Any], departments: dict[str, str], locale: str) -> dict[str, Any]:
    """`organisation`: the organisation's weekly charts; `departments`: the charts of departments with a
    signal in the month's weeks; `signals`: one row per (department, KPI, week) with its rules;
    `weeks`: the charted weeks, `baseline` its baseline weeks, `month_weeks` the month's."""
    loc = locale

    def who(s: Any) -> str:
        return departments.get(s.department, s.department) if s.department else t(loc, "组织整体", "Organisation")

    def drawn(s: Any) -> dict[str, Any]:
        definition = KPI_BY_CODE[s.kpi]
        label = definition.label(loc)
        chart = s.chart
        svg = charts.control_chart(
            s.periods, chart.values, centre=chart.centre, ucl=chart.ucl, lcl=chart.lcl,
            signals=[x.index for x in s.current], baseline_end=chart.baseline[1], unit=definition.unit,
            decimals=definition.decimals, locale=loc,
            title=t(loc, f"{who(s)} · {label}：周控制图（{_KIND[chart.kind][0]}）",
                    f"{who(s)} · {label}: weekly {_KIND[chart.kind][1]}"))
        return {"kpi": s.kpi, "label": label, "department": who(s), "svg": Markup(svg)}

    signals = []
    for s in series:
        by_week: dict[int, list[str]] = {}
        for signal in s.current:
            words = signal.words(loc)
            if words not in by_week.setdefault(signal.index, []):
                by_week[signal.index].append(words)
        for index, rules in sorted(by_week.items()):
            signals.append({"department": who(s), "department_code": s.department, "kpi": s.kpi,
                            "label": KPI_BY_CODE[s.kpi].label(loc), "week": s.periods[index],
                            "value": s.chart.values[index], "centre": s.chart.centre[index],
                            "lcl": s.chart.lcl[index], "ucl": s.chart.ucl[index], "rules": rules})
    flagged = {(x["department_code"], x["kpi"]) for x in signals}
    first = series[0] if series else None
    return {
        "organisation": [drawn(s) for s in series if s.department is None],
        "departments": [drawn(s) for s in series if s.department and (s.department, s.kpi) in flagged],
        "signals": signals,
        "weeks": list(first.periods) if first else [],
        "baseline": list(first.periods[:first.chart.baseline[1]]) if first else [],
        "month_weeks": list(first.periods[first.month_from:]) if first else [],
    }
