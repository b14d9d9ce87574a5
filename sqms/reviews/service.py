"""The annual management review (管理评审): planned → requested → pack sent → outputs recorded → reported.

The regulation: once a year top management, organised by the general manager with the heads of
leadership, operations, sales, customer service, HR, finance, R&D and administration, reviews the
service-quality system — the year's plan, the KPI results, the satisfaction survey, each
department's report, the internal audit report, the complaint report and the state of improvement —
makes a review report and follows up every problem it finds.

So a review is opened in January for the previous year with its meeting on a working day; each
department head is asked for an annual report (年度工作报告) by a deadline, and chased by the
reminder engine until it is in; a few days before the meeting every participant gets the input pack
(评审输入) with a calendar invitation; after the meeting its outputs (评审输出: decisions, improvement
opportunities, resource needs, changes of targets) are recorded, every one with an owner becoming a
corrective/preventive action chased like any other; then the review report goes to top management
and every participant.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.actions.models import TYPES as ACTION_TYPES, Action
from sqms.actions.service import NewAction, open_action
from sqms.audit_trail import record_change
from sqms.calendar import (END_OF_DAY, add_working_days, is_working_day, next_working_day, parse_day, to_local,
                           utcnow)
from sqms.config import Person, Settings
from sqms.kpi_catalog import KPI_BY_CODE
from sqms.notify.compose import compose
from sqms.notify.service import enqueue
from sqms.reporting.formatting import fmt_target, kpi_label, t
from sqms.reporting.service import mail_report
from sqms.reviews.models import (OUTPUTS_RECORDED, PACK_SENT, PLANNED, REPORTED, REQUESTED, REVIEW_STATES,
                                 DepartmentReport, ManagementReview, ReviewOutput)
from sqms.records.targets import effective_settings, set_target
from sqms.reminders.service import Deadlines, DueItem
from sqms.rule_errors import Problem, RuleError, problem
from sqms.statemachine import StateMachine, Transition

PROCESS = "management-review"
OUTPUT_SECTIONS = {"decisions": "decision", "improvements": "improvement", "resources": "resource",
                   "objective_changes": "objective_change"}

LIFECYCLE = StateMachine(
    entity="management_review",
    states=REVIEW_STATES,
    initial=PLANNED,
    id_attr="code",
    transitions=(
        Transition("request_reports", (PLANNED,), REQUESTED),
        Transition("send_pack", (REQUESTED,), PACK_SENT),
        Transition("record_outputs", (PACK_SENT,), OUTPUTS_RECORDED),
        Transition("report", (OUTPUTS_RECORDED,), REPORTED),
    ),
)


class ReviewError(RuleError):
    """Bad input for a review; the message says what to fix."""


# -- looking reviews up -----------------------------------------------------------------------------------


def find(session: Session, year: int) -> ManagementReview | None:
    return session.scalars(select(ManagementReview).where(ManagementReview.year == year)).first()


def get(session: Session, year: int | str) -> ManagementReview:
    """The review of `year` (2025 or "2025-review")."""
    text = str(year).removesuffix("-review")
    if not text.isdigit():
        raise ReviewError(f"{year!r} is not a year such as 2025", code="not_a_year", value=str(year))
    review = find(session, int(text))
    if review is None:
        raise ReviewError(f"no management review of {text} (open it with `sqms review open --year {text}`)",
                          code="not_found", ref=text)
    return review


def latest_open(session: Session) -> ManagementReview:
    """The most recent review not yet reported: what a submission or outputs without a year are for."""
    review = session.scalars(select(ManagementReview).where(ManagementReview.status != REPORTED)
                             .order_by(ManagementReview.year.desc()).limit(1)).first()
    if review is None:
        raise ReviewError("no management review is open (open one with `sqms review open`)", code="review.none_open")
    return review


def listing(session: Session) -> list[ManagementReview]:
    return list(session.scalars(select(ManagementReview).order_by(ManagementReview.year.desc())))


# -- opening -----------------------------------------------------------------------------------------------


def working_days_before(day: date, n: int) -> date:
    """The n-th working day before `day` (n ≥ 1): the mirror of `calendar.add_working_days`."""
    if n < 1:
        raise ValueError("n must be at least 1")
    current = day
    while n:
        current -= timedelta(days=1)
        if is_working_day(current):
            n -= 1
    return current


def _email(recipient: Person | str) -> str:
    return recipient if isinstance(recipient, str) else recipient.email


def _person(settings: Settings, email: str) -> Person | str:
    return next((p for p in settings.people if p.email == email), email)


def open_review(session: Session, settings: Settings, *, year: int | None = None, today: date | None = None,
                meeting_on: date | None = None, actor: str | None = None) -> tuple[ManagementReview, bool]:
    """Open the review of `year` (default: the previous year) or return the one that exists.

    The meeting is `review.meeting_after_working_days` working days after today (or `meeting_on`, a
    working day after today); department reports are due `reports_due_working_days_before` working
    days before it (never before the next working day); the participants are resolved from
    `review.participants` now, so the invitation goes to the people in office when it was opened."""
    now = utcnow()
    today = today or to_local(now, settings.tz).date()
    year = year or today.year - 1
    existing = find(session, year)
    if existing is not None:
        return existing, False
    cfg = settings.review
    if year > today.year:
        raise ReviewError(f"{year} has not begun: a review looks back on a year", code="review.year_ahead", year=year)
    meeting_on = meeting_on or add_working_days(today, cfg.meeting_after_working_days)
    if meeting_on <= today or not is_working_day(meeting_on):
        raise ReviewError(f"meeting day {meeting_on}: must be a working day after today ({today})",
                          code="review.meeting_day", day=str(meeting_on), today=str(today))
    due = min(max(working_days_before(meeting_on, cfg.reports_due_working_days_before), next_working_day(today)),
              meeting_on)
    participants = [_email(r) for r in settings.resolve_recipients(cfg.participants)]
    if not participants:
        raise ReviewError("review.participants names nobody: configure people with those roles",
                          code="review.no_participants")
    review = ManagementReview(year=year, status=PLANNED, meeting_on=meeting_on, reports_due_on=due,
                              participants=participants, created_at=now,
                              created_by=actor or session.info.get("actor", "?"))
    session.add(review)
    session.flush()
    record_change(session, action="create", entity=LIFECYCLE.entity, entity_id=review.code, actor=actor,
                  after={"year": year, "meeting_on": meeting_on, "reports_due_on": due, "participants": participants})
    return review, True


# -- department annual reports ---------------------------------------------------------------------------


def request_reports(session: Session, settings: Settings, review: ManagementReview, now: datetime) -> int:
    """Ask every department head for the annual report by the deadline (one mail each, keyed: a rerun
    never asks twice). A department already in is not asked; one without a manager is noted."""
    LIFECYCLE.check(review, "request_reports")
    submitted = {r.department for r in reports_of(session, review)}
    queued, without_manager = 0, []
    for department in settings.departments:
        manager = settings.department_manager(department.code)
        if manager is None:
            without_manager.append(department.code)
            continue
        if department.code in submitted:
            continue
        mail = compose(settings, "review_report_request", manager, review=review,
                       department=department.label(settings.locale), department_code=department.code)
        _, changed = enqueue(session, process=PROCESS, obj=f"{review.code}:request:{department.code}",
                             period=str(review.year), email=mail)
        queued += int(changed)
    LIFECYCLE.apply(session, review, "request_reports", at=now,
                    data={"mails": queued, "without_manager": without_manager})
    return queued


def reports_of(session: Session, review: ManagementReview) -> list[DepartmentReport]:
    return list(session.scalars(select(DepartmentReport).where(DepartmentReport.review_id == review.id)
                                .order_by(DepartmentReport.department)))


def department_reports_dir(settings: Settings, review: ManagementReview) -> Path:
    return Path(settings.reports_dir) / PROCESS / str(review.year) / "department-reports"


def _department_code(settings: Settings, department: str) -> str:
    """A department given by code or by name (as people type it)."""
    for d in settings.departments:
        if department in (d.code, d.name, d.name_en) or department.upper() == d.code:
            return d.code
    raise ReviewError(f"unknown department {department!r} (known: {', '.join(d.code for d in settings.departments)})",
                      code="unknown_department", field="department", value=department)


def submit_report(session: Session, settings: Settings, review: ManagementReview, department: str, *,
                  text: str | None = None, file: str | Path | None = None, actor: str,
                  now: datetime | None = None) -> DepartmentReport:
    """Record a department's annual report: text, a file (copied under the review's folder, so the
    pack can attach it whatever happens to the original), or both. Submitting again replaces it
    (audited); after the report is issued nothing changes any more."""
    now = now or utcnow()
    code = _department_code(settings, department)
    text = (text or "").strip() or None
    if text is None and file is None:
        raise ReviewError("give the report as --text or --file", code="review.report_empty")
    if review.status == REPORTED:
        raise ReviewError(f"{review.code}: the review report is issued; department reports can no longer change",
                          code="review.reported", ref=review.code)
    stored = None
    if file is not None:
        source = Path(file)
        if not source.is_file():
            raise ReviewError(f"{source}: file not found", code="file_not_found", path=str(source))
        folder = department_reports_dir(settings, review)
        folder.mkdir(parents=True, exist_ok=True)
        stored = folder / f"{code}-{source.name}"
        shutil.copyfile(source, stored)
    row = session.scalars(select(DepartmentReport).where(DepartmentReport.review_id == review.id,
                                                         DepartmentReport.department == code)).first()
    values = {"text": text, "file_path": str(stored) if stored else None, "submitted_by": actor, "submitted_at": now}
    if row is None:
        row = DepartmentReport(review_id=review.id, department=code, **values)
        session.add(row)
        action = "submit"
    else:
        for key, value in values.items():
            setattr(row, key, value)
        action = "resubmit"
    session.flush()
    record_change(session, action=action, entity="review_department_report", entity_id=f"{review.code}:{code}",
                  actor=actor, after={"text": (text or "")[:200], "file": values["file_path"],
                                      "late": to_local(now, settings.tz).date() > review.reports_due_on})
    return row


def due_items(session: Session, settings: Settings, now: datetime) -> list[DueItem]:
    """For the reminder engine: every department asked for its annual report that has not sent it,
    owned by its manager, due at the end of the reports' due day."""
    items = []
    for review in session.scalars(select(ManagementReview).where(ManagementReview.status.in_((REQUESTED, PACK_SENT)))):
        submitted = {r.department for r in reports_of(session, review)}
        for department in settings.departments:
            if department.code in submitted:
                continue
            manager = settings.department_manager(department.code)
            title = t(settings.locale, f"{review.year}年度管理评审：{department.label(settings.locale)}年度工作报告",
                      f"Management review {review.year}: {department.label(settings.locale)} annual report")
            items.append(DueItem("review-report", f"{review.code}:{department.code}", title,
                                 manager.email if manager else None, department.code,
                                 datetime.combine(review.reports_due_on, END_OF_DAY, tzinfo=settings.tz)))
    return items


