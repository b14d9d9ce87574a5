"""The content of 服务质量月报 (the monthly service-quality report): data only, no rendering.

As the regulation puts it, the customer-service department gathers the quality of every
service line each month, analyses it against the targets and sends the monthly report to
everyone concerned, top management included; the operations manager holds the monthly
quality-analysis meeting on it. This module assembles what that meeting needs from one
stored KPI computation: the organisation-wide table with last month's values, the
department × KPI matrix, 13 months of history, the complaint analysis (投诉分析, from
`sqms.complaints.report`, as of the same moment), the movements since last month and an
executive summary in words.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.calendar import parse_period, periods_ending, shift_period, utcnow
from sqms.complaints.report import ComplaintAnalysis, build_complaint_analysis, complaint_categories
from sqms.improvement.service import board
from sqms.config import Settings
from sqms.kpi_catalog import KPI_BY_CODE, KPI_CODES
from sqms.complaints.signals import Rise, complaint_rises
from sqms.records.control import ControlSeries, control_series
from sqms.records.weekly import weekly_series
from sqms.reporting.hold import commentary_of
from sqms.records.models import KpiComputation
from sqms.records.problems import problems
from sqms.records.service import compute_by_service_item, history, load_period, results_frame, results_of
from sqms.records.targets import effective_settings
from sqms.reporting.formatting import (fmt_target, fmt_value, is_missing, is_zh, kpi_label, number,
                                       organisation_name, period_words, t)

HISTORY_MONTHS = 13
MAX_LISTED_MISSES = 12  # in the executive summary; the tables show them all
_KPI_ORDER = {code: i for i, code in enumerate(KPI_CODES)}
_VALUE_COLUMNS = ["kpi", "department", "value", "target", "status", "n", "low_confidence"]


@dataclass
class MonthlyReport:
    """Everything the monthly report shows, as plain values and DataFrames.

    Frames (one row per KPI / department × KPI, in catalogue and configuration order):
    - `kpis`: organisation-wide — kpi, label, unit, decimals, better, value, target, status, n,
      low_confidence, extra, previous_value, previous_status, change, trend, improved
    - `department_kpis`: the same columns plus department, department_name
    - `history`: period, kpi, department, value, target, status, n, low_confidence (13 months)
    - `complaints`: the complaint analysis (`sqms.complaints.report.ComplaintAnalysis`); its
      Pareto is also `complaint_categories`: category, count, share_pct, cumulative_pct
    - `changes`: every value with last month's: department, department_name, kpi, label,
      previous_value, value, change, previous_status, status, transition, improved
    """

    organisation: str
    period: str
    locale: str
    timezone: str
    generated_at: datetime
    as_of: datetime
    computation_id: int | None
    low_confidence_n: int
    departments: list[tuple[str, str]]  # (code, name in the report language)
    kpis: pd.DataFrame
    department_kpis: pd.DataFrame
    history: pd.DataFrame
    complaints: ComplaintAnalysis
    changes: pd.DataFrame
    input_counts: dict[str, int]
    previous_input_counts: dict[str, int] | None
    summary: list[str] = field(default_factory=list)
    improvement: list[dict[str, Any]] = field(default_factory=list)  # the PDCA status board
    calendar_notice: str | None = None  # open deadlines in a year no working-day calendar knows
    governance: dict[str, Any] = field(default_factory=dict)  # standards register and suggestions
    control: list[ControlSeries] = field(default_factory=list)  # 控制图: organisation and every department
    # per service item of the catalogue (empty without one): service_item, department, kpi, value, target,
    # status, n, low_confidence; and how many of the month's records carry no service item
    service_items: pd.DataFrame = field(default_factory=pd.DataFrame)
    records_without_item: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)  # 存在问题与改进措施 (sqms.records.problems)
    complaint_rises: list[Rise] = field(default_factory=list)  # categories rising in a department (FDR-controlled)
    commentary: str | None = None  # the quality manager's written analysis (sqms.reporting.hold)
    weekly: list[ControlSeries] = field(default_factory=list)  # 周控制图: volume-heavy KPIs by week

    # -- derived views ----------------------------------------------------------
    @property
    def previous_period(self) -> str:
        return shift_period(self.period, -1)

    @property
    def complaint_categories(self) -> pd.DataFrame:
        """Complaint categories, most frequent first (the Pareto of the complaint analysis)."""
        return self.complaints.categories

    @property
    def periods(self) -> list[str]:
        return periods_ending(self.period, HISTORY_MONTHS)

    @property
    def evaluated(self) -> pd.DataFrame:
        """Organisation-wide KPIs with a target and a value this month."""
        return self.kpis[self.kpis["status"].isin(["met", "missed"])]

    @property
    def met_count(self) -> int:
        return int((self.kpis["status"] == "met").sum())

    @property
    def missed_count(self) -> int:
        return int((self.kpis["status"] == "missed").sum())

    @property
    def missed(self) -> pd.DataFrame:
        """Every missed value, organisation-wide (department None) first, then by department."""
        org = self.kpis[self.kpis["status"] == "missed"].assign(department=None, department_name=None)
        dept = self.department_kpis[self.department_kpis["status"] == "missed"]
        columns = ["department", "department_name", "kpi", "label", "value", "target", "n", "low_confidence"]
        return pd.concat([org[columns], dept[columns]], ignore_index=True)

    def status_matrix(self) -> pd.DataFrame:
        """Department (rows, configuration order) × KPI (columns, catalogue order) → status."""
        return self._matrix("status")

    def value_matrix(self) -> pd.DataFrame:
        return self._matrix("value")

    def _matrix(self, column: str) -> pd.DataFrame:
        frame = self.department_kpis.pivot(index="department", columns="kpi", values=column)
        return frame.reindex(index=[code for code, _ in self.departments], columns=list(KPI_CODES))

    def trend(self, kpi: str, department: str | None = None) -> pd.DataFrame:
        """One KPI over the 13 months (missing months as no_data rows)."""
        h = self.history
        rows = h[(h["kpi"] == kpi) & (h["department"].isna() if department is None else h["department"] == department)]
        rows = rows.set_index("period").reindex(self.periods)
        rows["status"] = rows["status"].fillna("no_data")
        rows["low_confidence"] = rows["low_confidence"].fillna(False).astype(bool)
        return rows.reset_index()

    def summary_dict(self) -> dict[str, Any]:
        """JSON-ready key figures (kept with the generated report)."""
        missed = [
            {"department": r["department"], "kpi": r["kpi"], "value": _json_number(r["value"]),
             "target": _json_number(r["target"])}
            for r in self.missed.to_dict("records")
        ]
        return {
            "period": self.period,
            "organisation": self.organisation,
            "computation_id": self.computation_id,
            "evaluated": len(self.evaluated),
            "met": self.met_count,
            "missed": self.missed_count,
            "department_missed": int((self.department_kpis["status"] == "missed").sum()),
            "missed_values": missed,
            "input_counts": dict(self.input_counts),
            "complaints_by_category": {str(r["category"]): int(r["count"])
                                       for r in self.complaint_categories.to_dict("records")},
            "complaint_analysis": self.complaints.summary_dict(),
            "summary": list(self.summary),
        }


def _json_number(value: Any) -> float | None:
    return None if is_missing(value) else float(value)


# -- building it ----------------------------------------------------------------------


def build_monthly_report(session: Session, settings: Settings, period: str, computation: KpiComputation,
                         *, locale: str | None = None, generated_at: datetime | None = None) -> MonthlyReport:
    """The monthly report of `period` from `computation` (its stored KPI values) and the
    12 months before it (their latest computations; computed and stored when missing); the
    complaint analysis is taken as of the computation, so its rates are the KPI values."""
    parse_period(period)
    if computation.period != period:
        raise ValueError(f"computation {computation.id} is for {computation.period}, not {period}")
    locale = locale or settings.locale
    previous_periods = periods_ending(shift_period(period, -1), HISTORY_MONTHS - 1)
    past = history(session, settings, previous_periods, as_of=computation.as_of)
    current = results_frame(results_of(computation), period)
    full = pd.concat([past, current], ignore_index=True) if len(past) else current
    full = full.astype({"value": "float64", "target": "float64"})

    departments = [(d.code, d.label(locale)) for d in settings.departments]
    names = dict(departments)
    previous = full[full["period"] == shift_period(period, -1)]
    changes = _changes(current, previous, locale, names)
    merged = _with_labels(current, locale).merge(
        changes[["department_key", "kpi", "previous_value", "previous_status", "change", "trend", "improved"]],
        on=["department_key", "kpi"], how="left")

    org = merged[merged["department"].isna()].drop(columns=["department", "department_key", "period"])
    org = org.sort_values("kpi", key=lambda s: s.map(_KPI_ORDER)).reset_index(drop=True)
    dept = merged[merged["department"].notna()].drop(columns=["department_key", "period"]).copy()
    dept_order = {code: i for i, (code, _) in enumerate(departments)}
    dept["department_name"] = dept["department"].map(lambda c: names.get(c, c))
    dept = dept.sort_values(["department", "kpi"], key=lambda s: s.map(dept_order if s.name == "department"
                                                                       else _KPI_ORDER)).reset_index(drop=True)

    previous_computation_counts = _previous_counts(session, shift_period(period, -1))
    report = MonthlyReport(
        organisation=organisation_name(settings.organisation, locale),
        period=period,
        locale=locale,
        timezone=settings.organisation.timezone,
        generated_at=generated_at or utcnow(),
        as_of=computation.as_of,
        computation_id=computation.id,
        low_confidence_n=settings.kpi.low_confidence_n,
        departments=departments,
        kpis=org,
        department_kpis=dept,
        history=full[["period", *_VALUE_COLUMNS]].reset_index(drop=True),
        improvement=board(session, settings),
        governance=governance_figures(session, settings, period, computation.as_of),
        complaints=build_complaint_analysis(session, settings, period, as_of=computation.as_of, locale=locale,
                                            generated_at=generated_at),
        changes=changes.drop(columns=["department_key"]),
        input_counts={k: int(v) for k, v in (computation.input_counts or {}).items()},
        previous_input_counts=previous_computation_counts,
    )
    if settings.service_items:
        year = effective_settings(session, settings, int(period[:4]))
        data = load_period(session.connection(), period, year)
        report.service_items = pd.DataFrame([asdict(r) for r in compute_by_service_item(data, year,
                                                                                        computation.as_of)])
        report.records_without_item = int(data.records["service_item"].isna().sum())
    report.control = control_series(report.history, report.periods, [None, *names],
                                    settings.kpi.control_baseline_months)
    report.complaint_rises = complaint_rises(session, settings, period)
    report.problems = problems(session, settings, report)
    report.summary = executive_summary(report)
    report.calendar_notice = calendar_notice(session, settings, locale)
    report.commentary = commentary_of(session, "monthly-report", period)
    report.weekly = weekly_series(session, settings, period, computation.as_of)
    return report


def calendar_notice(session: Session, settings: Settings, locale: str) -> str | None:
    """One line when open deadlines fall in a year neither chinesecalendar nor config/calendar knows."""
    from sqms.reminders.service import unknown_calendar_years

    years = {y: items for y, items in unknown_calendar_years(session, settings, utcnow()).items() if items}
    if not years:
        return None
    count = sum(len(items) for items in years.values())
    listed = "、".join(map(str, sorted(years))) if is_zh(locale) else ", ".join(map(str, sorted(years)))
    return t(locale,
             f"工作日日历提示：{count} 项未结事项的期限落在 {listed} 年，该年的法定节假日尚未配置"
             f"（chinesecalendar 未收录，{settings.calendar_dir}/ 中也未声明），期限暂按周一至周五计算，可能有误。",
             f"Working-day calendar: {count} open item(s) are due in {listed}, a year whose official holidays are "
             f"not configured (not in chinesecalendar, not declared in {settings.calendar_dir}/); their deadlines "
             "were counted Monday–Friday and may be wrong.")


def _with_labels(frame: pd.DataFrame, locale: str) -> pd.DataFrame:
    out = frame.copy()
    out["department_key"] = out["department"].fillna("")
    out["label"] = out["kpi"].map(lambda k: kpi_label(k, locale))
    out["unit"] = out["kpi"].map(lambda k: KPI_BY_CODE[k].unit)
    out["decimals"] = out["kpi"].map(lambda k: KPI_BY_CODE[k].decimals)
    out["better"] = out["kpi"].map(lambda k: KPI_BY_CODE[k].better)
    return out


def _changes(current: pd.DataFrame, previous: pd.DataFrame, locale: str, names: dict[str, str]) -> pd.DataFrame:
    """Each value against last month's: the difference, its direction and any change of status."""
    cur = current.assign(department_key=current["department"].fillna(""))
    prev = previous.assign(department_key=previous["department"].fillna(""))[
        ["department_key", "kpi", "value", "status"]].rename(
        columns={"value": "previous_value", "status": "previous_status"})
    out = cur[["department", "department_key", "kpi", "value", "status"]].merge(
        prev, on=["department_key", "kpi"], how="left")
    out["previous_status"] = out["previous_status"].fillna("no_data")
    out["value"] = out["value"].astype("float64")
    out["previous_value"] = out["previous_value"].astype("float64")
    out["change"] = out["value"] - out["previous_value"]

    def trend(row: pd.Series) -> str | None:
        if is_missing(row["change"]):
            return None
        rounded = round(row["change"], KPI_BY_CODE[row["kpi"]].decimals)
        return "flat" if rounded == 0 else "up" if rounded > 0 else "down"

    def improved(row: pd.Series) -> bool | None:
        better = KPI_BY_CODE[row["kpi"]].better
        if better is None or row["trend"] in (None, "flat"):
            return None
        return (row["trend"] == "up") == (better == "higher")

    def transition(row: pd.Series) -> str | None:
        if row["previous_status"] == "met" and row["status"] == "missed":
            return "newly_missed"
        if row["previous_status"] == "missed" and row["status"] == "met":
            return "recovered"
        return None

    out["trend"] = out.apply(trend, axis=1) if len(out) else pd.Series(dtype=object)
    out["improved"] = out.apply(improved, axis=1).astype(object) if len(out) else pd.Series(dtype=object)
    out["transition"] = out.apply(transition, axis=1) if len(out) else pd.Series(dtype=object)
    out["department_name"] = out["department"].map(lambda c: None if is_missing(c) else names.get(c, c))
    out["label"] = out["kpi"].map(lambda k: kpi_label(k, locale))
    columns = ["department", "department_key", "department_name", "kpi", "label", "previous_value", "value",
               "change", "trend", "improved", "previous_status", "status", "transition"]
    return out[columns]


