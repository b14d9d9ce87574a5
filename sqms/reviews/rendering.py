"""管理评审 — rendering: the input pack (评审输入, kind `review-pack`) and the review report (管理评审报告,
kind `review-report`), each as a self-contained HTML page and an XLSX workbook, kept as versioned
reports under `<reports_dir>/<kind>/<year>/v<version>/`.

The pack's data comes from `sqms.reviews.pack`, the report's from `sqms.reviews.outcome` (no rendering
in either).

    generated = produce_pack(session, settings, review)            # html, xlsx and the invitation (ics)
    generated = produce_review_report(session, settings, review)   # html, xlsx
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup
from sqlalchemy.orm import Session

from sqms.calendar import utcnow
from sqms.config import Settings
from sqms.reporting import charts
from sqms.reporting.excel import DATETIME, Cell, PrintInfo, Table, kpi_cell
from sqms.reporting.formatting import (comparator, kpi_label, local_moment, md_text, records, status_label, t)
from sqms.reporting.models import GeneratedReport
from sqms.reporting.spec import ReportSpec, produce_report, render_report
from sqms.reviews.invitation import invitation_ics
from sqms.reviews.models import ManagementReview
from sqms.reviews.outcome import ReviewReport, build_review_report
from sqms.reviews.pack import TARGETED_KPIS, ReviewPack, build_pack

PACK_KIND = "review-pack"
REPORT_KIND = "review-report"
PACK_TEMPLATE = "reports/review_pack.html.j2"
REPORT_TEMPLATE = "reports/review_report.html.j2"


def period_of(review: ManagementReview) -> str:
    """The report period of a review: the year reviewed (`2025`)."""
    return str(review.year)


def _sheet(frame: pd.DataFrame, columns: dict[str, tuple[str, str]], loc: str) -> pd.DataFrame:
    """The listed columns, in that order, headed in the report language."""
    return pd.DataFrame({t(loc, zh, en): frame[c] if c in frame else None for c, (zh, en) in columns.items()})


def _yes(values: pd.Series, loc: str) -> list[str | None]:
    return [t(loc, "是", "yes") if v is True or v == 1 else None for v in values]


def _meeting(day: date, at: str) -> Cell | str:
    """The meeting's date and time as a spreadsheet date (as written when the time is not HH:MM)."""
    try:
        return Cell(datetime.combine(day, time.fromisoformat(at)), DATETIME)
    except ValueError:
        return f"{day.isoformat()} {at}"


def _kpi_figures(frame: pd.DataFrame, columns: tuple[str, ...], loc: str) -> pd.DataFrame:
    """KPI figures as numbers with the KPI's unit format, and the target's direction (≥/≤) beside it."""
    if frame.empty or "kpi" not in frame:
        return frame
    out = frame.copy()
    for column in columns:
        if column in out:
            out[column] = pd.Series([kpi_cell(v, k, loc) for v, k in zip(frame[column], frame["kpi"])],
                                    index=frame.index, dtype=object)
    out["direction"] = [comparator(k) or None for k in frame["kpi"]]
    return out


# -- the input pack ----------------------------------------------------------------------------------------


def pack_title(pack: ReviewPack) -> str:
    return t(pack.locale, f"{pack.year}年度管理评审输入材料", f"Management review {pack.year}: input pack")


def _cell_status(row: dict[str, Any]) -> str:
    """A department × KPI cell: every judged month met → met, any miss → missed, nothing judged → no data."""
    if not row["judged"]:
        return "no_data"
    return "met" if row["met"] == row["judged"] else "missed"


def org_matrix(pack: ReviewPack) -> list[dict[str, Any]]:
    """The organisation's KPIs month by month against the year's targets (one row per KPI)."""
    org = pack.kpi_values[pack.kpi_values["department"].isna()]
    by_key = {(r["kpi"], r["period"]): r for r in records(org)}
    completion = {r["kpi"]: r for r in records(pack.kpi_completion) if r["department"] is None}
    out = []
    for kpi in TARGETED_KPIS:
        cells = [by_key.get((kpi, p)) or {"value": None, "status": "no_data"} for p in pack.periods]
        out.append({**completion[kpi], "cells": [{"value": c["value"], "status": c["status"]} for c in cells]})
    return out