DEADLINES = Deadlines(PROCESS, {"review-report": ("管理评审年度工作报告", "management review: annual report")},
                      due_items)


# -- the input pack and the invitation ----------------------------------------------------------------------


def pack_due_on(settings: Settings, review: ManagementReview) -> date:
    return review.meeting_on - timedelta(days=settings.review.pack_days_before)


def send_pack(session: Session, settings: Settings, review: ManagementReview, now: datetime, *,
              resend: bool = False) -> int:
    """The input pack (HTML, XLSX), the departments' report files and the meeting invitation (ICS) to
    every participant. `resend` sends a new version after the first (late reports, a new meeting day):
    the invitation keeps its UID with a higher SEQUENCE, so calendars update the meeting."""
    from sqms.reviews.rendering import produce_pack

    first = review.status == REQUESTED
    if not first and not (resend and review.status in (PACK_SENT, OUTPUTS_RECORDED)):
        LIFECYCLE.check(review, "send_pack")  # raises, saying what is allowed
    generated = produce_pack(session, settings, review, as_of=now)
    review.pack_report_id = generated.id
    reports = reports_of(session, review)
    # a report file gone from disk would stall the outbox (delivery reads every attachment): left out
    attachments = [generated.files[f] for f in ("html", "xlsx", "pdf", "ics") if f in generated.files] + [
        r.file_path for r in reports if r.file_path and Path(r.file_path).is_file()]
    submitted = {r.department for r in reports}
    missing = [d.label(settings.locale) for d in settings.departments if d.code not in submitted]
    queued = 0
    for email in review.participants:
        mail = compose(settings, "review_pack", _person(settings, email), review=review,
                       meeting=meeting_context(settings, review), summary=generated.summary.get("summary", []),
                       missing=missing, files=[Path(a).name for a in attachments], version=generated.version)
        mail.attachments = attachments
        _, changed = enqueue(session, process=PROCESS, obj=f"{review.code}:pack:v{generated.version}",
                             period=str(review.year), email=mail)
        queued += int(changed)
    data = {"report_id": generated.id, "version": generated.version, "mails": queued}
    if first:
        LIFECYCLE.apply(session, review, "send_pack", at=now, data=data)
    else:
        record_change(session, action="resend-pack", entity=LIFECYCLE.entity, entity_id=review.code, after=data)
    return queued


