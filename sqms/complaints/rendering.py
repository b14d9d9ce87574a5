"""投诉分析报告: the complaint analysis as its own report (HTML and XLSX), and its pieces for the monthly report.

The content comes from `sqms.complaints.report.build_complaint_analysis`; this module only
renders it. The pieces are shared: section 5 of the monthly report shows a concise view made
of the same template macros (`templates/reports/_complaints.html.j2`), the same Pareto chart
and the same workbook sheets as the complaint report, so the two can never tell a different story.

    generated = produce_complaint_report(session, settings, "2026-10")   # data → files → recorded version
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup
from sqlalchemy.orm import Session

from sqms.complaints.report import DIMENSIONS, REPEAT_LOOKBACK_DAYS, ComplaintAnalysis, build_complaint_analysis
from sqms.config import Settings
from sqms.reporting import charts
from sqms.reporting.excel import DATETIME, DECIMAL2, PCT, Cell, PrintInfo, Sheet, Table, target_cells
from sqms.reporting.formatting import is_missing, local_moment, md_text, percent, records, status_label, t
from sqms.reporting.models import GeneratedReport
from sqms.reporting.spec import ReportSpec, produce_report, render_report

KIND = "complaint-report"
TEMPLATE = "reports/complaint_report.html.j2"
MONTHLY_OLDEST = 5  # open complaints the monthly section lists; the complaint report lists them all


def title(analysis: ComplaintAnalysis) -> str:
    return t(analysis.locale, f"投诉分析报告 {analysis.period}", f"Complaint Analysis {analysis.period}")


def file_stem(analysis: ComplaintAnalysis) -> str:
    return f"complaint-report-{analysis.period}"


def definitions(analysis: ComplaintAnalysis, settings: Settings) -> list[tuple[str, str]]:
    """口径说明: what each figure counts, in the report language (DESIGN.md §4 for the rates)."""
    loc = analysis.locale
    days = settings.complaints.deadline_working_days
    return [
        (t(loc, "办结率", "Closure"),
         t(loc, "本月受理的投诉中已办结（已答复客户）的比例，与指标“投诉办结率”口径一致。",
           "share of the month's complaints settled (answer given); the KPI complaint closure.")),
        (t(loc, "按期办结率", "Settled on time"),
         t(loc, f"本月受理、截至统计时点已办结或已超过办结期限的投诉中，在期限内办结的比例；办结期限为受理当日后第 N 个"
                f"工作日 23:59（一般投诉 {days['normal']} 个、重大投诉 {days['special']} 个），按国家法定节假日及调休"
                "安排计算；与指标“投诉按时办结率”口径一致。",
           f"among the month's complaints settled or past their deadline at the as-of time, the share settled by "
           f"the deadline: the end of the N-th working day after the day of receipt ({days['normal']} normal, "
           f"{days['special']} special; official calendar with make-up workdays); the KPI complaints settled on "
           "time.")),
        (t(loc, "未结投诉账龄", "Ageing of open complaints"),
         t(loc, "截至统计时点尚未办结的投诉（不限受理月份），自受理当日起经过的工作日数。",
           "complaints not settled at the as-of time, whatever month they came in: working days since the day "
           "of receipt.")),
        (t(loc, "重复投诉客户", "Repeat complainants"),
         t(loc, f"本月投诉 2 次及以上的客户；本月投诉且此前 {REPEAT_LOOKBACK_DAYS} 天内也曾投诉的客户一并列出。",
           f"customers with two or more complaints this month, and this month's complainants who had complained "
           f"in the {REPEAT_LOOKBACK_DAYS} days before.")),
        (t(loc, "回访满意度", "Return visits"),
         t(loc, f"本月受理投诉的回访评分（1–5 分）；{analysis.low_score} 分及以下为不满意，投诉重新处理。",
           f"return-visit scores (1–5) of the month's complaints; {analysis.low_score} or less is dissatisfied "
           "and reopens the complaint.")),
        (t(loc, "纠正措施跟踪", "Corrective actions"),
         t(loc, "来源为投诉或关联投诉的纠正预防措施：尚未验证关闭的全部措施及本月验证关闭的措施；逾期指待实施或实施中且"
                "已过完成期限。",
           "actions on complaints (their source, or linked to one): every action not yet verified, and those "
           "verified this month; overdue: open or in progress after the due day.")),
    ]


# -- charts ---------------------------------------------------------------------------------


def pareto_svg(analysis: ComplaintAnalysis) -> Markup:
    cats = analysis.categories
    return Markup(charts.pareto_chart(
        cats["category"].tolist(), cats["count"].tolist(), locale=analysis.locale,
        title=t(analysis.locale, "投诉类别帕累托图", "Complaint categories (Pareto)")))


def analysis_charts(analysis: ComplaintAnalysis) -> list[dict[str, Any]]:
    """The complaint report's bar charts: volume by channel and department, on time against each
    department's target, and the ageing of the backlog."""
    loc = analysis.locale
    channel, dept, table = analysis.volumes["channel"], analysis.volumes["department"], analysis.departments_table

    def counts(label: str, frame: pd.DataFrame, labels: str, values: str) -> dict[str, Any]:
        return {"label": label, "svg": Markup(charts.department_bars(
            frame[labels].tolist(), frame[values].tolist(), decimals=0, locale=loc, title=label,
            colour=charts.COLOURS["bar"]))}

    on_time = t(loc, "按期办结率：部门对比", "Settled on time by department")
    return [
        counts(t(loc, "按受理渠道", "By channel"), channel, "label", "count"),
        counts(t(loc, "按责任部门", "By department"), dept, "label", "count"),
        {"label": on_time, "svg": Markup(charts.department_bars(
            table["department_name"].tolist(), table["on_time_pct"].tolist(),
            targets=table["on_time_target"].tolist(), statuses=table["on_time_status"].tolist(), unit="%",
            decimals=1, locale=loc, title=on_time))},
        counts(t(loc, "未结投诉账龄（工作日）", "Open complaints by age (working days)"), analysis.ageing,
               "bucket", "count"),
    ]