def department_matrix(pack: ReviewPack) -> list[dict[str, Any]]:
    """Each department × KPI: months met of months judged over the year."""
    rows = records(pack.kpi_completion)
    out = []
    for d in records(pack.completion_by_department):
        if d["department"] is None:
            continue
        mine = {r["kpi"]: r for r in rows if r["department"] == d["department"]}
        out.append({**d, "cells": [{**mine[k], "status": _cell_status(mine[k])} for k in TARGETED_KPIS]})
    return out


def pack_charts(pack: ReviewPack) -> list[dict[str, Any]]:
    """Completion by department (bars) and the organisation's completion month by month (line)."""
    loc = pack.locale
    departments = pack.completion_by_department
    by_month = pack.completion_by_month
    return [
        {"label": t(loc, "目标完成率：按部门", "Targets met: by department"), "svg": Markup(charts.department_bars(
            departments["department_name"].tolist(), departments["completion_pct"].tolist(), unit="%", decimals=1,
            locale=loc, title=t(loc, "目标完成率：按部门", "Targets met by department"), colour=charts.COLOURS["bar"]))},
        {"label": t(loc, "组织目标完成率：按月", "Organisation targets met: by month"), "svg": Markup(charts.trend_chart(
            by_month["period"].tolist(), by_month["completion_pct"].tolist(), unit="%", decimals=1, locale=loc,
            title=t(loc, "组织目标完成率：按月", "Organisation targets met by month")))},
    ]


def pack_html_context(pack: ReviewPack) -> dict[str, Any]:
    """What `reports/review_pack.html.j2` shows: tables as rows (None for missing), charts as Markup."""
    return {
        "locale": pack.locale, "title": pack_title(pack), "organisation": pack.organisation,
        "period": str(pack.year), "generated_at": pack.generated_at, "timezone": pack.timezone, "pack": pack,
        "totals": pack.totals, "summary": pack.summary, "periods": pack.periods, "kpis": TARGETED_KPIS,
        "org_matrix": org_matrix(pack), "department_matrix": department_matrix(pack),
        "by_month": records(pack.completion_by_month), "participants": records(pack.participants),
        "surveys": records(pack.surveys), "survey_scores": records(pack.survey_scores),
        "complaints": pack.complaints, "complaints_by_department": records(pack.complaints_by_department),
        "complaints_by_month": records(pack.complaints_by_month),
        "complaint_categories": records(pack.complaint_categories.head(10)),
        "audits": records(pack.audits), "nonconformities": records(pack.nonconformities),
        "improvement_cycles": records(pack.improvement_cycles), "actions": records(pack.actions),
        "overdue_actions": records(pack.overdue_actions), "previous_actions": records(pack.previous_actions),
        "department_reports": records(pack.department_reports), "charts": pack_charts(pack),
    }