def meeting_context(settings: Settings, review: ManagementReview) -> dict[str, Any]:
    """Date, weekday, time, end and place as the mails state them."""
    from sqms.reviews.invitation import meeting_window

    start, end = meeting_window(settings, review)
    weekday = t(settings.locale, "星期" + "一二三四五六日"[review.meeting_on.weekday()], review.meeting_on.strftime("%A"))
    return {"date": review.meeting_on, "time": start.strftime("%H:%M"), "end": end.strftime("%H:%M"),
            "weekday": weekday, "place": settings.review.meeting_place, "hours": settings.review.meeting_hours}


# -- the meeting: held or not, and who was there ---------------------------------------------------------


def meeting_held(settings: Settings, review: ManagementReview, now: datetime) -> bool:
    """Whether the meeting day has come (the meeting is on that day; its outputs come after it)."""
    return to_local(now, settings.tz).date() >= review.meeting_on


def check_meeting_held(settings: Settings, review: ManagementReview, now: datetime, what: str) -> None:
    if not meeting_held(settings, review, now):
        today = to_local(now, settings.tz).date().isoformat()
        raise ReviewError(f"{review.code}: the meeting is on {review.meeting_on.isoformat()} and has not taken place "
                          f"yet (today is {today}); {what} from the meeting day on", code="review.meeting_ahead",
                          day=review.meeting_on.isoformat(), today=today)


