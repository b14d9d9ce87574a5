"""服务质量月报: the monthly report as one self-contained HTML file and an XLSX workbook.

The content comes from `sqms.monthly.report.build_monthly_report`; this module only
renders it (template `templates/reports/monthly_report.html.j2`, inline SVG charts,
XLSX tables) and provides the short forms used elsewhere: the markdown summary of the
Prefect artifact and the context of the report email. Section 5 (投诉分析) and its sheets
are the complaint report's own pieces (`sqms.complaints.rendering`).

The whole pipeline for one month:

    computation = compute_and_store(session, settings, period)          # or latest_computation
    generated = produce_monthly_report(session, settings, computation)  # data → files → recorded version
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup
from sqlalchemy.orm import Session

from sqms.config import Settings
from sqms.kpi_catalog import KPI_BY_CODE, KPIS
from sqms.records.models import KpiComputation
from sqms.monthly.report import MonthlyReport, build_monthly_report
from sqms.complaints import rendering as complaints
from sqms.reporting import charts
from sqms.reporting.excel import (DATETIME, Cell, PrintInfo, Sheet, Table, change_cell, flag, kpi_cell, target_cells)
from sqms.reporting.formatting import (fmt_change, fmt_interval, fmt_target, fmt_value, is_missing, local_datetime,
                                       local_moment, md_text, percent, records, status_label, t)
from sqms.reporting.models import GeneratedReport
from sqms.reporting.spec import ReportSpec, produce_report, render_report
from sqms.monthly.weekly_charts import weekly_context

KIND = "monthly-report"
TEMPLATE = "reports/monthly_report.html.j2"

# Short definitions (DESIGN.md §4) printed under the tables.
DEFINITIONS: dict[str, tuple[str, str]] = {
    "record_volume": ("本月受理（开单）的服务单数", "service records opened in the month"),
    "avg_handling_hours": ("已办结服务单从受理到办结的平均小时数", "mean hours from opening to resolution of resolved records"),
    "fcr_pct": ("已知结果的服务单中首次联系即解决的比例", "share resolved at first contact, among records where it is known"),
    "response_within_target_pct": ("电话 30 秒、在线 60 秒内首次响应的比例（无响应计为超时）",
                                   "share first answered within the channel target (phone 30 s, online 60 s)"),
    "complaint_rate_per_1000": ("每千单服务单对应的投诉件数", "complaints received per 1,000 records opened"),
    "complaint_on_time_pct": ("已办结或已超期的投诉中在期限内办结的比例（一般 2 个、特殊 5 个工作日）",
                              "share settled by the deadline (2 working days normal, 5 special), among those due"),
    "complaint_closure_pct": ("本月受理的投诉中已办结的比例", "share of the month's complaints resolved"),
    "csat_mean": ("本月提交的问卷中满意度评分（1–5 分）均值（按提交时间计入月份，无论问卷调查的是哪个季度）",
                  "mean satisfaction score (1–5) of the answers submitted in the month (by submission time, "
                  "whichever period the survey asked about)"),
    "csat_top2_pct": ("本月提交的问卷中满意度评分 4–5 分的比例（附 95% 置信区间）",
                      "share of scores 4–5 among the answers submitted in the month (with its 95% Wilson interval)"),
    "nps": ("本月提交的问卷中推荐者（9–10 分）比例减贬损者（0–6 分）比例（附 95% 误差）",
            "share of promoters (9–10) minus detractors (0–6) among the answers submitted in the month "
            "(with its 95% margin)"),
    "sop_training_completion_pct": ("本月到期的制度/作业规范培训中按期完成（阅读确认或培训考核）的比例",
                                    "share of the SOP trainings due this month completed by their due day"),
    # service monitoring (issue 15)
    "inspection_score": ("本月内部服务检查得分（0–100，红线项未通过计 0 分）均值",
                         "mean score (0–100) of the month's internal inspections (a failed red line scores 0)"),
    "mystery_shopper_score": ("本月神秘顾客 / 第三方评估得分（0–100）均值",
                              "mean score (0–100) of the month's mystery-shopper / third-party evaluations"),
    "service_error_rate_per_1000": ("每千单服务单对应的服务差错件数", "service errors per 1,000 records opened"),
    "praise_rate_per_1000": ("每千单服务单对应的表扬件数", "compliments per 1,000 records opened"),
}


def title(report: MonthlyReport) -> str:
    return t(report.locale, f"服务质量月报 {report.period}", f"Service Quality Monthly Report {report.period}")


def file_stem(report: MonthlyReport) -> str:
    return f"monthly-report-{report.period}"


# -- charts ---------------------------------------------------------------------------


def trend_charts(report: MonthlyReport) -> list[dict[str, Any]]:
    """One 13-month trend per KPI (organisation-wide), with its target line."""
    out = []
    for definition in KPIS:
        trend = report.trend(definition.code)
        label = definition.label(report.locale)
        svg = charts.trend_chart(
            trend["period"].tolist(), trend["value"].tolist(), targets=trend["target"].tolist(),
            statuses=trend["status"].tolist(), low_confidence=trend["low_confidence"].tolist(),
            unit=definition.unit, decimals=definition.decimals, locale=report.locale,
            low_confidence_n=report.low_confidence_n,
            title=t(report.locale, f"{label}：近 13 个月趋势", f"{label}: last 13 months"))
        out.append({"kpi": definition.code, "label": label, "svg": Markup(svg)})
    return out


def department_charts(report: MonthlyReport) -> list[dict[str, Any]]:
    """One department comparison per KPI, coloured against each department's target."""
    out = []
    for definition in KPIS:
        rows = report.department_kpis[report.department_kpis["kpi"] == definition.code]
        label = definition.label(report.locale)
        svg = charts.department_bars(
            rows["department_name"].tolist(), rows["value"].tolist(), targets=rows["target"].tolist(),
            statuses=rows["status"].tolist(), low_confidence=rows["low_confidence"].tolist(),
            unit=definition.unit, decimals=definition.decimals, locale=report.locale,
            title=t(report.locale, f"{label}：部门对比", f"{label}: by department"))
        out.append({"kpi": definition.code, "label": label, "svg": Markup(svg)})
    return out


