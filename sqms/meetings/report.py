"""月度质量分析会纪要 — the minutes report (kind `meeting-minutes`): HTML page and XLSX workbook,
versioned under `<reports_dir>/meeting-minutes/<period>/v<version>/`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from sqms.actions.models import ACTION_STATE_LABELS
from sqms.calendar import utcnow
from sqms.config import Person, Settings
from sqms.meetings.models import QualityMeeting
from sqms.reporting.excel import write_xlsx
from sqms.reporting.formatting import organisation_name, t
from sqms.reporting.models import GeneratedReport
from sqms.reporting.render import render_template
from sqms.reporting.service import next_version, report_dir, save_report

KIND = "meeting-minutes"
TEMPLATE = "reports/meeting_minutes.html.j2"


def minutes_data(session: Session, settings: Settings, meeting: QualityMeeting, as_of: datetime) -> dict[str, Any]:
    from sqms.meetings.service import actions_of, meeting_context, meeting_title

    loc = settings.locale
    people = {p.email: p for p in settings.people}
    present = set(meeting.attendees or [])
    invited = list(meeting.participants)
    attendance = [{"email": e, "name": people[e].name if e in people else e,
                   "department": (settings.department(people[e].department).label(loc) if e in people else ""),
                   "invited": e in invited, "present": e in present}
                  for e in dict.fromkeys([*invited, *(meeting.attendees or [])])]
    notes = {n["no"]: n for n in meeting.notes or []}
    items = [{**i, "discussion": notes.get(i["no"], {}).get("discussion", ""),
              "decision": notes.get(i["no"], {}).get("decision", "")} for i in meeting.agenda]
    actions = []
    for a in actions_of(session, meeting):
        owner = people.get(a.owner)
        zh, en = ACTION_STATE_LABELS.get(a.status, (a.status, a.status))
        actions.append({"ref": a.ref, "title": a.title, "owner": a.owner,
                        "owner_name": owner.name if isinstance(owner, Person) else a.owner,
                        "department": settings.department(a.department).label(loc), "due_on": a.due_on.isoformat(),
                        "type": a.type, "status_label": t(loc, zh, en)})
    n_present = sum(1 for r in attendance if r["present"])
    summary = [t(loc, f"出席 {n_present} 人（应到 {len(invited)} 人）；议题 {len(items)} 项，形成决定 "
                      f"{sum(1 for i in items if i['decision'])} 项，行动项 {len(actions)} 项。",
                 f"{n_present} present ({len(invited)} invited); {len(items)} agenda items, "
                 f"{sum(1 for i in items if i['decision'])} decisions, {len(actions)} action items.")]
    return {"locale": loc, "title": t(loc, f"{meeting_title(settings, meeting)}会议纪要",
                                      f"{meeting_title(settings, meeting)}: minutes"),
            "organisation": organisation_name(settings.organisation, loc), "period": meeting.period,
            "generated_at": as_of, "timezone": settings.organisation.timezone, "meeting": meeting,
            "when": meeting_context(settings, meeting), "attendance": attendance, "items": items,
            "actions": actions, "summary": summary}


def produce_minutes(session: Session, settings: Settings, meeting: QualityMeeting, *,
                    as_of: datetime | None = None) -> GeneratedReport:
    """The minutes' files in the next version's folder, recorded (flushed, not committed)."""
    as_of = as_of or utcnow()
    data = minutes_data(session, settings, meeting, as_of)
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