def _attendee(settings: Settings, value: str) -> Person | None:
    text = value.strip()
    return next((p for p in settings.people if text.lower() == p.email or text == p.name), None)


def attendance_problems(settings: Settings, present: list[str]) -> list[Problem]:
    problems = [problem("unknown_person", f"{value!r} is not a configured person (email or name)", field="attendees",
                        value=value) for value in present if _attendee(settings, value) is None]
    return problems or ([] if present else [problem("review.nobody_present", "name at least one person present")])


def record_attendance(session: Session, settings: Settings, review: ManagementReview, present: list[str], *,
                      actor: str | None = None, now: datetime | None = None) -> list[str]:
    """Record who actually attended the meeting (emails or names of configured people; a person not
    invited may attend). Only from the meeting day on, and not once the report is issued. Returns the
    emails recorded (audited, old → new)."""
    now = now or utcnow()
    check_meeting_held(settings, review, now, "the attendance is recorded")
    if review.status == REPORTED:
        raise ReviewError(f"{review.code}: the review report is issued; attendance can no longer change",
                          code="review.reported", ref=review.code)
    problems = attendance_problems(settings, [p for p in present if p.strip()])
    if problems:
        raise ReviewError(*problems, lead="attendance: ")
    emails = list(dict.fromkeys(_attendee(settings, p).email for p in present if p.strip()))
    if emails != review.attendees:
        record_change(session, action="attendance", entity=LIFECYCLE.entity, entity_id=review.code, actor=actor,
                      before={"attendees": review.attendees}, after={"attendees": emails})
        review.attendees = emails
        session.flush()
    return emails


# -- the outputs of the meeting ----------------------------------------------------------------------------


@dataclass
class OutputIn:
    """One output as recorded after the meeting (validated)."""

    kind: str
    text: str
    owner: str | None = None
    due_on: date | None = None
    department: str | None = None
    action_type: str = "improvement"
    kpi: str | None = None
    target: float | None = None

    def key(self) -> tuple:
        # a change of target is the same decision whatever its wording (which names the old target)
        if self.kind == "objective_change":
            return (self.kind, self.kpi, self.department, self.target)
        return (self.kind, self.text, self.kpi, self.department)


@dataclass
class OutputsIn:
    entries: list[OutputIn]
    minutes: str | None = None
    year: int | None = None
    attendees: list[str] | None = None  # who was present (emails, or names as configured)