def control_context(report: MonthlyReport) -> dict[str, Any]:
    """控制图: the organisation's charts, the charts of departments with a signal this month, and the
    signals of this month with their rules in words (adverse signals only: on the KPI's bad side)."""
    loc = report.locale
    names = dict(report.departments)
    baseline = report.control[0].chart.baseline[1] if report.control else 0

    def drawn(series: Any) -> dict[str, Any]:
        definition = KPI_BY_CODE[series.kpi]
        label = definition.label(loc)
        who = names.get(series.department, series.department) if series.department else t(loc, "组织整体", "Organisation")
        chart = series.chart
        svg = charts.control_chart(
            series.periods, chart.values, centre=chart.centre, ucl=chart.ucl, lcl=chart.lcl,
            signals=[i for s in series.adverse for i in (s.index,)], baseline_end=chart.baseline[1],
            unit=definition.unit, decimals=definition.decimals, locale=loc,
            title=t(loc, f"{who} · {label}：控制图（{ {'p': 'p 图', 'u': 'u 图', 'xmr': 'X-MR 图'}[chart.kind] }）",
                    f"{who} · {label}: {'p' if chart.kind == 'p' else 'u' if chart.kind == 'u' else 'XmR'} chart"))
        return {"kpi": series.kpi, "label": label, "department": who, "svg": Markup(svg)}

    signals = []
    for series in report.control:
        if not series.current:
            continue
        definition = KPI_BY_CODE[series.kpi]
        last = len(series.periods) - 1
        status = report.kpis if series.department is None else report.department_kpis[
            report.department_kpis["department"] == series.department]
        row = status[status["kpi"] == series.kpi]
        signals.append({
            "department": names.get(series.department, series.department) if series.department
            else t(loc, "组织整体", "Organisation"),
            "department_code": series.department,
            "kpi": series.kpi, "label": definition.label(loc),
            "value": series.chart.values[last], "centre": series.chart.centre[last],
            "lcl": series.chart.lcl[last], "ucl": series.chart.ucl[last],
            "status": row["status"].iloc[0] if len(row) else "no_data",
            "rules": series.rules(loc),
        })
    flagged = {(s["department_code"], s["kpi"]) for s in signals}
    flagged_departments = {code for code, _ in flagged if code}
    return {
        "organisation": [drawn(s) for s in report.control if s.department is None],
        "departments": [drawn(s) for s in report.control
                        if s.department in flagged_departments and (s.department, s.kpi) in flagged],
        "signals": signals,
        "baseline": report.periods[:baseline],
        "early_warnings": [s for s in signals if s["status"] == "met"],
    }


