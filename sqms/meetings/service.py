"""The monthly quality-analysis meeting (月度质量分析会): scheduled → minuted.

The regulation: after each monthly report the quality-management department, management's
representative and the heads of the main service departments meet to analyse it — the KPIs that
missed and why, major events and complaints, the running improvements and their effect, new
improvement projects — and the minutes record action items with owners and deadlines.

So once the month's report exists, the meeting is put on a working day
`meeting.after_report_working_days` after the report, its agenda generated from the data as it is
then, and every participant invited (calendar invitation with a stable UID, the report attached).
Moving the meeting (`reschedule`) sends the invitation again with a higher SEQUENCE, which calendars
take as the same event moved. The minutes (attendance, per item the discussion and decision, new
action items) are recorded after the meeting: every action item becomes a corrective/preventive
action of the one action engine, mailed to its owner once; the minutes report goes to the
participants and the general manager. The next meeting's agenda starts with this one's open items.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.rule_errors import RuleError
from sqms.actions.models import ACTION_STATE_LABELS, DONE, IN_PROGRESS, OPEN, Action
from sqms.actions.service import linked_to
from sqms.audit_trail import record_change
from sqms.calendar import add_working_days, is_working_day, month_bounds, periods_ending, shift_period, to_local, utcnow
from sqms.complaints.models import OPEN_STATES as COMPLAINT_OPEN_STATES, Complaint
from sqms.config import Person, Settings
from sqms.improvement.models import ImprovementCycle
from sqms.meetings.models import MEETING_STATES, MINUTED, SCHEDULED, QualityMeeting
from sqms.notify import ics
from sqms.notify.compose import compose
from sqms.notify.service import enqueue
from sqms.records.models import KpiValue
from sqms.records.service import latest_computation
from sqms.reporting.formatting import fmt_target, fmt_value, kpi_label, status_label, t
from sqms.reporting.models import GeneratedReport
from sqms.reporting.service import latest_report
from sqms.statemachine import StateMachine, Transition

PROCESS = "quality-meeting"
MONTHLY_KIND = "monthly-report"
ENTITY = "quality_meeting"  # in the audit trail and in the links of the actions the minutes open

LIFECYCLE = StateMachine(
    entity=ENTITY, states=MEETING_STATES, initial=SCHEDULED, id_attr="ref",
    transitions=(Transition("record_minutes", (SCHEDULED,), MINUTED),),
)


class MeetingError(RuleError):
    """Bad input for a quality-analysis meeting; the message says what to fix."""


def find(session: Session, period: str) -> QualityMeeting | None:
    return session.scalars(select(QualityMeeting).where(QualityMeeting.period == period)).first()


def get(session: Session, period: str) -> QualityMeeting:
    """The meeting on the report of `period` (`2026-10` or `QM-2026-10`)."""
    text = str(period).upper().removeprefix("QM-")
    meeting = find(session, text)
    if meeting is None:
        raise MeetingError(f"no quality-analysis meeting for {text} (schedule it with "
                           f"`sqms run quality-meeting --period {text}`)")
    return meeting


def listing(session: Session) -> list[QualityMeeting]:
    return list(session.scalars(select(QualityMeeting).order_by(QualityMeeting.period.desc())))


def _email(recipient: Person | str) -> str:
    return recipient if isinstance(recipient, str) else recipient.email


def _person(settings: Settings, email: str) -> Person | str:
    return next((p for p in settings.people if p.email == email), email)


def _name(settings: Settings, email: str | None) -> str:
    person = _person(settings, email or "")
    return person.name if isinstance(person, Person) else (email or "—")


# -- the day --------------------------------------------------------------------------------------------


def default_day(settings: Settings, report: GeneratedReport) -> date:
    """The N-th working day after the day the month's report was made (local time)."""
    made_on = to_local(report.created_at, settings.tz).date()
    return add_working_days(made_on, settings.meeting.after_report_working_days)


def _check_day(settings: Settings, day: date, now: datetime) -> None:
    today = to_local(now, settings.tz).date()
    if not is_working_day(day):
        raise MeetingError(f"meeting day {day.isoformat()}: not a working day of the official calendar")
    if day < today:
        raise MeetingError(f"meeting day {day.isoformat()}: already past (today is {today.isoformat()})")