def pack_excel_tables(pack: ReviewPack) -> list[Table]:
    """The workbook: summary, KPI completion (by KPI, month, department, the monthly values), surveys,
    complaints, audits, improvement, actions, the previous review's actions, department reports."""
    loc = pack.locale
    summary = pd.DataFrame({
        t(loc, "项目", "item"): [t(loc, "材料", "pack"), t(loc, "组织", "organisation"), t(loc, "评审年度", "year"),
                                t(loc, "会议日期", "meeting"), t(loc, "会议地点", "place"),
                                t(loc, "生成时间", "generated at"),
                                *[t(loc, f"摘要 {i}", f"summary {i}") for i in range(1, len(pack.summary) + 1)]],
        t(loc, "内容", "value"): [pack_title(pack), pack.organisation, pack.year,
                                 _meeting(pack.meeting_on, pack.meeting_time), pack.meeting_place,
                                 Cell(local_moment(pack.generated_at, pack.timezone), DATETIME), *pack.summary],
    }, dtype=object)
    counts = {"judged": ("评价月次", "judged"), "met": ("达标", "met"), "missed": ("未达标", "missed"),
              "completion_pct": ("目标完成率%", "completion %")}
    direction = {"direction": ("目标方向", "direction")}
    values = _kpi_figures(pack.kpi_values, ("value", "target"), loc).assign(
        kpi_label=[kpi_label(x, loc) for x in pack.kpi_values["kpi"]],
        department_name=[t(loc, "组织整体", "Organisation") if d is None or pd.isna(d) else d
                         for d in pack.kpi_values["department"]],
        status_label=[status_label(s, loc) for s in pack.kpi_values["status"]])
    reports = pack.department_reports.assign(submitted_label=_yes(pack.department_reports["submitted"], loc),
                                             late_label=_yes(pack.department_reports["late"], loc))
    action_columns = {"ref": ("编号", "ref"), "source_label": ("来源", "source"), "title": ("措施", "title"),
                      "department_name": ("部门", "department"), "owner_name": ("负责人", "owner"),
                      "due_on": ("完成期限", "due on"), "status_label": ("状态", "status")}
    return [
        (t(loc, "摘要", "Summary"), summary),
        (t(loc, "目标完成-按指标", "Targets by KPI"), _sheet(_kpi_figures(pack.kpi_completion,
                                                                      ("target", "mean_value"), loc), {
            "kpi_label": ("指标", "KPI"), "department_name": ("范围", "scope"), "target": ("年度目标", "target"),
            **direction,
            "months_with_data": ("有数据月数", "months with data"), **counts,
            "mean_value": ("月均值", "monthly mean")}, loc)),
        (t(loc, "目标完成-按月", "Targets by month"), _sheet(pack.completion_by_month, {
            "period": ("月份", "month"), **counts}, loc)),
        (t(loc, "目标完成-按部门", "Targets by department"), _sheet(pack.completion_by_department, {
            "department_name": ("范围", "scope"), **counts}, loc)),
        (t(loc, "指标月度明细", "KPI values"), _sheet(values, {
            "period": ("月份", "month"), "kpi_label": ("指标", "KPI"), "department_name": ("范围", "scope"),
            "value": ("数值", "value"), "n": ("样本量", "n"), "target": ("年度目标", "target"), **direction,
            "status_label": ("评价", "status")}, loc)),
        (t(loc, "满意度调查", "Surveys"), _sheet(pack.surveys, {
            "code": ("调查", "campaign"), "period_start": ("起", "from"), "period_end": ("止", "to"),
            "invited": ("邀请", "invited"), "responded": ("回收", "responded"),
            "response_rate": ("回收率%", "response rate %"), "csat_mean": ("满意度均值", "CSAT"),
            "top2_pct": ("满意率%", "top-2 %"), "nps": ("净推荐值", "NPS"), "detractors": ("不满意客户", "detractors")},
            loc)),
        (t(loc, "满意度-按部门", "Satisfaction by department"), _sheet(pack.survey_scores, {
            "department_name": ("范围", "scope"), "responses": ("问卷数", "responses"),
            "csat_mean": ("满意度均值", "CSAT"), "top2_pct": ("满意率%", "top-2 %"), "nps": ("净推荐值", "NPS")}, loc)),
        (t(loc, "投诉-按部门", "Complaints by department"), _sheet(pack.complaints_by_department, {
            "department_name": ("部门", "department"), "received": ("受理", "received"),
            "resolved": ("办结", "resolved"), "closure_pct": ("办结率%", "closure %"),
            "on_time_pct": ("按期办结率%", "on time %"), "special": ("重大投诉", "special"), "open": ("未办结", "open")},
            loc)),
        (t(loc, "投诉-按月", "Complaints by month"), _sheet(pack.complaints_by_month, {
            "period": ("月份", "month"), "received": ("受理", "received"), "closure_pct": ("办结率%", "closure %"),
            "on_time_pct": ("按期办结率%", "on time %"), "special": ("重大投诉", "special")}, loc)),
        (t(loc, "投诉类别", "Complaint categories"), _sheet(pack.complaint_categories, {
            "category": ("类别", "category"), "count": ("件数", "count"), "share_pct": ("占比%", "share %"),
            "cumulative_pct": ("累计占比%", "cumulative %")}, loc)),
        (t(loc, "内部审核", "Internal audits"), _sheet(pack.audits, {
            "code": ("周期", "cycle"), "first_day": ("起", "from"), "last_day": ("止", "to"),
            "departments": ("受审部门", "departments"), "major": ("严重不符合", "major"), "minor": ("一般不符合", "minor"),
            "observation": ("观察项", "observations"), "improvement": ("改进机会", "improvements"),
            "open_nonconformities": ("未关闭不符合项", "open nonconformities")}, loc)),
        (t(loc, "不符合项", "Nonconformities"), _sheet(pack.nonconformities, {
            "cycle": ("周期", "cycle"), "department_name": ("部门", "department"), "item_code": ("检查项", "item"),
            "result_label": ("结果", "result"), "notes": ("说明", "notes"), "action_ref": ("纠正措施", "action"),
            "owner_name": ("负责人", "owner"), "due_on": ("完成期限", "due on"),
            "action_status_label": ("措施状态", "status")}, loc)),
        (t(loc, "持续改进", "PDCA cycles"), _sheet(_kpi_figures(pack.improvement_cycles,
                                                              ("baseline", "target", "check_value"), loc), {
            "ref": ("编号", "ref"), "department_name": ("部门", "department"), "kpi_label": ("指标", "KPI"),
            "status_label": ("阶段", "stage"), "iteration": ("轮次", "iteration"), "owner_name": ("负责人", "owner"),
            "opened_period": ("开启月份", "opened"), "reason": ("原因", "reason"), "baseline": ("基线", "baseline"),
            "target": ("目标", "target"), **direction, "check_value": ("检查值", "check value")}, loc)),
        (t(loc, "纠正预防措施", "Actions"), _sheet(pack.actions, {
            "source_label": ("来源", "source"), "opened_in_year": ("年内新开", "opened in year"),
            "open": ("待实施/实施中", "open"), "done": ("待验证", "to verify"), "verified": ("已验证", "verified"),
            "overdue": ("逾期", "overdue")}, loc)),
        (t(loc, "逾期措施", "Overdue actions"), _sheet(pack.overdue_actions, action_columns, loc)),
        (t(loc, "上次评审措施", "Previous review actions"), _sheet(pack.previous_actions, {
            "kind_label": ("类别", "kind"), "text": ("内容", "text"), **action_columns}, loc)),
        (t(loc, "部门年度工作报告", "Department reports"), _sheet(reports, {
            "department_name": ("部门", "department"), "manager_name": ("负责人", "head"),
            "submitted_label": ("已提交", "submitted"), "late_label": ("逾期", "late"),
            "file_name": ("附件", "file"), "text": ("报告内容", "text")}, loc)),
        (t(loc, "参加人员", "Participants"), _sheet(pack.participants, {
            "name": ("姓名", "name"), "department_name": ("部门", "department"), "email": ("邮箱", "email")}, loc)),
    ]