ITEM_KPIS = ("record_volume", "avg_handling_hours", "fcr_pct", "response_within_target_pct",
             "complaint_rate_per_1000", "complaint_on_time_pct", "complaint_closure_pct")  # what records carry


def service_item_context(report: MonthlyReport, settings: Settings) -> dict[str, Any]:
    """按服务项目: one row per item of the catalogue, its KPIs against the item's targets."""
    loc = report.locale
    frame = report.service_items
    if frame.empty:
        return {"rows": [], "kpis": [], "without_item": report.records_without_item}
    names = dict(report.departments)
    rows = []
    for item in settings.service_items:
        cells = {r["kpi"]: r for r in records(frame[frame["service_item"] == item.code])}
        rows.append({"code": item.code, "name": item.label(loc), "department": names.get(item.department, item.department),
                     "cells": [cells.get(k) for k in ITEM_KPIS]})
    return {"rows": rows, "kpis": [{"code": k, "label": KPI_BY_CODE[k].label(loc)} for k in ITEM_KPIS],
            "without_item": report.records_without_item}


# -- the files --------------------------------------------------------------------------


def html_context(report: MonthlyReport, settings: Settings) -> dict[str, Any]:
    dept = report.department_kpis
    matrix = []
    for code, name in report.departments:
        cells = {r["kpi"]: r for r in records(dept[dept["department"] == code])}
        matrix.append({"code": code, "name": name, "cells": [cells.get(k.code) for k in KPIS]})
    changes = report.changes
    return {
        "locale": report.locale,
        "report": report,
        "period": report.period,
        "title": title(report),
        "organisation": report.organisation,
        "summary": report.summary,
        "kpi_rows": records(report.kpis),
        "kpis": [{"code": k.code, "label": k.label(report.locale), "better": k.better,
                  "definition": t(report.locale, *DEFINITIONS[k.code])} for k in KPIS],
        "matrix": matrix,
        "trends": trend_charts(report),
        "comparisons": department_charts(report),
        "complaint_analysis": complaints.analysis_context(report.complaints, settings),
        "oldest_listed": complaints.MONTHLY_OLDEST,
        "complaint_report_file": complaints.file_stem(report.complaints),  # its version: see the mail
        "org_changes": records(changes[changes["department"].isna()]),
        "department_transitions": records(changes[changes["department"].notna() & changes["transition"].notna()]),
        "counts": report.input_counts,
        "improvement": report.improvement,
        "governance": report.governance,
        "control": control_context(report),
        "weekly": weekly_context(report.weekly, dict(report.departments), report.locale),  # 周控制图
        "commentary": report.commentary,  # the quality manager's analysis (report.hold_hours)
        "pdca_check_months": settings.improvement.check_months,
        "service_items": service_item_context(report, settings),
        "problems": report.problems,
        "complaint_rises": [{"department": dict(report.departments).get(r.department, r.department),
                             "words": r.words(report.locale)} for r in report.complaint_rises],
        "pdca_min_n": settings.improvement.min_n,
        "evaluated": len(report.evaluated),
        "met": report.met_count,
        "missed": report.missed_count,
        "department_missed": int((dept["status"] == "missed").sum()),
        "low_n": report.low_confidence_n,
        "has_low_confidence": bool(report.kpis["low_confidence"].any() or dept["low_confidence"].any()),
        "generated_at": report.generated_at,
        "as_of": report.as_of,
    }