def next_meeting_estimate(meeting: QualityMeeting) -> date:
    """About when the next one will be: a month later (what 'due before the next meeting' means)."""
    day = meeting.meeting_on
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, 28))


# -- the agenda, from live data --------------------------------------------------------------------------


def _action_row(settings: Settings, a: Action, today: date) -> dict[str, Any]:
    zh, en = ACTION_STATE_LABELS.get(a.status, (a.status, a.status))
    return {"ref": a.ref, "title": a.title, "department": a.department, "owner": a.owner,
            "owner_name": _name(settings, a.owner), "due_on": a.due_on.isoformat(), "status": a.status,
            "status_label": t(settings.locale, zh, en), "overdue": a.status in (OPEN, IN_PROGRESS) and a.due_on < today}


def _dept(settings: Settings, code: str | None) -> str:
    if code is None:
        return t(settings.locale, "全公司", "organisation")
    try:
        return settings.department(code).label(settings.locale)
    except KeyError:
        return code


def missed_kpis(session: Session, settings: Settings, period: str, months: int = 3) -> list[dict[str, Any]]:
    """The KPIs that missed their target in the month's stored computation, organisation and departments,
    with n and the values of the months before (the trend), from their stored computations."""
    computation = latest_computation(session, period)
    if computation is None:
        return []
    earlier = {}
    for p in periods_ending(shift_period(period, -1), months - 1):
        c = latest_computation(session, p)
        earlier[p] = {(v.kpi, v.department): v for v in c.values} if c is not None else {}
    loc = settings.locale
    rows = []
    values: list[KpiValue] = sorted(computation.values, key=lambda v: (v.department is not None, v.department or "",
                                                                       v.kpi))
    for v in values:
        if v.status != "missed":
            continue
        trend = [{"period": p, "value": (earlier[p].get((v.kpi, v.department)).value
                                         if earlier[p].get((v.kpi, v.department)) else None)} for p in sorted(earlier)]
        trend.append({"period": period, "value": v.value})
        rows.append({"kpi": v.kpi, "kpi_label": kpi_label(v.kpi, loc), "department": v.department,
                     "department_name": _dept(settings, v.department), "value": v.value,
                     "value_label": fmt_value(v.value, v.kpi, loc), "target": v.target,
                     "target_label": fmt_target(v.target, v.kpi, loc), "n": v.n, "low_confidence": v.low_confidence,
                     "trend": trend, "trend_label": " → ".join(fmt_value(x["value"], v.kpi, loc, unit=False)
                                                              for x in trend)})
    return rows


def complaints_to_discuss(session: Session, settings: Settings, period: str, now: datetime) -> list[dict[str, Any]]:
    """The month's special complaints, and every complaint still open past its deadline now."""
    start, end = month_bounds(period, settings.tz)
    special = session.scalars(select(Complaint).where(Complaint.severity == "special", Complaint.received_at >= start,
                                                      Complaint.received_at < end))
    overdue = session.scalars(select(Complaint).where(Complaint.status.in_(COMPLAINT_OPEN_STATES),
                                                      Complaint.deadline_at < now))
    rows: dict[str, dict[str, Any]] = {}
    for c in [*special, *overdue]:
        row = rows.setdefault(c.complaint_id, {
            "complaint_id": c.complaint_id, "department_name": _dept(settings, c.department), "category": c.category,
            "severity": c.severity, "status": c.status, "received_on": to_local(c.received_at, settings.tz).date()
            .isoformat(), "deadline": to_local(c.deadline_at, settings.tz).strftime("%Y-%m-%d %H:%M"),
            "special": c.severity == "special", "overdue": False})
        row["overdue"] = c.status in COMPLAINT_OPEN_STATES and c.deadline_at < now
    return sorted(rows.values(), key=lambda r: (not r["special"], r["received_on"], r["complaint_id"]))