def pack_agenda(pack: ReviewPack) -> str:
    """The invitation's description: the agenda of the regulation and the pack's summary (plain text)."""
    loc = pack.locale
    items = t(loc, "年度目标及指标完成情况|顾客满意度调查结果|投诉分析|内部审核报告及不符合项整改|持续改进及纠正预防措施|"
                   "上次管理评审措施跟踪|各部门年度工作报告",
              "objectives and KPI results|customer satisfaction|complaints|internal audits and nonconformities|"
              "improvement and corrective actions|follow-up of the previous review|department annual reports")
    lines = [t(loc, "评审输入：", "Review inputs:"), *[f"{i}. {x}" for i, x in enumerate(items.split("|"), 1)], "",
             *pack.summary]
    return "\n".join(lines)


def pack_markdown(pack: ReviewPack) -> str:
    """The Prefect artifact of the pack: meeting, summary, completion by department."""
    loc = pack.locale
    lines = [f"# {md_text(pack_title(pack))}", "",
             f"**{md_text(pack.organisation)}** · " + t(loc, "会议", "meeting") +
             f" {pack.meeting_on.isoformat()} {pack.meeting_time} · {md_text(pack.meeting_place)}", "",
             *[f"- {md_text(s)}" for s in pack.summary], "",
             "| " + t(loc, "范围 | 评价月次 | 达标 | 目标完成率", "scope | judged | met | completion") + " |",
             "|---|---:|---:|---:|"]
    for r in records(pack.completion_by_department):
        pct = "—" if r["completion_pct"] is None else f"{r['completion_pct']:.1f}%"
        lines.append(f"| {md_text(r['department_name'])} | {r['judged']} | {r['met']} | {pct} |")
    return "\n".join(lines) + "\n"