def _previous_counts(session: Session, period: str) -> dict[str, int] | None:
    computation = session.scalars(
        select(KpiComputation).where(KpiComputation.period == period).order_by(KpiComputation.id.desc()).limit(1)
    ).first()
    return {k: int(v) for k, v in (computation.input_counts or {}).items()} if computation else None


# -- the executive summary --------------------------------------------------------------


def _value_and_target(row: dict[str, Any], locale: str) -> str:
    value = fmt_value(row["value"], row["kpi"], locale)
    target = fmt_target(row["target"], row["kpi"], locale)
    return t(locale, f"{row['label']} {value}（目标 {target}）", f"{row['label']} {value} (target {target})")


def _joined(items: list[str], locale: str) -> str:
    return t(locale, "、", ", ").join(items)


def executive_summary(report: MonthlyReport) -> list[str]:
    """A few sentences in the report language: what missed, where, by how much; what is uncertain."""
    loc = report.locale
    sentences = [_volume_sentence(report)]

    evaluated = report.evaluated
    missed = evaluated[evaluated["status"] == "missed"].to_dict("records")
    no_data = report.kpis[(report.kpis["status"] == "no_data") & report.kpis["better"].notna()]
    total = len(evaluated)
    if total == 0:
        sentences.append(t(loc, "本月组织整体没有可与目标对比的指标数据。",
                           "Organisation-wide, no KPI had data to compare with its target this month."))
    elif not missed:
        sentences.append(t(loc, f"组织整体 {total} 项考核指标全部达标。",
                           f"Organisation-wide, all {total} KPIs with a target were met."))
    else:
        listed = _joined([_value_and_target(r, loc) for r in missed], loc)
        sentences.append(t(
            loc,
            f"组织整体 {total} 项考核指标中 {total - len(missed)} 项达标，{len(missed)} 项未达标：{listed}。",
            f"Organisation-wide, {total - len(missed)} of {total} KPIs with a target were met; "
            f"missed: {listed}."))
    if len(no_data):
        labels = _joined(no_data["label"].tolist(), loc)
        sentences.append(t(loc, f"本月无数据的指标：{labels}。", f"No data this month: {labels}."))

    sentences.append(_department_sentence(report))
    transitions = _transition_sentence(report)
    if transitions:
        sentences.append(transitions)
    low = _low_confidence_sentence(report)
    if low:
        sentences.append(low)
    if report.missed_count == 0 and not (report.department_kpis["status"] == "missed").any() and total:
        sentences.append(t(loc, "本月全部指标均达到目标。", "Every target was met this month."))
    return sentences