def running_improvements(session: Session, settings: Settings) -> list[dict[str, Any]]:
    """Every PDCA cycle not closed, with its last check (month, value, met or not)."""
    loc = settings.locale
    rows = []
    for c in session.scalars(select(ImprovementCycle).where(ImprovementCycle.status != "closed")
                             .order_by(ImprovementCycle.id)):
        last = None
        if c.check_period:
            last = {"period": c.check_period, "value": c.check_value, "met": c.check_met}
        elif c.history:
            previous = c.history[-1]
            last = {"period": previous.get("check_period"), "value": previous.get("check_value"),
                    "met": previous.get("check_met")}
        rows.append({"ref": c.ref, "department_name": _dept(settings, c.department), "kpi": c.kpi,
                     "kpi_label": kpi_label(c.kpi, loc), "status": c.status, "iteration": c.iteration,
                     "baseline_label": fmt_value(c.baseline, c.kpi, loc), "target_label": fmt_target(c.target, c.kpi, loc),
                     "owner_name": _name(settings, c.owner), "last_check": last,
                     "last_check_label": (f"{last['period']}: {fmt_value(last['value'], c.kpi, loc)} "
                                          f"{status_label('met' if last['met'] else 'missed', loc)}"
                                          if last and last.get("period") else t(loc, "尚未检查", "not checked yet"))})
    return rows


def previous_items(session: Session, settings: Settings, meeting: QualityMeeting, today: date) -> list[dict[str, Any]]:
    """The open action items of the previous month's meeting (open, in progress or done to verify)."""
    previous = f"QM-{shift_period(meeting.period, -1)}"
    actions = sorted(linked_to(session, ENTITY, previous), key=lambda a: a.id)
    return [_action_row(settings, a, today) for a in actions if a.status in (OPEN, IN_PROGRESS, DONE)]


def actions_to_chase(session: Session, settings: Settings, meeting: QualityMeeting, today: date,
                     skip: set[str]) -> list[dict[str, Any]]:
    """Open corrective actions overdue now or due before the next meeting (those of item 1 left out)."""
    horizon = next_meeting_estimate(meeting)
    actions = session.scalars(select(Action).where(Action.status.in_((OPEN, IN_PROGRESS)), Action.due_on <= horizon)
                              .order_by(Action.due_on, Action.id))
    return [_action_row(settings, a, today) for a in actions if a.ref not in skip]


AGENDA_TITLES = {  # kind: zh_CN, en — in the order of the agenda
    "previous_actions": ("上次会议待办事项跟踪", "Open items of the previous meeting"),
    "report": ("月度服务质量报告", "The monthly service-quality report"),
    "kpi_misses": ("未达标指标及原因分析", "KPIs that missed their target, and why"),
    "complaints": ("重大投诉及超期投诉", "Special and overdue complaints"),
    "improvements": ("持续改进项目进展及效果", "Running improvements and their effect"),
    "actions": ("逾期或下次会议前到期的纠正措施", "Actions overdue or due before the next meeting"),
    "new_projects": ("新的改进项目", "New improvement projects"),
}


def build_agenda(session: Session, settings: Settings, meeting: QualityMeeting, *, report: GeneratedReport | None,
                 now: datetime) -> list[dict[str, Any]]:
    """The agenda as of `now`: numbered items, each with its rows (what the item is about)."""
    today = to_local(now, settings.tz).date()
    previous = previous_items(session, settings, meeting, today)
    rows: dict[str, list[dict[str, Any]]] = {
        "previous_actions": previous,
        "report": ([{"version": report.version, "summary": s} for s in report.summary.get("summary", [])]
                   if report is not None else []),
        "kpi_misses": missed_kpis(session, settings, meeting.period),
        "complaints": complaints_to_discuss(session, settings, meeting.period, now),
        "improvements": running_improvements(session, settings),
        "actions": actions_to_chase(session, settings, meeting, today, {r["ref"] for r in previous}),
        "new_projects": [],
    }
    loc = settings.locale
    for kind, entries in rows.items():
        for row in entries:
            row["line"] = _line(loc, kind, row)
    return [{"no": n, "kind": kind, "title": t(loc, *AGENDA_TITLES[kind]), "rows": rows[kind]}
            for n, kind in enumerate(AGENDA_TITLES, start=1)]


