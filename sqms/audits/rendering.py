"""内审报告 — how the internal audit report (`sqms.audits.report`) is rendered: HTML (inline SVG charts)
and XLSX, kept as a versioned report for the management review, and the markdown of the Prefect artifact."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup
from sqlalchemy.orm import Session

from sqms.audits.models import RESULTS, AuditCycle
from sqms.audits.report import AuditReport, build_audit_report, result_label
from sqms.config import Settings
from sqms.reporting import charts
from sqms.reporting.excel import DATETIME, Cell, PrintInfo, Sheet, Table
from sqms.reporting.formatting import local_moment, md_text, records, t
from sqms.reporting.models import GeneratedReport
from sqms.reporting.spec import ReportSpec, produce_report, render_report

KIND = "audit-report"
TEMPLATE = "reports/audit_report.html.j2"


def title(report: AuditReport) -> str:
    return t(report.locale, f"内审报告 {report.cycle_code}", f"Internal Audit Report {report.cycle_code}")


def _period(report: AuditReport) -> str:
    if report.first_day and report.last_day:
        return f"{report.cycle_code} · {report.first_day} – {report.last_day}"
    return report.cycle_code


def audit_charts(report: AuditReport) -> list[dict[str, Any]]:
    """Nonconformities per department and per area (plain counts: one colour, no target)."""
    loc = report.locale

    def bars(label: str, frame: pd.DataFrame, labels: str) -> dict[str, Any]:
        values = (frame["major"] + frame["minor"]).tolist()
        return {"label": label, "svg": Markup(charts.department_bars(
            frame[labels].tolist(), values, decimals=0, locale=loc, title=label, colour=charts.COLOURS["bar"]))}

    return [bars(t(loc, "不符合项：按部门", "Nonconformities by department"), report.by_department,
                 "department_name"),
            bars(t(loc, "不符合项：按审核要素", "Nonconformities by area"), report.by_area, "area_label")]


def html_context(report: AuditReport) -> dict[str, Any]:
    """What `reports/audit_report.html.j2` shows: tables as rows (None for missing), charts as Markup."""
    return {
        "locale": report.locale, "title": title(report), "organisation": report.organisation,
        "period": _period(report), "generated_at": report.generated_at, "timezone": report.timezone,
        "report": report, "totals": report.totals, "summary": report.summary, "results": RESULTS,
        "result_labels": {r: result_label(r, report.locale) for r in RESULTS},
        "scope": records(report.scope), "by_department": records(report.by_department),
        "by_area": records(report.by_area), "nonconformities": records(report.nonconformities),
        "observations": records(report.observations), "improvements": records(report.improvements),
        "comparison": records(report.comparison), "repeat_findings": records(report.repeat_findings),
        "previous_nonconformities": records(report.previous_nonconformities), "charts": audit_charts(report),
    }


def _yes(flag: Any, loc: str) -> str | None:
    return t(loc, "是", "yes") if flag is True else None


def _findings_sheet(frame: pd.DataFrame, loc: str, *, previous: bool = False) -> pd.DataFrame:
    """Findings as a worksheet: the item, what was found, the action and where it stands."""
    columns = {
        t(loc, "部门", "department"): frame["department_name"], t(loc, "检查项", "item"): frame["item_code"],
        t(loc, "审核要素", "area"): frame["area_label"], t(loc, "条款", "clause"): frame["clause"],
        t(loc, "检查内容", "question"): frame["question"], t(loc, "结果", "result"): frame["result_label"],
        t(loc, "审核证据", "evidence"): frame["evidence"], t(loc, "说明", "notes"): frame["notes"],
        t(loc, "纠正措施", "action"): frame["action_ref"], t(loc, "负责人", "owner"): frame["owner_name"],
        t(loc, "完成期限", "due on"): frame["due_on"], t(loc, "措施状态", "action status"): frame["action_status_label"],
        t(loc, "逾期", "overdue"): [_yes(v, loc) for v in frame["overdue"]],
        t(loc, "转入跟踪", "carried over"): [_yes(v, loc) for v in frame["carried_over"]],
        t(loc, "转入原因", "carry-over reason"): frame["carry_over_reason"],
        t(loc, "重复发现", "repeat"): [_yes(v, loc) for v in frame["repeat"]],
    }
    if previous:
        columns[t(loc, "已验证", "verified")] = [_yes(v, loc) for v in frame["verified"]]
    return pd.DataFrame(columns)


def _matrix_sheet(frame: pd.DataFrame, label_column: str, heading: str, loc: str) -> pd.DataFrame:
    out = pd.DataFrame({heading: frame[label_column]})
    for r in RESULTS:
        out[result_label(r, loc)] = frame[r]
    out[t(loc, "合计", "total")] = frame["total"]
    return out


def excel_tables(report: AuditReport) -> list[Table]:
    """The workbook: summary, scope, the two count tables, nonconformities, observations and
    improvement opportunities, the comparison, repeat findings, the previous cycle's follow-up."""
    loc, k, s = report.locale, report.totals, report.scope
    summary = pd.DataFrame({
        t(loc, "项目", "item"): [t(loc, "报告", "report"), t(loc, "组织", "organisation"),
                                t(loc, "审核周期", "audit cycle"), t(loc, "上次内审", "previous audit"),
                                t(loc, "生成时间", "generated at"), t(loc, "受审核部门", "departments audited"),
                                *[result_label(r, loc) for r in RESULTS], t(loc, "重复发现", "repeat findings"),
                                *[t(loc, f"摘要 {i}", f"summary {i}") for i in range(1, len(report.summary) + 1)]],
        t(loc, "内容", "value"): [title(report), report.organisation, _period(report), report.previous_code,
                                 Cell(local_moment(report.generated_at, report.timezone), DATETIME), k["departments"],
                                 *[k[r] for r in RESULTS], k["repeat"], *report.summary],
    }, dtype=object)
    scope = pd.DataFrame({
        t(loc, "部门", "department"): s["department_name"], t(loc, "审核日期", "day"): s["day"],
        t(loc, "内审员", "auditor"): s["auditor_name"], t(loc, "内审员邮箱", "auditor email"): s["auditor"],
        t(loc, "检查表", "checklist"): s["checklist"], t(loc, "检查项", "items"): s["items"],
        t(loc, "新增或修改的检查项", "new or changed items"): s["changed_items"],
        t(loc, "已记录结果", "recorded"): s["recorded"],
    })
    c = report.comparison
    compare = pd.DataFrame({t(loc, "结果", "result"): c["label"],
                            t(loc, "上次", "previous"): c["previous"].astype("Int64"),
                            t(loc, "本次", "current"): c["current"], t(loc, "变化", "change"): c["change"].astype("Int64")})
    others = pd.concat([report.observations, report.improvements], ignore_index=True)
    none_found = t(loc, "本次审核没有此类发现。", "No finding of this kind in this audit.")
    no_previous = t(loc, "没有上次内审可以比较。", "There is no previous audit to compare with.")
    return [
        Sheet(t(loc, "摘要", "Summary"), summary),
        Sheet(t(loc, "审核范围", "Scope"), scope, empty_note=t(loc, "审核计划中没有部门。", "No department is planned.")),
        (t(loc, "按部门统计", "By department"),
         _matrix_sheet(report.by_department, "department_name", t(loc, "部门", "department"), loc)),
        (t(loc, "按审核要素统计", "By area"), _matrix_sheet(report.by_area, "area_label", t(loc, "审核要素", "area"), loc)),
        Sheet(t(loc, "不符合项", "Nonconformities"), _findings_sheet(report.nonconformities, loc),
              empty_note=t(loc, "本次审核没有不符合项。", "No nonconformity was found in this audit.")),
        Sheet(t(loc, "观察项与改进机会", "Observations, improvements"), _findings_sheet(others, loc),
              empty_note=none_found),
        Sheet(t(loc, "与上次比较", "Comparison"), compare, empty_note=no_previous),
        Sheet(t(loc, "重复发现", "Repeat findings"), _findings_sheet(report.repeat_findings, loc),
              empty_note=t(loc, "没有与上次内审重复的发现。", "No finding repeats one of the previous audit.")),
        Sheet(t(loc, "上次不符合项整改情况", "Previous follow-up"),
              _findings_sheet(report.previous_nonconformities, loc, previous=True),
              empty_note=t(loc, "上次内审没有不符合项需要跟踪。" if report.previous_code else "没有上次内审。",
                           "The previous audit left no nonconformity to follow up." if report.previous_code
                           else "There is no previous audit.")),
    ]