def excel_tables(report: MonthlyReport) -> list[Table]:
    """The report's tables for the workbook: summary, KPIs, departments, trend, the complaint analysis
    (categories, departments, actions: the complaint report's own sheets), changes, PDCA cycles.

    Every figure is a number with its unit as number format; a target is a number plus its
    direction (≥/≤) in the next column; n < threshold is the † the report explains."""
    loc = report.locale

    def text(value: Any) -> Any:
        return None if is_missing(value) else value

    def cells(frame: pd.DataFrame, column: str) -> list[Any]:
        return [kpi_cell(v, k, loc) for v, k in zip(frame[column], frame["kpi"])]

    def changes(frame: pd.DataFrame) -> list[Any]:
        return [change_cell(v, k, loc) for v, k in zip(frame["change"], frame["kpi"])]

    def targets(frame: pd.DataFrame) -> tuple[list[Any], list[Any]]:
        pairs = [target_cells(v, k, loc) for v, k in zip(frame["target"], frame["kpi"])]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    c = {  # column headings
        "kpi": t(loc, "指标", "KPI"), "code": t(loc, "代码", "Code"), "value": t(loc, "本月", "This month"),
        "target": t(loc, "目标", "Target"), "direction": t(loc, "目标方向", "Direction"),
        "status": t(loc, "状态", "Status"), "n": t(loc, "样本量 n", "n"),
        "low": t(loc, f"n<{report.low_confidence_n}", f"n<{report.low_confidence_n}"),
        "prev": t(loc, "上月", "Last month"), "change": t(loc, "环比变化", "Change"),
        "unit": t(loc, "单位", "Unit"), "dept": t(loc, "部门", "Department"),
    }
    kpis = report.kpis
    kpi_targets, kpi_directions = targets(kpis)
    kpi_sheet = pd.DataFrame({
        c["kpi"]: kpis["label"], c["code"]: kpis["kpi"], c["value"]: cells(kpis, "value"),
        c["unit"]: kpis["unit"], c["target"]: kpi_targets, c["direction"]: kpi_directions,
        c["status"]: [status_label(s, loc) for s in kpis["status"]], c["n"]: kpis["n"].astype("int64"),
        c["low"]: [flag(x) for x in kpis["low_confidence"]], c["prev"]: cells(kpis, "previous_value"),
        c["change"]: changes(kpis),
    })
    dept = report.department_kpis
    dept_targets, dept_directions = targets(dept)
    dept_sheet = pd.DataFrame({
        c["dept"]: dept["department_name"], t(loc, "部门代码", "Department code"): dept["department"],
        c["kpi"]: dept["label"], c["code"]: dept["kpi"], c["value"]: cells(dept, "value"), c["unit"]: dept["unit"],
        c["target"]: dept_targets, c["direction"]: dept_directions,
        c["status"]: [status_label(s, loc) for s in dept["status"]], c["n"]: dept["n"].astype("int64"),
        c["low"]: [flag(x) for x in dept["low_confidence"]], c["prev"]: cells(dept, "previous_value"),
        c["change"]: changes(dept),
    })
    org_history = report.history[report.history["department"].isna()]
    trend = org_history.pivot(index="kpi", columns="period", values="value").reindex(
        index=[k.code for k in KPIS], columns=report.periods)
    trend = pd.DataFrame({period: [kpi_cell(v, k.code, loc) for v, k in zip(trend[period], KPIS)]
                          for period in report.periods})
    trend.insert(0, c["unit"], [k.unit for k in KPIS])
    trend.insert(0, c["code"], [k.code for k in KPIS])
    trend.insert(0, c["kpi"], [k.label(loc) for k in KPIS])
    ch = report.changes
    change_sheet = pd.DataFrame({
        c["dept"]: [text(n) or t(loc, "组织整体", "Organisation") for n in ch["department_name"]],
        c["kpi"]: ch["label"], c["prev"]: cells(ch, "previous_value"), c["value"]: cells(ch, "value"),
        c["change"]: changes(ch),
        t(loc, "上月状态", "Last month's status"): [status_label(s, loc) for s in ch["previous_status"]],
        c["status"]: [status_label(s, loc) for s in ch["status"]],
        t(loc, "状态变化", "Status change"): [
            {"newly_missed": t(loc, "转为未达标", "fell below target"),
             "recovered": t(loc, "恢复达标", "back on target")}.get(x) if not is_missing(x) else None
            for x in ch["transition"]],
    })
    counts = report.input_counts
    summary_sheet = pd.DataFrame({
        t(loc, "项目", "Item"): [
            t(loc, "报告", "Report"), t(loc, "组织", "Organisation"), t(loc, "统计期", "Period"),
            t(loc, "服务单数", "Service records"), t(loc, "投诉件数", "Complaints"),
            t(loc, "满意度问卷数", "Survey responses"), t(loc, "组织整体达标指标数", "KPIs met"),
            t(loc, "组织整体考核指标数", "KPIs with a target"),
            t(loc, "部门未达标项数", "Department values missed"),
            t(loc, "生成时间", "Generated at"), t(loc, "数据截至", "Data as of"),
            *[t(loc, f"摘要 {i}", f"Summary {i}") for i in range(1, len(report.summary) + 1)],
        ],
        t(loc, "内容", "Value"): [
            title(report), report.organisation, report.period, counts.get("records", 0),
            counts.get("complaints", 0), counts.get("responses", 0), report.met_count, len(report.evaluated),
            int((dept["status"] == "missed").sum()),
            Cell(local_moment(report.generated_at, report.timezone), DATETIME),
            Cell(local_moment(report.as_of, report.timezone), DATETIME),
            *report.summary,
        ],
    })
    stages = {"plan": t(loc, "计划", "plan"), "do": t(loc, "实施", "do"), "check": t(loc, "检查", "check"),
              "act": t(loc, "处置", "act"), "closed": t(loc, "已关闭", "closed")}
    cycles = report.improvement
    pdca_targets = [target_cells(r["target"], r["kpi"], loc) for r in cycles]
    pdca_sheet = pd.DataFrame({
        t(loc, "循环", "Cycle"): [r["ref"] for r in cycles], c["dept"]: [r["department"] for r in cycles],
        c["kpi"]: [r["kpi_label"] for r in cycles], t(loc, "阶段", "Stage"): [stages[r["status"]] for r in cycles],
        t(loc, "轮次", "Iteration"): [r["iteration"] for r in cycles],
        t(loc, "开启月份", "Opened"): [r["opened"] for r in cycles],
        t(loc, "基线", "Baseline"): [kpi_cell(r["baseline"], r["kpi"], loc) for r in cycles],
        c["target"]: [p[0] for p in pdca_targets], c["direction"]: [p[1] for p in pdca_targets],
        t(loc, "检查月份", "Check period"): [r["check_period"] for r in cycles],
        t(loc, "检查值", "Check value"): [kpi_cell(r["check_value"], r["kpi"], loc) for r in cycles],
        t(loc, "检查结果", "Check result"): [None if r["check_met"] is None else
                                            t(loc, "达标", "met") if r["check_met"] else t(loc, "未达标", "not met")
                                            for r in cycles],
        t(loc, "措施数", "Actions"): [r["actions"] for r in cycles],
        t(loc, "已完成措施", "Actions done"): [r["actions_done"] for r in cycles],
    }, dtype=object)
    return [
        Sheet(t(loc, "摘要", "Summary"), summary_sheet),
        Sheet(t(loc, "组织指标", "KPIs"), kpi_sheet),
        Sheet(t(loc, "部门指标", "Departments"), dept_sheet,
              empty_note=t(loc, "未配置部门指标。", "No department KPIs are configured.")),
        Sheet(t(loc, "13个月趋势", "13-month trend"), trend),
        complaints.category_sheet(report.complaints),
        complaints.department_sheet(report.complaints),
        complaints.actions_sheet(report.complaints),
        Sheet(t(loc, "环比变化", "Changes"), change_sheet,
              empty_note=t(loc, "没有上月数据，无法比较。", "No figures for last month to compare with.")),
        Sheet(t(loc, "持续改进PDCA", "Improvement (PDCA)"), pdca_sheet,
              empty_note=t(loc, "目前没有改进循环。部门指标连续未达标或大幅未达标时，系统会自动开启 PDCA 循环。",
                           "No improvement cycle yet: a department KPI that keeps missing its target opens one.")),
    ]