def _line(loc: str, kind: str, r: dict[str, Any]) -> str:
    """One agenda entry in a sentence (mail, calendar, minutes)."""
    if kind in ("previous_actions", "actions"):
        late = t(loc, "，已逾期", ", overdue") if r["overdue"] else ""
        return f"{r['ref']} {r['title']} — {r['owner_name']}，{t(loc, '期限', 'due')} {r['due_on']}，{r['status_label']}{late}"
    if kind == "report":
        return r["summary"]
    if kind == "kpi_misses":
        low = t(loc, "，样本不足", ", low confidence") if r["low_confidence"] else ""
        return (f"{r['department_name']} · {r['kpi_label']}: {r['value_label']}（{t(loc, '目标', 'target')} "
                f"{r['target_label']}，n={r['n']}{low}）{t(loc, '趋势', 'trend')} {r['trend_label']}")
    if kind == "complaints":
        flags = [t(loc, "重大", "special")] if r["special"] else []
        flags += [t(loc, "超期未办结", "overdue")] if r["overdue"] else []
        return (f"{r['complaint_id']} {r['department_name']} · {r['category']}（{'、'.join(flags)}），"
                f"{t(loc, '受理', 'received')} {r['received_on']}，{t(loc, '期限', 'deadline')} {r['deadline']}")
    if kind == "improvements":
        return (f"{r['ref']} {r['department_name']} · {r['kpi_label']}: {r['status'].upper()}"
                f"（{t(loc, '第', 'iteration ')}{r['iteration']}{t(loc, '轮', '')}），{r['baseline_label']} → "
                f"{r['target_label']}；{t(loc, '最近检查', 'last check')} {r['last_check_label']}")
    return ""


def agenda_text(settings: Settings, agenda: list[dict[str, Any]]) -> str:
    """The agenda as plain lines (the calendar event's description)."""
    loc = settings.locale
    return "\n".join(f"{item['no']}. {item['title']}" + (t(loc, f"（{len(item['rows'])} 项）",
                                                            f" ({len(item['rows'])})") if item["rows"] else "")
                     for item in agenda)


# -- scheduling and the invitation ------------------------------------------------------------------------


def meeting_title(settings: Settings, meeting: QualityMeeting) -> str:
    year, month = meeting.period.split("-")
    return t(settings.locale, f"{int(year)}年{int(month)}月质量分析会", f"Quality-analysis meeting {meeting.period}")


def invitation_file(settings: Settings, meeting: QualityMeeting, now: datetime) -> Path:
    """The invitation (ICS) of the meeting's current sequence, written under the reports folder."""
    cfg = settings.meeting
    start, end = ics.window(settings, meeting.meeting_on, cfg.meeting_time, cfg.meeting_hours)
    event = ics.Meeting(uid=ics.uid_for(settings, f"quality-meeting-{meeting.period}"), start=start, end=end,
                        summary=meeting_title(settings, meeting), location=cfg.meeting_place,
                        description=agenda_text(settings, meeting.agenda))
    folder = Path(settings.reports_dir) / PROCESS / meeting.period
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"quality-meeting-{meeting.period}-s{meeting.sequence}.ics"
    path.write_bytes(ics.invitation_ics(settings, event, meeting.participants, sequence=meeting.sequence, now=now,
                                        prodid="-//SQMS//Quality-analysis meeting//ZH"))
    return path


def meeting_context(settings: Settings, meeting: QualityMeeting) -> dict[str, Any]:
    cfg = settings.meeting
    start, end = ics.window(settings, meeting.meeting_on, cfg.meeting_time, cfg.meeting_hours)
    weekday = t(settings.locale, "星期" + "一二三四五六日"[meeting.meeting_on.weekday()],
                meeting.meeting_on.strftime("%A"))
    return {"date": meeting.meeting_on, "time": start.strftime("%H:%M"), "end": end.strftime("%H:%M"),
            "weekday": weekday, "place": cfg.meeting_place, "title": meeting_title(settings, meeting)}