def _volume_sentence(report: MonthlyReport) -> str:
    loc, counts = report.locale, report.input_counts
    records, complaints, responses = (counts.get(k, 0) for k in ("records", "complaints", "responses"))
    change = ""
    previous = (report.previous_input_counts or {}).get("records")
    if previous:
        pct = 100.0 * (records - previous) / previous
        sign = "+" if pct > 0 else "−" if pct < 0 else "±"
        change = t(loc, f"（环比 {sign}{abs(pct):.1f}%）", f" ({sign}{abs(pct):.1f}% on last month)")
    return t(
        loc,
        f"{period_words(report.period, loc)}共受理服务单 {number(records)} 单{change}，"
        f"收到投诉 {number(complaints)} 件，回收满意度问卷 {number(responses)} 份。",
        f"In {report.period}, {report.organisation} handled {number(records)} service records{change}, "
        f"received {number(complaints)} complaints and {number(responses)} survey responses.",
    )


def _department_sentence(report: MonthlyReport) -> str:
    loc = report.locale
    dept = report.department_kpis
    evaluated = dept[dept["status"].isin(["met", "missed"])]
    missed = dept[dept["status"] == "missed"]
    if evaluated.empty:
        return t(loc, "部门层面：本月没有可与目标对比的部门指标数据。",
                 "By department: no department had data to compare with a target.")
    if missed.empty:
        return t(loc, "部门层面：各部门考核指标全部达标。", "By department: every department met all its targets.")
    parts, listed = [], 0
    for code, name in report.departments:
        rows = missed[missed["department"] == code].to_dict("records")
        if not rows or listed >= MAX_LISTED_MISSES:
            continue
        rows = rows[: MAX_LISTED_MISSES - listed]
        listed += len(rows)
        items = _joined([_value_and_target(r, loc) for r in rows], loc)
        parts.append(t(loc, f"{name} {items}", f"{name}: {items}"))
    text = t(loc, "；", "; ").join(parts)
    depts = missed["department"].nunique()
    rest = len(missed) - listed
    more = t(loc, f"……另有 {rest} 项，详见部门指标对比" if rest else "",
             f"; and {rest} more (see the department comparison)" if rest else "")
    return t(loc, f"部门层面：{depts} 个部门共 {len(missed)} 项未达标——{text}{more}。",
             f"By department, {len(missed)} value{'s' if len(missed) != 1 else ''} missed "
             f"{'their' if len(missed) != 1 else 'its'} target in {depts} department{'s' if depts != 1 else ''}. "
             f"{text}{more}.")