PACK_SPEC = ReportSpec(kind=PACK_KIND, template=PACK_TEMPLATE, stem=lambda pack: f"{PACK_KIND}-{pack.year}",
                       context=lambda pack, settings: pack_html_context(pack), tables=pack_excel_tables,
                       print_info=lambda pack, version: PrintInfo(pack_title(pack), str(pack.year), version,
                                                                  pack.locale))


def render_pack(pack: ReviewPack, settings: Settings, out_dir: str | Path,
                version: int | None = None) -> dict[str, Path]:
    """Write `review-pack-<year>.html` (self-contained) and `.xlsx` into `out_dir`."""
    return render_report(PACK_SPEC, pack, settings, out_dir, version)


def produce_pack(session: Session, settings: Settings, review: ManagementReview, *,
                 as_of: datetime | None = None) -> GeneratedReport:
    """The pack's data, its files and the meeting invitation in the next version's folder, recorded
    (flushed, not committed). The invitation's SEQUENCE is the version less one: a resent pack
    updates the calendar entry of the first."""
    as_of = as_of or utcnow()
    pack = build_pack(session, settings, review, as_of=as_of)

    def invitation(out_dir: Path, version: int) -> dict[str, Path]:
        path = out_dir / f"management-review-{review.year}.ics"
        path.write_bytes(invitation_ics(settings, review, sequence=version - 1, now=as_of,
                                        description=pack_agenda(pack)))
        return {"ics": path}

    return produce_report(session, settings, PACK_SPEC, pack, period=period_of(review), locale=pack.locale,
                          summary={**pack.key_figures(), "markdown": pack_markdown(pack)}, extra_files=invitation)


# -- the review report -------------------------------------------------------------------------------------

def report_title(report: ReviewReport) -> str:
    return t(report.locale, f"{report.year}年度管理评审报告", f"Management Review Report {report.year}")


def report_html_context(report: ReviewReport) -> dict[str, Any]:
    return {
        "locale": report.locale, "title": report_title(report), "organisation": report.organisation,
        "period": str(report.year), "generated_at": report.generated_at, "timezone": report.timezone,
        "report": report, "totals": report.totals, "summary": report.summary, "inputs": report.inputs,
        "participants": records(report.participants), "department_reports": records(report.department_reports),
        "decisions": records(report.decisions), "improvements": records(report.improvements),
        "resources": records(report.resources), "target_changes": records(report.target_changes),
    }