# -- the HTML context ---------------------------------------------------------------------------


def analysis_context(analysis: ComplaintAnalysis, settings: Settings) -> dict[str, Any]:
    """What the macros of `reports/_complaints.html.j2` show, in the monthly section and in the
    complaint report alike: key figures, the tables as rows (None for missing), the definitions."""
    table = analysis.departments_table
    active = table[(table["received"] > 0) | (table["open"] > 0)]
    visits = analysis.return_visits
    low_visits = visits[visits["feedback_score"] <= analysis.low_score]
    limit = settings.report.detail_rows
    long_lists = {"open_complaints": analysis.open_complaints, "repeat_customers": analysis.repeat_customers,
                  "low_visits": low_visits, "actions": analysis.actions,
                  "overdue_actions": analysis.overdue_actions}
    return {
        "totals": analysis.totals,
        "summary": analysis.summary,
        "dimensions": {k: t(analysis.locale, *v) for k, v in DIMENSIONS.items()},
        "channels": records(analysis.volumes["channel"]),
        "severities": records(analysis.volumes["severity"]),
        "department_volumes": records(analysis.volumes["department"]),
        "departments": records(table),
        "active_departments": records(active),
        "ageing": records(analysis.ageing),
        "open_complaints": records(analysis.open_complaints.head(limit)),
        "categories": records(analysis.categories),
        "repeat_customers": records(analysis.repeat_customers.head(limit)),
        "low_visits": records(low_visits.head(limit)),
        "low_score": analysis.low_score,
        "actions": records(analysis.actions.head(limit)),
        "overdue_actions": records(analysis.overdue_actions.head(limit)),
        # how many rows each long list has; the report prints `limit` of them and says so
        "totals_listed": {name: len(frame) for name, frame in long_lists.items()},
        "action_states": records(analysis.action_states),
        "lookback_days": REPEAT_LOOKBACK_DAYS,
        "definitions": definitions(analysis, settings),
        "as_of": analysis.as_of,
        "pareto_svg": pareto_svg(analysis),
        "themes": analysis.themes,
    }


def html_context(analysis: ComplaintAnalysis, settings: Settings) -> dict[str, Any]:
    return {
        "locale": analysis.locale,
        "title": title(analysis),
        "organisation": analysis.organisation,
        "period": analysis.period,
        "timezone": analysis.timezone,
        "generated_at": analysis.generated_at,
        "complaint_analysis": analysis_context(analysis, settings),
        "charts": analysis_charts(analysis),
    }