def _load(source: Any) -> Any:
    """YAML text, a YAML file, or what YAML would give (a mapping or a list)."""
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and source.endswith(
            (".yaml", ".yml"))):
        path = Path(source)
        if not path.is_file():
            raise ReviewError(f"{path}: file not found", code="file_not_found", path=str(path))
        source = path.read_text(encoding="utf-8")
    if isinstance(source, str):
        try:
            return yaml.safe_load(source)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)  # the line, not the parser's English, on the page
            raise ReviewError(f"not valid YAML: {exc}", code="review.yaml",
                              line=mark.line + 1 if mark is not None else "?") from None
    return source


def _owner(settings: Settings, value: Any) -> str | None:
    """A configured person by email or by name."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    found = next((p for p in settings.people if p.email == text.lower() or p.name == text), None)
    if found is None:
        raise ValueError(f"{text!r} is not a configured person (email or name)")
    return found.email


def _due(value: Any) -> date | None:
    if value is None or value == "":
        return None
    return parse_day(value)


def _entry(settings: Settings, kind: str, raw: Any, where: str, problems: list[Problem]) -> OutputIn | None:
    """One entry checked field by field; every problem is named `where.field: why`."""
    if not isinstance(raw, dict):
        problems.append(problem("review.entry_shape", f"{where}: expected a mapping with text, owner, due, ...",
                                where=where))
        return None
    known = {"kind", "text", "owner", "due", "department", "type", "kpi", "target", "reason"}
    for key in sorted(set(raw) - known):
        problems.append(problem("review.unknown_field", f"{where}.{key}: unknown field "
                                f"(known: {', '.join(sorted(known))})", where=where, field=key, options=sorted(known)))
    out = OutputIn(kind=kind, text=str(raw.get("text") or raw.get("reason") or "").strip())
    failed = set()
    parsers = {"owner": lambda v: _owner(settings, v), "due": _due,
               "department": lambda v: None if v in (None, "", "null") else _department_code(settings, str(v))}
    for name, parse in parsers.items():
        try:
            value = parse(raw.get(name))
        except (ValueError, ReviewError) as exc:
            code = {"owner": "unknown_person", "due": "not_a_date", "department": "unknown_department"}[name]
            problems.append(problem(code, f"{where}.{name}: {exc}", where=where, field=name, value=str(raw.get(name))))
            failed.add(name)
            continue
        setattr(out, {"due": "due_on"}.get(name, name), value)
    if raw.get("type") is not None:
        if raw["type"] not in ACTION_TYPES:
            problems.append(problem("not_one_of", f"{where}.type: {raw['type']!r} is not one of "
                                    f"{', '.join(ACTION_TYPES)}", where=where, field="type", value=str(raw["type"]),
                                    options=ACTION_TYPES))
        else:
            out.action_type = raw["type"]
    if kind == "objective_change":
        _objective_change(settings, raw, out, where, problems)
    else:
        if not out.text:
            problems.append(problem("required", f"{where}.text: is required", where=where, field="text"))
        if kind == "decision" and not failed & {"owner", "due"} and (out.owner is None or out.due_on is None):
            problems.append(problem("review.decision_owner", f"{where}: a decision needs an owner and a due date "
                                    "(it becomes an action)", where=where))
    return out


def _objective_change(settings: Settings, raw: dict, out: OutputIn, where: str, problems: list[Problem]) -> None:
    kpi = raw.get("kpi")
    if kpi not in KPI_BY_CODE or KPI_BY_CODE[kpi].better is None:
        targeted = [k for k, d in KPI_BY_CODE.items() if d.better is not None]
        problems.append(problem("not_one_of", f"{where}.kpi: {kpi!r} is not a KPI with a target "
                                f"(known: {', '.join(targeted)})", where=where, field="kpi", value=str(kpi),
                                options=targeted))
    else:
        out.kpi = kpi
    try:
        out.target = float(raw.get("target"))
    except (TypeError, ValueError):
        problems.append(problem("not_a_number", f"{where}.target: {raw.get('target')!r} is not a number", where=where,
                                field="target", value=str(raw.get("target"))))


def parse_outputs(settings: Settings, source: Any) -> OutputsIn:
    """The outputs of a meeting from YAML (text or file) or dicts, all checked before anything is
    recorded: a mapping with `decisions`, `improvements`, `resources`, `objective_changes` (lists) and
    optional `minutes` and `year`, or a list of entries each with its `kind`. ReviewError lists every
    problem as `decisions[2].owner: why`."""
    data = _load(source)
    problems: list[Problem] = []
    entries: list[OutputIn] = []
    minutes, year, attendees = None, None, None
    if isinstance(data, dict):
        for key in sorted(set(data) - {*OUTPUT_SECTIONS, "minutes", "year", "attendees"}):
            problems.append(problem("review.unknown_section", f"{key}: unknown section (known: "
                                    f"{', '.join(OUTPUT_SECTIONS)}, minutes, year, attendees)", field=key,
                                    options=[*OUTPUT_SECTIONS, "minutes", "year", "attendees"]))
        raw_entries = [(OUTPUT_SECTIONS[section], item, f"{section}[{i}]") for section in OUTPUT_SECTIONS
                       for i, item in enumerate(data.get(section) or [])]
        minutes = str(data["minutes"]).strip() if data.get("minutes") else None
        year = data.get("year")
        if data.get("attendees") is not None:
            raw = data["attendees"]
            attendees = [str(a) for a in raw] if isinstance(raw, list) else [str(raw)]
            for p in attendance_problems(settings, attendees):
                problems.append(Problem(p.code, f"attendees: {p.text}", {**p.params, "field": "attendees"}))
    elif isinstance(data, list):
        raw_entries = []
        for i, item in enumerate(data):
            kind = item.get("kind") if isinstance(item, dict) else None
            if kind not in OUTPUT_SECTIONS.values():
                problems.append(problem("not_one_of", f"[{i}].kind: {kind!r} is not one of "
                                        f"{', '.join(OUTPUT_SECTIONS.values())}", where=f"[{i}]", field="kind",
                                        value=str(kind), options=tuple(OUTPUT_SECTIONS.values())))
                continue
            raw_entries.append((kind, item, f"[{i}]"))
    else:
        raise ReviewError("expected a mapping with decisions, improvements, resources, objective_changes",
                          code="review.outputs_shape")
    for kind, item, where in raw_entries:
        entry = _entry(settings, kind, item, where, problems)
        if entry is not None:
            entries.append(entry)
    if year is not None and not str(year).isdigit():
        problems.append(problem("not_a_year", f"year: {year!r} is not a year such as 2025", field="year",
                                value=str(year)))
    if problems:
        raise ReviewError(*problems, lead="nothing was recorded:\n  ", sep="\n  ")
    return OutputsIn(entries, minutes, int(year) if year is not None else None, attendees)


def record_outputs(session: Session, settings: Settings, review: ManagementReview, outputs: Any, *, actor: str,
                   now: datetime | None = None) -> list[ReviewOutput]:
    """Record what the meeting decided (all or nothing). Every decision, and every improvement or
    resource need with an owner, becomes an action (`review_decision`) chased by the reminders;
    a change of target is kept, audited, and written to `target-changes.yaml` for the next year.
    Recording again before the report adds only the entries not yet recorded."""
    now = now or utcnow()
    parsed = outputs if isinstance(outputs, OutputsIn) else parse_outputs(settings, outputs)
    if parsed.year is not None and parsed.year != review.year:
        raise ReviewError(f"these outputs are for {parsed.year}, not for the review of {review.year}",
                          code="review.other_year", year=parsed.year, review_year=review.year)
    amend = review.status == OUTPUTS_RECORDED
    if not amend:
        LIFECYCLE.check(review, "record_outputs")
    check_meeting_held(settings, review, now, "its outputs are recorded")
    existing = session.scalars(select(ReviewOutput).where(ReviewOutput.review_id == review.id)).all()
    have = {(o.kind, o.kpi, o.department, o.new_target) if o.kind == "objective_change"
            else (o.kind, o.text, o.kpi, o.department) for o in existing}
    added = []
    for entry in parsed.entries:
        if entry.kind == "objective_change" and not entry.text:
            entry.text = _change_text(effective_settings(session, settings, review.year + 1), entry)
        if entry.key() in have:
            continue
        have.add(entry.key())
        added.append(_record_output(session, settings, review, entry, actor, now))
    if parsed.minutes:
        review.minutes = parsed.minutes
    if parsed.attendees is not None:
        record_attendance(session, settings, review, parsed.attendees, actor=actor, now=now)
    if any(o.kind == "objective_change" for o in added):
        write_target_changes(session, settings, review)
    data = {"added": len(added), "actions": sum(1 for o in added if o.action_id)}
    if amend:
        record_change(session, action="amend-outputs", entity=LIFECYCLE.entity, entity_id=review.code, actor=actor,
                      after=data)
    else:
        LIFECYCLE.apply(session, review, "record_outputs", actor=actor, at=now, data=data)
    session.flush()
    return added


def _change_text(settings: Settings, entry: OutputIn) -> str:
    old = settings.kpi.target(entry.kpi, entry.department)  # `settings` as of the year the change is for
    scope = (settings.department(entry.department).label(settings.locale) if entry.department
             else t(settings.locale, "组织整体", "organisation"))
    return (f"{kpi_label(entry.kpi, settings.locale)}（{scope}）：{fmt_target(old, entry.kpi, settings.locale)} → "
            f"{fmt_target(entry.target, entry.kpi, settings.locale)}")


def _record_output(session: Session, settings: Settings, review: ManagementReview, entry: OutputIn, actor: str,
                   now: datetime) -> ReviewOutput:
    next_year = effective_settings(session, settings, review.year + 1)
    old = next_year.kpi.target(entry.kpi, entry.department) if entry.kind == "objective_change" else None
    row = ReviewOutput(review_id=review.id, kind=entry.kind, text=entry.text, owner=entry.owner, due_on=entry.due_on,
                       kpi=entry.kpi, department=entry.department, old_target=old,
                       new_target=entry.target, created_at=now)
    session.add(row)
    session.flush()
    if entry.kind == "objective_change":
        # the next year's KPIs are judged against it (every report, every worker); audited there
        set_target(session, settings, year=review.year + 1, kpi=entry.kpi, department=entry.department, target=entry.target,
                   source=f"management review {review.code}", actor=actor, now=now, comment=entry.text)
    elif entry.owner is not None:
        action = _open_output_action(session, settings, review, row, entry, actor, now)
        row.action_id, row.due_on = action.id, action.due_on  # the default due date when none was given
    return row


def _open_output_action(session: Session, settings: Settings, review: ManagementReview, row: ReviewOutput,
                        entry: OutputIn, actor: str, now: datetime) -> Action:
    """The action that carries an output out: its owner, due date (given, else the default of its
    type), the owner's department unless named, linked back to the review."""
    from sqms.reviews.pack import OUTPUT_KIND_LABELS, label

    owner = next(p for p in settings.people if p.email == entry.owner)
    kind = label(OUTPUT_KIND_LABELS, entry.kind, settings.locale)
    return open_action(session, settings, NewAction(
        source="review_decision", source_ref=f"{review.code}:{row.id}", type=entry.action_type,
        title=t(settings.locale, f"管理评审{review.year} {kind}：{entry.text}",
                f"Management review {review.year} {kind}: {entry.text}")[:200],
        department=entry.department or owner.department, problem=entry.text, owner=entry.owner, due_on=entry.due_on,
        links=[("management_review", review.code), ("review_output", str(row.id))]), actor=actor, now=now)