def send_invitations(session: Session, settings: Settings, meeting: QualityMeeting, now: datetime) -> int:
    """One invitation per participant for the meeting's current sequence (keyed: a rerun sends nothing
    new): the agenda in the body, the ICS and the month's report (HTML, XLSX) attached."""
    ics_path = invitation_file(settings, meeting, now)
    report = session.get(GeneratedReport, meeting.report_id) if meeting.report_id else None
    attachments = [str(ics_path)] + ([report.files[f] for f in ("html", "xlsx") if f in report.files]
                                     if report is not None else [])
    queued = 0
    for email in meeting.participants:
        mail = compose(settings, "quality_meeting_invitation", _person(settings, email), meeting=meeting,
                       when=meeting_context(settings, meeting), agenda=meeting.agenda,
                       rescheduled=meeting.sequence > 0, files=[Path(a).name for a in attachments])
        mail.attachments = attachments
        _, changed = enqueue(session, process=PROCESS, obj=f"{meeting.ref}:invitation:s{meeting.sequence}",
                             period=meeting.period, email=mail)
        queued += int(changed)
    return queued


def schedule(session: Session, settings: Settings, period: str, *, now: datetime | None = None,
             meeting_on: date | None = None, actor: str | None = None) -> tuple[QualityMeeting, int]:
    """Schedule the meeting on the month's report (or return the one scheduled) and invite the
    participants; with `meeting_on` differing from the day held, move it (the invitation goes again
    with a higher SEQUENCE and a fresh agenda). Returns the meeting and how many mails were queued."""
    now = now or utcnow()
    report = latest_report(session, MONTHLY_KIND, period)
    meeting = find(session, period)
    if meeting is None:
        if report is None:
            raise MeetingError(f"no monthly report of {period} yet: the meeting analyses it "
                               f"(run `sqms run monthly-report --period {period}` first)")
        day = meeting_on or default_day(settings, report)
        _check_day(settings, day, now)
        participants = [_email(r) for r in settings.resolve_recipients(settings.meeting.participants)]
        if not participants:
            raise MeetingError("meeting.participants names nobody: configure people with those roles")
        meeting = QualityMeeting(period=period, status=SCHEDULED, meeting_on=day, sequence=0,
                                 participants=participants, agenda=[], notes=[], report_id=report.id, created_at=now,
                                 created_by=actor or session.info.get("actor", "?"))
        session.add(meeting)
        session.flush()
        meeting.agenda = build_agenda(session, settings, meeting, report=report, now=now)
        record_change(session, action="create", entity=ENTITY, entity_id=meeting.ref, actor=actor,
                      after={"meeting_on": day, "participants": participants, "report_id": report.id,
                             "agenda": [(i["kind"], len(i["rows"])) for i in meeting.agenda]})
    elif meeting_on is not None and meeting_on != meeting.meeting_on:
        if meeting.status != SCHEDULED:
            raise MeetingError(f"{meeting.ref}: the minutes are recorded; the meeting can no longer move",
                               code="meeting.minuted", ref=meeting.ref)
        _check_day(settings, meeting_on, now)
        record_change(session, action="reschedule", entity=ENTITY, entity_id=meeting.ref, actor=actor,
                      before={"meeting_on": meeting.meeting_on, "sequence": meeting.sequence},
                      after={"meeting_on": meeting_on, "sequence": meeting.sequence + 1})
        meeting.meeting_on = meeting_on
        meeting.sequence += 1
        if report is not None:
            meeting.report_id = report.id
        meeting.agenda = build_agenda(session, settings, meeting, report=report, now=now)
    session.flush()
    return meeting, send_invitations(session, settings, meeting, now)


# -- the minutes -------------------------------------------------------------------------------------------


def actions_of(session: Session, meeting: QualityMeeting) -> list[Action]:
    """The actions the meeting's minutes opened."""
    return sorted(linked_to(session, ENTITY, meeting.ref), key=lambda a: a.id)