def _transition_sentence(report: MonthlyReport) -> str | None:
    loc = report.locale
    ch = report.changes[report.changes["department"].isna()]
    newly = ch[ch["transition"] == "newly_missed"].to_dict("records")
    back = ch[ch["transition"] == "recovered"].to_dict("records")
    if not newly and not back:
        return None

    def moved(r: dict[str, Any]) -> str:
        return (f"{r['label']}（{fmt_value(r['previous_value'], r['kpi'], loc)} → {fmt_value(r['value'], r['kpi'], loc)}）"
                if loc.startswith("zh") else
                f"{r['label']} ({fmt_value(r['previous_value'], r['kpi'], loc)} → {fmt_value(r['value'], r['kpi'], loc)})")

    parts = []
    if newly:
        parts.append(t(loc, f"由达标转为未达标：{_joined([moved(r) for r in newly], loc)}",
                       f"these organisation-wide KPIs fell below target: {_joined([moved(r) for r in newly], loc)}"))
    if back:
        parts.append(t(loc, f"恢复达标：{_joined([moved(r) for r in back], loc)}",
                       f"{'these are' if newly else 'these organisation-wide KPIs are'} back on target: "
                       f"{_joined([moved(r) for r in back], loc)}"))
    return t(loc, "与上月相比，组织整体" + "；".join(parts) + "。",
             "Compared with last month, " + "; ".join(parts) + ".")