def target_changes_path(settings: Settings, review: ManagementReview) -> Path:
    return Path(settings.reports_dir) / PROCESS / str(review.year) / "target-changes.yaml"


def write_target_changes(session: Session, settings: Settings, review: ManagementReview) -> Path:
    """Every change of target the review decided, old → new, for the year after it; with the same
    changes as a `kpi:` fragment of config/sqms.yaml (what the configuration must say next year)."""
    changes = session.scalars(select(ReviewOutput).where(ReviewOutput.review_id == review.id,
                                                         ReviewOutput.kind == "objective_change")
                              .order_by(ReviewOutput.id)).all()
    targets: dict[str, float] = {}
    department_targets: dict[str, dict[str, float]] = {}
    for c in changes:
        (department_targets.setdefault(c.department, {}) if c.department else targets)[c.kpi] = c.new_target
    document = {
        "review": review.code, "reviewed_year": review.year, "applies_to_year": review.year + 1,
        "meeting_on": review.meeting_on.isoformat(),
        "changes": [{"kpi": c.kpi, "department": c.department, "old": c.old_target, "new": c.new_target,
                     "reason": c.text} for c in changes],
        "kpi": {"targets": targets, "department_targets": department_targets},
    }
    path = target_changes_path(settings, review)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# 管理评审 {review.year} 目标调整 — targets for {review.year + 1} decided by the management review of "
              f"{review.year}.\n# `kpi:` below is the fragment of config/sqms.yaml that puts them in force.\n")
    path.write_text(header + yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# -- the review report ------------------------------------------------------------------------------------


def report_recipients(review: ManagementReview) -> tuple[str, ...]:
    """Top management and every participant (selectors; each person is mailed once)."""
    return ("role:general_manager", *review.participants)


def issue_report(session: Session, settings: Settings, review: ManagementReview, now: datetime) -> int:
    """The review report (HTML, XLSX), kept and mailed to top management and the participants."""
    from sqms.reviews.rendering import produce_review_report

    LIFECYCLE.check(review, "report")
    check_meeting_held(settings, review, now, "its report is issued")
    generated = produce_review_report(session, settings, review)
    review.report_id = generated.id
    queued = mail_report(session, settings, [generated], recipients=report_recipients(review),
                         template="review_report", process=PROCESS, obj=f"{review.code}:report",
                         period=str(review.year), review=review, figures=generated.summary)
    LIFECYCLE.apply(session, review, "report", at=now, data={"report_id": generated.id, "mails": queued})
    return queued


# -- the schedule -----------------------------------------------------------------------------------------


def next_step(settings: Settings, review: ManagementReview, today: date) -> str | None:
    """What is due for a review today: ask for the reports at once, the pack `pack_days_before` the
    meeting, the report as soon as the outputs are in."""
    if review.status == PLANNED:
        return "request_reports"
    if review.status == REQUESTED and today >= pack_due_on(settings, review):
        return "send_pack"
    if review.status == OUTPUTS_RECORDED and today >= review.meeting_on:
        return "report"
    return None


def advance_due(session: Session, settings: Settings, now: datetime | None = None) -> list[tuple[str, str, int]]:
    """Every open review's due steps, in order: (code, step, mails queued)."""
    now = now or utcnow()
    today = to_local(now, settings.tz).date()
    done = []
    for review in session.scalars(select(ManagementReview).where(ManagementReview.status != REPORTED)
                                  .order_by(ManagementReview.year)):
        while (step := next_step(settings, review, today)) is not None:
            if step == "request_reports":
                count = request_reports(session, settings, review, now)
            elif step == "send_pack":
                count = send_pack(session, settings, review, now)
            else:
                count = issue_report(session, settings, review, now)
            done.append((review.code, step, count))
    session.flush()
    return done


def outputs_of(session: Session, review: ManagementReview) -> list[ReviewOutput]:
    return list(session.scalars(select(ReviewOutput).where(ReviewOutput.review_id == review.id)
                                .order_by(ReviewOutput.id)))


__all__ = ["LIFECYCLE", "PROCESS", "OutputIn", "OutputsIn", "ReviewError", "advance_due", "due_items", "get",
           "issue_report", "latest_open", "open_review", "parse_outputs", "record_attendance", "record_outputs",
           "request_reports", "send_pack", "submit_report"]



def decide_outputs(session: Session, settings: Settings, review: ManagementReview, *, by: str, approve: bool,
                   reason: str | None = None) -> None:
    """Top management approves the recorded outputs, or sends them back with a reason (audited:
    who and when). Only the general manager decides; only once outputs are recorded."""
    person = next((p for p in settings.people if p.email == (by or "").strip().lower()), None)
    if person is None or "general_manager" not in person.roles:
        raise ReviewError(f"{by}: only the general manager approves the review's outputs", code="review.gm_only",
                          person=str(by))
    if review.status != OUTPUTS_RECORDED:
        raise ReviewError(f"{review.code}: there are no recorded outputs to decide on (status {review.status})",
                          code="review.no_outputs", ref=review.code, state=review.status)
    if not approve and not (reason or "").strip():
        raise ReviewError("send back: give the reason", code="reason_required", move="send_back")
    record_change(session, action="outputs-approved" if approve else "outputs-sent-back", entity=LIFECYCLE.entity,
                  entity_id=review.code, actor=person.email, comment=(reason or "").strip() or None,
                  after={"outputs": len(outputs_of(session, review))})
    session.flush()


def outputs_decision(session: Session, review: ManagementReview) -> Any:
    """The latest approve / send-back of the review's outputs (an audit entry), or None."""
    from sqms.audit_trail import AuditEntry

    return session.scalars(select(AuditEntry).where(
        AuditEntry.entity == LIFECYCLE.entity, AuditEntry.entity_id == review.code,
        AuditEntry.action.in_(("outputs-approved", "outputs-sent-back"))).order_by(AuditEntry.id.desc())).first()