def report_excel_tables(report: ReviewReport) -> list[Table]:
    """The workbook: summary and inputs, the three kinds of output with their actions, target changes,
    participants."""
    loc = report.locale
    summary = pd.DataFrame({
        t(loc, "项目", "item"): [t(loc, "报告", "report"), t(loc, "组织", "organisation"), t(loc, "评审年度", "year"),
                                t(loc, "会议日期", "meeting"), t(loc, "会议地点", "place"),
                                *[t(loc, f"摘要 {i}", f"summary {i}") for i in range(1, len(report.summary) + 1)],
                                *[t(loc, f"评审输入 {i}", f"input {i}") for i in range(1, len(report.inputs) + 1)],
                                t(loc, "会议纪要", "minutes")],
        t(loc, "内容", "value"): [report_title(report), report.organisation, report.year,
                                 _meeting(report.meeting_on, report.meeting_time), report.meeting_place,
                                 *report.summary, *report.inputs, report.minutes],
    }, dtype=object)
    outputs = {"text": ("内容", "text"), "owner_name": ("负责人", "owner"), "due_on": ("完成期限", "due on"),
               "action_ref": ("措施编号", "action"), "action_status_label": ("措施状态", "action status")}
    return [
        (t(loc, "摘要", "Summary"), summary),
        (t(loc, "评审决议", "Decisions"), _sheet(report.decisions, outputs, loc)),
        (t(loc, "改进机会", "Improvements"), _sheet(report.improvements, outputs, loc)),
        (t(loc, "资源需求", "Resources"), _sheet(report.resources, outputs, loc)),
        (t(loc, "目标调整", "Target changes"), _sheet(_kpi_figures(report.target_changes, ("old_target", "new_target"),
                                                                loc), {
            "kpi_label": ("指标", "KPI"), "department_name": ("范围", "scope"), "old_target": ("原目标", "old target"),
            "new_target": (f"{report.applies_to}年目标", f"target {report.applies_to}"),
            "direction": ("目标方向", "direction"),
            "text": ("说明", "reason")}, loc)),
        (t(loc, "参加人员", "Participants"), _sheet(report.participants.assign(
            present=[t(loc, "未记录", "not recorded") if p is None else t(loc, "出席", "present") if p
                     else t(loc, "缺席", "absent") for p in report.participants["present"]],
            invited=[t(loc, "是", "yes") if i else t(loc, "否", "no") for i in report.participants["invited"]]), {
            "name": ("姓名", "name"), "department_name": ("部门", "department"), "email": ("邮箱", "email"),
            "invited": ("受邀", "invited"), "present": ("出席", "attendance")}, loc)),
    ]


def review_report_markdown(report: ReviewReport) -> str:
    """The Prefect artifact of the report: summary and the outputs with their actions (text escaped)."""
    loc = report.locale
    lines = [f"# {md_text(report_title(report))}", "", *[f"- {md_text(s)}" for s in report.summary], "",
             "| " + t(loc, "类别 | 内容 | 负责人 | 期限 | 措施", "kind | text | owner | due | action") + " |",
             "|---|---|---|---|---|"]
    for frame in (report.decisions, report.improvements, report.resources):
        for r in records(frame):
            lines.append("| " + " | ".join(md_text(v if v is not None else "—") for v in (
                r["kind_label"], r["text"], r["owner_name"], r["due_on"], r["action_ref"])) + " |")
    for r in records(report.target_changes):
        lines.append("| " + " | ".join(md_text(v) for v in (
            t(loc, "目标调整", "target"), f"{r['kpi_label']} ({r['department_name']})",
            f"{r['old_label']} → {r['new_label']}", report.applies_to, "—")) + " |")
    return "\n".join(lines) + "\n"


REPORT_SPEC = ReportSpec(kind=REPORT_KIND, template=REPORT_TEMPLATE, stem=lambda report: f"{REPORT_KIND}-{report.year}",
                         context=lambda report, settings: report_html_context(report), tables=report_excel_tables,
                         print_info=lambda report, version: PrintInfo(report_title(report), str(report.year), version,
                                                                      report.locale))


def render_review_report(report: ReviewReport, settings: Settings, out_dir: str | Path,
                         version: int | None = None) -> dict[str, Path]:
    return render_report(REPORT_SPEC, report, settings, out_dir, version)


def produce_review_report(session: Session, settings: Settings, review: ManagementReview) -> GeneratedReport:
    """The report's data, its files in the next version's folder, recorded (flushed, not committed)."""
    report = build_review_report(session, settings, review)
    return produce_report(session, settings, REPORT_SPEC, report, period=period_of(review), locale=report.locale,
                          summary={"totals": report.totals, "summary": report.summary,
                                   "markdown": review_report_markdown(report)})


__all__ = ["PACK_KIND", "REPORT_KIND", "ReviewReport", "build_review_report", "pack_markdown", "produce_pack",
           "produce_review_report", "review_report_markdown"]