def print_info(report: MonthlyReport, version: int | None = None) -> PrintInfo:
    return PrintInfo(title(report), report.period, version, report.locale)


SPEC = ReportSpec(kind=KIND, template=TEMPLATE, stem=file_stem, context=html_context, tables=excel_tables,
                  print_info=print_info)


def render_monthly_report(report: MonthlyReport, settings: Settings, out_dir: str | Path,
                          version: int | None = None) -> dict[str, Path]:
    """Write `monthly-report-<period>.html` (self-contained) and `.xlsx` into `out_dir`; the version,
    when given, is printed on the page beside the generation time."""
    return render_report(SPEC, report, settings, out_dir, version)


def produce_monthly_report(session: Session, settings: Settings, computation: KpiComputation,
                           *, locale: str | None = None) -> GeneratedReport:
    """The whole pipeline: the report's data from `computation`, its files in the next version's
    folder, and the recorded `GeneratedReport` (flushed, not committed)."""
    report = build_monthly_report(session, settings, computation.period, computation, locale=locale)
    return produce_report(session, settings, SPEC, report, period=report.period, locale=report.locale,
                          kpi_computation_id=computation.id, summary=stored_summary(report))


def stored_summary(report: MonthlyReport) -> dict[str, Any]:
    """What is kept with the generated report (JSON): the key figures, and the short forms that
    the artifact and the email are made from, so that neither has to rebuild the report."""
    email = email_summary_context(report)
    email["generated_at"] = local_datetime(report.generated_at, report.timezone)
    return {
        **report.summary_dict(),
        "markdown": monthly_report_markdown(report),
        "table": [{k: r[k] for k in ("label", "value", "target", "status_label", "n", "previous", "change")}
                  for r in key_rows(report)],
        "email": email,
    }