# -- the workbook -------------------------------------------------------------------------------


def _local(series: pd.Series, analysis: ComplaintAnalysis) -> pd.Series:
    """Naive-UTC times as naive local times (Excel has no offsets; the report reads in local time)."""
    return series.dt.tz_localize("UTC").dt.tz_convert(analysis.tz).dt.tz_localize(None)


def _cell(value: Any, num_format: str) -> Cell | None:
    return None if is_missing(value) else Cell(round(float(value), 2), num_format)


def _yes_no(values: pd.Series, loc: str) -> list[str]:
    return [t(loc, "是", "yes") if v else None for v in values]


def category_sheet(analysis: ComplaintAnalysis) -> Table:
    loc, cats = analysis.locale, analysis.categories
    return Sheet(t(loc, "投诉类别", "Complaint categories"), pd.DataFrame({
        t(loc, "投诉类别", "category"): cats["category"], t(loc, "件数", "count"): cats["count"],
        t(loc, "占比", "share"): cats["share_pct"].round(1),
        t(loc, "累计占比", "cumulative share"): cats["cumulative_pct"].round(1),
    }), {t(loc, "占比", "share"): PCT, t(loc, "累计占比", "cumulative share"): PCT},
        empty_note=t(loc, "本期没有受理投诉。", "No complaints were received in this period."))


def department_sheet(analysis: ComplaintAnalysis) -> Table:
    loc, d = analysis.locale, analysis.departments_table
    closure = [target_cells(v, "complaint_closure_pct", loc) for v in d["closure_target"]]
    on_time = [target_cells(v, "complaint_on_time_pct", loc) for v in d["on_time_target"]]
    return Sheet(t(loc, "部门投诉办结", "Complaints by department"), pd.DataFrame({
        t(loc, "部门", "department"): d["department_name"], t(loc, "部门代码", "code"): d["department"],
        t(loc, "受理件数", "received"): d["received"], t(loc, "重大投诉", "special"): d["special"],
        t(loc, "已办结", "settled"): d["resolved"], t(loc, "办结率", "closure"): d["closure_pct"].round(1),
        t(loc, "办结率目标", "closure target"): [p[0] for p in closure],
        t(loc, "办结率目标方向", "closure target direction"): [p[1] for p in closure],
        t(loc, "应办结", "due"): d["due"], t(loc, "按期办结", "on time"): d["on_time"],
        t(loc, "按期办结率", "on time"): d["on_time_pct"].round(1),
        t(loc, "按期办结率目标", "on-time target"): [p[0] for p in on_time],
        t(loc, "按期办结率目标方向", "on-time target direction"): [p[1] for p in on_time],
        t(loc, "按期办结状态", "on-time status"): [status_label(s, loc) for s in d["on_time_status"]],
        t(loc, "重新处理", "reopened"): d["reopened"], t(loc, "未结（全部）", "open (all months)"): d["open"],
        t(loc, "其中超期", "of which overdue"): d["overdue_open"],
        t(loc, "回访均分", "return-visit mean"): d["feedback_mean"].round(2),
    }), {t(loc, "办结率", "closure"): PCT, t(loc, "按期办结率", "on time"): PCT,
         t(loc, "回访均分", "return-visit mean"): DECIMAL2},
        empty_note=t(loc, "未配置部门。", "No departments are configured."))


def actions_sheet(analysis: ComplaintAnalysis) -> Table:
    loc, a = analysis.locale, analysis.actions
    return Sheet(t(loc, "投诉纠正措施", "Complaint actions"), pd.DataFrame({
        t(loc, "措施编号", "action"): a["ref"], t(loc, "措施", "title"): a["title"],
        t(loc, "部门", "department"): a["department_name"], t(loc, "负责人", "owner"): a["owner_name"].fillna(a["owner"]),
        t(loc, "负责人邮箱", "owner email"): a["owner"], t(loc, "状态", "status"): a["status_label"],
        t(loc, "完成期限", "due on"): a["due_on"], t(loc, "逾期", "overdue"): _yes_no(a["overdue"], loc),
        t(loc, "逾期工作日", "working days late"): a["late_working_days"],
        t(loc, "关联投诉", "complaints"): a["complaints"],
    }), empty_note=t(loc, "没有由投诉引发的纠正措施。", "No corrective action arose from complaints."))