def file_stem(report: AuditReport) -> str:
    return f"{KIND}-{report.cycle_code}"


def print_info(report: AuditReport, version: int | None = None) -> PrintInfo:
    return PrintInfo(title(report), _period(report), version, report.locale)


SPEC = ReportSpec(kind=KIND, template=TEMPLATE, stem=file_stem, context=lambda report, settings: html_context(report),
                  tables=excel_tables, print_info=print_info)


def render_audit_report(report: AuditReport, settings: Settings, out_dir: str | Path,
                        version: int | None = None) -> dict[str, Path]:
    """Write `audit-report-<code>.html` (self-contained) and `.xlsx` into `out_dir`."""
    return render_report(SPEC, report, settings, out_dir, version)


def produce_audit_report(session: Session, settings: Settings, cycle: AuditCycle, *,
                         as_of: datetime | None = None) -> GeneratedReport:
    """The whole pipeline: the report data, its files in the next version's folder, and the recorded
    `GeneratedReport` (flushed, not committed; linking it to the cycle is the caller's business)."""
    report = build_audit_report(session, settings, cycle, as_of=as_of)
    return produce_report(session, settings, SPEC, report, period=cycle.code, locale=report.locale,
                          summary={**report.key_figures(), "markdown": audit_report_markdown(report)})


def audit_report_markdown(report: AuditReport) -> str:
    """The Prefect artifact: title, key figures, the summary sentences and the nonconformities
    (free text escaped: markup from findings never reaches the UI)."""
    loc, k = report.locale, report.totals
    lines = [
        f"# {md_text(title(report))}",
        "",
        f"**{md_text(report.organisation)}** · " + t(
            loc, f"部门 {k['departments']} 个 · 严重不符合 {k['major']} · 一般不符合 {k['minor']} · "
                 f"观察项 {k['observation']} · 改进机会 {k['improvement']} · 重复发现 {k['repeat']}",
            f"departments {k['departments']} · major {k['major']} · minor {k['minor']} · "
            f"observations {k['observation']} · improvements {k['improvement']} · repeat {k['repeat']}"),
        "",
        *[f"- {md_text(sentence)}" for sentence in report.summary],
    ]
    if len(report.nonconformities):
        lines += ["", "| " + " | ".join(t(loc, "部门|检查项|结果|说明|措施|状态",
                                           "department|item|result|notes|action|status").split("|")) + " |",
                  "|---|---|---|---|---|---|"]
        for r in records(report.nonconformities):
            lines.append("| " + " | ".join(md_text(v if v is not None else "—") for v in (
                r["department_name"], r["item_code"], r["result_label"], r["notes"], r["action_ref"],
                r["action_status_label"])) + " |")
    return "\n".join(lines) + "\n"
