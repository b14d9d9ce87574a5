"""月度质量分析会纪要 — how the minutes report (kind `meeting-minutes`, data: `sqms.meetings.report`) is
rendered: HTML page and XLSX workbook, versioned under `<reports_dir>/meeting-minutes/<period>/v<version>/`."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from sqms.config import Settings
from sqms.meetings.models import QualityMeeting
from sqms.reporting.excel import write_xlsx
from sqms.reporting.formatting import t
from sqms.reporting.models import GeneratedReport
from sqms.reporting.render import render_template
from sqms.reporting.service import next_version, report_dir, save_report

KIND = "meeting-minutes"
TEMPLATE = "reports/meeting_minutes.html.j2"


def produce_minutes(session: Session, settings: Settings, meeting: QualityMeeting,
                    data: dict[str, Any]) -> GeneratedReport:
    """The minutes' files (`data`: `sqms.meetings.report.minutes_data`) in the next version's folder,
    recorded (flushed, not committed)."""
    loc = data["locale"]
    version = next_version(session, KIND, meeting.period)
    out_dir = report_dir(settings, KIND, meeting.period, version)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = out_dir / f"{KIND}-{meeting.period}.html"
    html.write_text(render_template(settings, TEMPLATE, **data), encoding="utf-8")
    tables = [
        (t(loc, "出席", "Attendance"), pd.DataFrame({
            t(loc, "姓名", "Name"): [r["name"] for r in data["attendance"]],
            t(loc, "邮箱", "Email"): [r["email"] for r in data["attendance"]],
            t(loc, "部门", "Department"): [r["department"] for r in data["attendance"]],
            t(loc, "出席", "Present"): [t(loc, "是", "yes") if r["present"] else t(loc, "否", "no")
                                        for r in data["attendance"]]})),
        (t(loc, "议题与决定", "Agenda and decisions"), pd.DataFrame({
            t(loc, "序号", "No"): [i["no"] for i in data["items"]],
            t(loc, "议题", "Item"): [i["title"] for i in data["items"]],
            t(loc, "事项数", "Entries"): [len(i["rows"]) for i in data["items"]],
            t(loc, "讨论", "Discussion"): [i["discussion"] for i in data["items"]],
            t(loc, "决定", "Decision"): [i["decision"] for i in data["items"]]})),
        (t(loc, "行动项", "Action items"), pd.DataFrame({
            t(loc, "编号", "Ref"): [a["ref"] for a in data["actions"]],
            t(loc, "事项", "Title"): [a["title"] for a in data["actions"]],
            t(loc, "负责人", "Owner"): [a["owner_name"] for a in data["actions"]],
            t(loc, "部门", "Department"): [a["department"] for a in data["actions"]],
            t(loc, "完成期限", "Due"): [a["due_on"] for a in data["actions"]],
            t(loc, "状态", "Status"): [a["status_label"] for a in data["actions"]]})),
    ]
    xlsx = write_xlsx(out_dir / f"{KIND}-{meeting.period}.xlsx", tables)
    markdown = "\n".join([f"# {data['title']}", "", *data["summary"], ""] +
                         [f"- {a['ref']} {a['title']} — {a['owner_name']}, {a['due_on']}" for a in data["actions"]])
    return save_report(session, kind=KIND, period=meeting.period, version=version, files={"html": html, "xlsx": xlsx},
                       locale=loc, summary={"summary": data["summary"], "markdown": markdown,
                                            "actions": len(data["actions"])})