def excel_tables(analysis: ComplaintAnalysis) -> list[Table]:
    """The complaint report's workbook: summary, volumes, departments, ageing, open complaints,
    categories, repeat complainants, return visits, actions."""
    loc, k = analysis.locale, analysis.totals
    summary = pd.DataFrame({
        t(loc, "项目", "item"): [
            t(loc, "报告", "report"), t(loc, "组织", "organisation"), t(loc, "统计期", "period"),
            t(loc, "受理投诉", "complaints received"), t(loc, "重大投诉", "special"),
            t(loc, "已办结", "settled"), t(loc, "办结率", "closure rate"), t(loc, "按期办结率", "settled on time"),
            t(loc, "未结投诉（全部）", "open complaints (all months)"), t(loc, "其中超期", "of which overdue"),
            t(loc, "重复投诉客户", "repeat complainants"), t(loc, "回访均分", "return-visit mean"),
            t(loc, "未完成纠正措施", "actions open or in progress"), t(loc, "逾期纠正措施", "overdue actions"),
            t(loc, "生成时间", "generated at"), t(loc, "数据截至", "data as of"),
            *[t(loc, f"摘要 {i}", f"summary {i}") for i in range(1, len(analysis.summary) + 1)],
        ],
        t(loc, "内容", "value"): [
            title(analysis), analysis.organisation, analysis.period, k["received"], k["special"], k["resolved"],
            _cell(k["closure_pct"], PCT), _cell(k["on_time_pct"], PCT), k["open"], k["open_overdue"],
            k["repeat_customers"], _cell(k["feedback_mean"], DECIMAL2), k["actions_open"], k["actions_overdue"],
            Cell(local_moment(analysis.generated_at, analysis.timezone), DATETIME),
            Cell(local_moment(analysis.as_of, analysis.timezone), DATETIME),
            *analysis.summary,
        ],
    })
    volumes = pd.concat([
        pd.DataFrame({t(loc, "维度", "dimension"): t(loc, *DIMENSIONS[dim]), t(loc, "项目", "item"): frame["label"],
                      t(loc, "件数", "count"): frame["count"], t(loc, "占比 %", "share %"): frame["share_pct"].round(1)})
        for dim, frame in analysis.volumes.items()], ignore_index=True)
    ageing = pd.DataFrame({t(loc, "账龄（工作日）", "age (working days)"): analysis.ageing["bucket"],
                           t(loc, "件数", "count"): analysis.ageing["count"],
                           t(loc, "其中超期", "of which overdue"): analysis.ageing["overdue"]})
    o = analysis.open_complaints
    open_sheet = pd.DataFrame({
        t(loc, "投诉编号", "complaint"): o["complaint_id"], t(loc, "受理时间", "received"): _local(o["received_at"], analysis),
        t(loc, "部门", "department"): o["department_name"], t(loc, "渠道", "channel"): o["channel_label"],
        t(loc, "等级", "severity"): o["severity_label"], t(loc, "投诉类别", "category"): o["category"],
        t(loc, "状态", "status"): o["status_label"], t(loc, "已受理工作日", "working days open"): o["age_working_days"],
        t(loc, "账龄", "age bucket"): o["bucket"], t(loc, "办结期限", "deadline"): _local(o["deadline_at"], analysis),
        t(loc, "超期", "overdue"): _yes_no(o["overdue"], loc), t(loc, "本月受理", "this month"): _yes_no(o["in_period"], loc),
        t(loc, "客户编号", "customer"): o["customer_id"], t(loc, "投诉内容", "description"): o["description"],
    })
    r = analysis.repeat_customers
    repeat = pd.DataFrame({
        t(loc, "客户编号", "customer"): r["customer_id"], t(loc, "客户名称", "name"): r["customer_name"],
        t(loc, "本月投诉", "this month"): r["complaints"],
        t(loc, f"此前{REPEAT_LOOKBACK_DAYS}天投诉", f"previous {REPEAT_LOOKBACK_DAYS} days"): r["previous"],
        t(loc, "投诉编号", "complaints"): r["complaint_ids"], t(loc, "投诉类别", "categories"): r["categories"],
    })
    v = analysis.return_visits
    visits = pd.DataFrame({
        t(loc, "投诉编号", "complaint"): v["complaint_id"], t(loc, "部门", "department"): v["department_name"],
        t(loc, "投诉类别", "category"): v["category"], t(loc, "回访评分", "score"): v["feedback_score"],
        t(loc, "回访意见", "comment"): v["feedback_comment"], t(loc, "状态", "status"): v["status_label"],
    })
    return [
        (t(loc, "摘要", "Summary"), summary),
        (t(loc, "受理分布", "Volumes"), volumes),
        department_sheet(analysis),
        (t(loc, "未结投诉账龄", "Ageing"), ageing),
        Sheet(t(loc, "未结投诉明细", "Open complaints"), open_sheet,
              empty_note=t(loc, "没有未结投诉。", "No complaint is open.")),
        category_sheet(analysis),
        Sheet(t(loc, "重复投诉客户", "Repeat complainants"), repeat,
              empty_note=t(loc, "本期没有重复投诉的客户。", "No customer complained repeatedly in this period.")),
        Sheet(t(loc, "回访满意度", "Return visits"), visits,
              empty_note=t(loc, "本期没有回访记录。", "No return visit was recorded in this period.")),
        actions_sheet(analysis),
    ]