def record_minutes(session: Session, settings: Settings, meeting: QualityMeeting, minutes: Any, *,
                   actor: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Record attendance, the discussion and decision per agenda item and the action items (from the
    meeting day on). Every action item becomes an action of the one action engine, linked to the
    meeting and mailed to its owner once (recording the same minutes again opens nothing twice);
    then the minutes report goes to the participants and `meeting.minutes_to`. Corrections after the
    first recording are audited and make a new version of the report."""
    from sqms.actions.service import NewAction, open_action
    from sqms.meetings.rendering import produce_minutes
    from sqms.meetings.report import minutes_data

    now = now or utcnow()
    today = to_local(now, settings.tz).date()
    if today < meeting.meeting_on:
        raise MeetingError(f"{meeting.ref}: the meeting is on {meeting.meeting_on.isoformat()} and has not taken "
                           f"place yet (today is {today.isoformat()}); the minutes are recorded from that day on",
                           code="meeting.not_held", ref=meeting.ref, day=meeting.meeting_on.isoformat())
    titles = {i["no"]: i["title"] for i in meeting.agenda}
    notes = [{"no": no, "title": titles[no], **note} for no, note in sorted(minutes.notes.items())]
    existing = {a.source_ref for a in actions_of(session, meeting)}
    opened = []
    for item in minutes.actions:
        ref = f"{meeting.ref}:{item.title}"[:200]
        if ref in existing:
            continue
        problem = t(settings.locale, f"{meeting_title(settings, meeting)}决定", f"Decided at {meeting.ref}")
        if item.item is not None:
            note = minutes.notes.get(item.item, {})
            problem += f" — {item.item}. {titles[item.item]}" + (f": {note['decision']}" if note.get("decision")
                                                                   else "")
        action = open_action(session, settings, NewAction(
            source="quality_meeting", type=item.type, title=item.title, department=item.department,
            problem=problem, owner=item.owner, due_on=item.due_on, source_ref=ref, links=[(ENTITY, meeting.ref)]),
            actor=actor, now=now)
        existing.add(ref)
        opened.append(action.ref)
    changed = bool(opened) or minutes.attendees != meeting.attendees or notes != (meeting.notes or [])
    if meeting.status == SCHEDULED:
        LIFECYCLE.apply(session, meeting, "record_minutes", actor=actor, at=now,
                        data={"attendees": minutes.attendees, "actions": opened})
    elif changed:
        record_change(session, action="amend-minutes", entity=ENTITY, entity_id=meeting.ref, actor=actor,
                      before={"attendees": meeting.attendees, "notes": meeting.notes},
                      after={"attendees": minutes.attendees, "notes": notes, "actions": opened})
    meeting.attendees = minutes.attendees
    meeting.notes = notes
    meeting.minuted_at = now
    session.flush()
    mails = 0
    version = None
    if changed or meeting.minutes_report_id is None:
        data = minutes_data(settings, meeting, now, opened=actions_of(session, meeting),
                            when=meeting_context(settings, meeting), title=meeting_title(settings, meeting))
        generated = produce_minutes(session, settings, meeting, data)
        meeting.minutes_report_id = generated.id
        version = generated.version
        mails = mail_minutes(session, settings, meeting, generated)
    return {"meeting": meeting.ref, "actions": opened, "minutes_version": version, "mails": mails}


def minutes_recipients(settings: Settings, meeting: QualityMeeting) -> list[str]:
    extra = [_email(r) for r in settings.resolve_recipients(settings.meeting.minutes_to)]
    return list(dict.fromkeys([*meeting.participants, *(meeting.attendees or []), *extra]))


def mail_minutes(session: Session, settings: Settings, meeting: QualityMeeting, generated: GeneratedReport) -> int:
    from sqms.reporting.service import mail_report

    return mail_report(session, settings, [generated], recipients=minutes_recipients(settings, meeting),
                       template="quality_meeting_minutes", process=PROCESS,
                       obj=f"{meeting.ref}:minutes:v{generated.version}", period=meeting.period, meeting=meeting,
                       when=meeting_context(settings, meeting), summary=generated.summary.get("summary", []),
                       version=generated.version)


def due_period(settings: Settings, now: datetime) -> str:
    """The month a run without a period schedules: last month."""
    from sqms.calendar import previous_period

    return previous_period(now, settings.tz)