# -- short forms: the Prefect artifact and the email ----------------------------------------


def key_rows(report: MonthlyReport) -> list[dict[str, Any]]:
    """The organisation-wide KPIs, formatted for a short table (email, artifact)."""
    loc = report.locale
    rows = []
    for r in records(report.kpis):
        rows.append({
            "kpi": r["kpi"],
            "label": r["label"],
            "value": fmt_value(r["value"], r["kpi"], loc) + (" †" if r["low_confidence"] else ""),
            "target": fmt_target(r["target"], r["kpi"], loc),
            "status": r["status"],
            "status_label": status_label(r["status"], loc),
            "n": int(r["n"]),
            "low_confidence": bool(r["low_confidence"]),
            "interval": fmt_interval(r["kpi"], r.get("extra"), loc),
            "previous": fmt_value(r["previous_value"], r["kpi"], loc),
            "change": fmt_change(r["change"], r["kpi"], loc),
            "improved": r["improved"],
        })
    return rows


def monthly_report_markdown(report: MonthlyReport, link: str | None = None) -> str:
    """A short markdown summary: title, key figures, the summary sentences and the KPI table."""
    loc = report.locale
    marks = {"met": "✅", "missed": "❌", "no_target": "➖", "no_data": "·"}
    counts = report.input_counts
    lines = [
        f"# {md_text(title(report))}",
        "",
        f"**{md_text(report.organisation)}** · "
        + t(loc, f"达标 {report.met_count}/{len(report.evaluated)} 项 · 服务单 {counts.get('records', 0):,} · "
                 f"投诉 {counts.get('complaints', 0):,} · 问卷 {counts.get('responses', 0):,}",
            f"met {report.met_count}/{len(report.evaluated)} · records {counts.get('records', 0):,} · "
            f"complaints {counts.get('complaints', 0):,} · responses {counts.get('responses', 0):,}"),
        "",
        *[f"- {md_text(sentence)}" for sentence in report.summary],
        "",
        "| " + " | ".join(t(loc, "指标|本月|目标|状态|n|上月|环比", "KPI|value|target|status|n|last month|change")
                         .split("|")) + " |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for r in key_rows(report):
        value = r["value"] + (f" ({r['interval']})" if r["interval"] else "")
        lines.append(f"| {md_text(r['label'])} | {md_text(value)} | {md_text(r['target'])} | "
                     f"{marks.get(r['status'], '')} {md_text(r['status_label'])} | {r['n']} | "
                     f"{md_text(r['previous'])} | {md_text(r['change'])} |")
    if report.kpis["low_confidence"].any():
        lines += ["", t(loc, f"† 样本量 n < {report.low_confidence_n}，仅供参考。",
                        f"† fewer than {report.low_confidence_n} observations, indicative only.")]
    if len(report.complaint_categories):
        top = report.complaint_categories.head(3).to_dict("records")
        lines += ["", t(loc, "投诉主要类别：", "Top complaint categories: ") + t(loc, "、", ", ").join(
            f"{md_text(c['category'])} {c['count']}（{percent(c['share_pct'])}）" if loc.startswith("zh")
            else f"{md_text(c['category'])} {c['count']} ({percent(c['share_pct'])})" for c in top)]
    if link:
        lines += ["", f"[{t(loc, '查看完整报告', 'Open the full report')}]({link})"]
    return "\n".join(lines) + "\n"


def verdict(report: MonthlyReport) -> str:
    """The subject's verdict, counted as the executive summary counts (organisation-wide KPIs, then
    department values), so that every number in it is one the report shows."""
    loc = report.locale
    org, dept = report.missed_count, int((report.department_kpis["status"] == "missed").sum())
    if org == 0 and dept == 0:
        return t(loc, "全部达标", "all targets met")
    met, total = report.met_count, len(report.evaluated)
    parts = [t(loc, f"组织整体 {org} 项未达标", f"organisation-wide {met} of {total} met") if org
             else t(loc, "组织整体全部达标", "organisation-wide all met")]
    if dept:
        parts.append(t(loc, f"部门共 {dept} 项未达标", f"{dept} department values missed"))
    return t(loc, "，", ", ").join(parts)


def email_summary_context(report: MonthlyReport) -> dict[str, Any]:
    """What the report email needs (templates/email/<locale>/monthly_report.*.j2); free text is
    left unescaped here: the templates autoescape it."""
    loc = report.locale
    missed = report.missed
    return {
        "title": title(report),
        "subject": {
            "prefix": t(loc, "[服务质量月报]", "[Service quality report]"),
            "organisation": report.organisation,
            "period": report.period,
            "verdict": verdict(report),
        },
        "period": report.period,
        "organisation": report.organisation,
        "locale": loc,
        "summary": list(report.summary),
        "rows": key_rows(report),
        "met": report.met_count,
        "missed": report.missed_count,
        "evaluated": len(report.evaluated),
        "department_missed": int((report.department_kpis["status"] == "missed").sum()),
        "missed_values": [
            {"department": r["department"], "department_name": r["department_name"], "label": r["label"],
             "value": fmt_value(r["value"], r["kpi"], loc), "target": fmt_target(r["target"], r["kpi"], loc)}
            for r in missed.to_dict("records")
        ],
        "counts": dict(report.input_counts),
        "low_confidence_n": report.low_confidence_n,
        "generated_at": report.generated_at,
        "files": {"html": f"{file_stem(report)}.html", "xlsx": f"{file_stem(report)}.xlsx"},
    }