# -- the files and the recorded version ---------------------------------------------------------


def print_info(analysis: ComplaintAnalysis, version: int | None = None) -> PrintInfo:
    return PrintInfo(title(analysis), analysis.period, version, analysis.locale)


SPEC = ReportSpec(kind=KIND, template=TEMPLATE, stem=file_stem, context=html_context, tables=excel_tables,
                  print_info=print_info)


def render_complaint_report(analysis: ComplaintAnalysis, settings: Settings, out_dir: str | Path,
                            version: int | None = None) -> dict[str, Path]:
    """Write `complaint-report-<period>.html` (self-contained) and `.xlsx` into `out_dir`."""
    return render_report(SPEC, analysis, settings, out_dir, version)


def produce_complaint_report(session: Session, settings: Settings, period: str, as_of: datetime | None = None, *,
                             locale: str | None = None) -> GeneratedReport:
    """The whole pipeline: the analysis of `period` as of `as_of` (default now), its files in the next
    version's folder, and the recorded `GeneratedReport` (flushed, not committed)."""
    analysis = build_complaint_analysis(session, settings, period, as_of=as_of, locale=locale)
    return produce_report(session, settings, SPEC, analysis, period=period, locale=analysis.locale,
                          summary={**analysis.summary_dict(), "markdown": complaint_report_markdown(analysis)})


def complaint_report_markdown(analysis: ComplaintAnalysis) -> str:
    """The Prefect artifact: title, key figures, the summary sentences and the departments concerned."""
    loc, k = analysis.locale, analysis.totals
    lines = [
        f"# {md_text(title(analysis))}",
        "",
        f"**{md_text(analysis.organisation)}** · " + t(
            loc, f"受理 {k['received']} 件 · 办结率 {percent(k['closure_pct'])} · 按期办结率 {percent(k['on_time_pct'])}"
                 f" · 未结 {k['open']} 件（超期 {k['open_overdue']}） · 逾期措施 {k['actions_overdue']} 项",
            f"received {k['received']} · closure {percent(k['closure_pct'])} · on time {percent(k['on_time_pct'])} · "
            f"open {k['open']} ({k['open_overdue']} overdue) · overdue actions {k['actions_overdue']}"),
        "",
        *[f"- {md_text(sentence)}" for sentence in analysis.summary],
        "",
        "| " + " | ".join(t(loc, "部门|受理|办结率|按期办结率|未结|超期未结",
                              "department|received|closure|on time|open|overdue open").split("|")) + " |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    table = analysis.departments_table
    for r in records(table[(table["received"] > 0) | (table["open"] > 0)]):
        lines.append(f"| {md_text(r['department_name'])} | {r['received']} | {percent(r['closure_pct'])} | "
                     f"{percent(r['on_time_pct'])} | {r['open']} | {r['overdue_open']} |")
    return "\n".join(lines) + "\n"