def _low_confidence_sentence(report: MonthlyReport) -> str | None:
    loc, n = report.locale, report.low_confidence_n
    org = report.kpis[report.kpis["low_confidence"].astype(bool)].to_dict("records")
    dept = report.department_kpis[report.department_kpis["low_confidence"].astype(bool)]
    if not org and dept.empty:
        return None
    parts = []
    if org:
        items = _joined([f"{r['label']}（n={r['n']}）" if loc.startswith("zh") else f"{r['label']} (n={r['n']})"
                         for r in org], loc)
        parts.append(t(loc, f"组织整体 {items}", f"organisation-wide {items}"))
    if not dept.empty:
        parts.append(t(loc, f"部门层面 {len(dept)} 项数值", f"{len(dept)} department values"))
    joined = t(loc, "；", "; ").join(parts)
    return t(loc, f"以下数值的样本量不足 {n}（n < {n}，表中以 † 标注），仅供参考：{joined}。",
             f"Based on fewer than {n} observations (n < {n}, marked † in the tables), indicative only: {joined}.")


__all__ = ["HISTORY_MONTHS", "MonthlyReport", "build_monthly_report", "complaint_categories", "executive_summary"]



def governance_figures(session: Session, settings: Settings, period: str, as_of: datetime) -> dict[str, Any]:
    """The standards register (reviews, trainings) and the month's suggestions (counts, adoption rate)."""
    from sqms.standards.service import register_figures
    from sqms.suggestions.service import month_figures

    return {"register": register_figures(session, settings, as_of),
            "suggestions": month_figures(session, settings, period)}
