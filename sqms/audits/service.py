"""Semiannual internal audits (内部审核): planned → notified → in progress → findings recorded →
report issued → follow-up → closed.

The regulation: once or twice a year, at mid-year and year-end, the general manager's office
organises an internal audit of every department involved in service (operating and supporting),
auditing people, resources, technology and processes, with a plan, checklists, records of what
was audited, rectification of nonconformities and a report for the management review. Auditors
never audit their own department. Nonconformities become corrective actions of the department
manager, verified by the auditor; the cycle closes when each is verified or formally carried over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.actions.models import VERIFIED, Action
from sqms.actions.service import NewAction, open_action
from sqms.audit_trail import record_change
from sqms.audits.checklists import load_checklists
from sqms.audits.models import (CLOSED, CYCLE_STATES, FINDINGS_RECORDED, FOLLOW_UP, IN_PROGRESS, NONCONFORMITIES,
                                NOTIFIED, PLANNED, REPORT_ISSUED, RESULTS, AuditCycle, AuditFinding, AuditSlot)
from sqms.audits.report import AuditReport, build_audit_report
from sqms.calendar import END_OF_DAY, next_working_day, to_local, utcnow
from sqms.config import ConfigError, Person, Settings
from sqms.notify.compose import compose
from sqms.notify.service import enqueue
from sqms.reminders.service import Deadlines, DueItem, Reminder
from sqms.reporting.service import mail_report
from sqms.rule_errors import RuleError
from sqms.statemachine import StateMachine, Transition

PROCESS = "internal-audit"

LIFECYCLE = StateMachine(
    entity="audit",
    states=CYCLE_STATES,
    initial=PLANNED,
    id_attr="code",
    transitions=(
        Transition("notify", (PLANNED,), NOTIFIED),
        Transition("start", (NOTIFIED,), IN_PROGRESS),
        Transition("complete_findings", (IN_PROGRESS,), FINDINGS_RECORDED),
        Transition("issue_report", (FINDINGS_RECORDED,), REPORT_ISSUED),
        Transition("follow_up", (REPORT_ISSUED,), FOLLOW_UP),
        Transition("close", (FOLLOW_UP,), CLOSED),
    ),
)


class AuditError(RuleError):
    """Bad input or an impossible plan; the message says what to fix."""


def cycle_code(today: date) -> str:
    """2026-H1 for an audit opened January–June, 2026-H2 July–December."""
    return f"{today.year}-H{1 if today.month <= 6 else 2}"


# -- the plan -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    department: str
    auditor: str
    day: date


def plan_slots(departments: list[str], auditors: list[tuple[str, str]], start: date, per_day: int) -> list[Slot]:
    """One audit per department on working days from `start` (at most `per_day` a day); the auditor is
    never from the audited department, audits one department a day at most, and the load is spread
    evenly. `auditors` are (email, own department). AuditError when a department has no possible auditor."""
    load = {email: 0 for email, _ in auditors}
    home = dict(auditors)
    busy: dict[date, set[str]] = {}
    out: list[Slot] = []
    day = next_working_day(start)
    for department in departments:
        eligible = [a for a in load if home[a] != department]
        if not eligible:
            raise AuditError(f"department {department}: no internal auditor from another department "
                             "(add one in config/sqms.yaml, role internal_auditor)", code="audit.no_auditor",
                             department=department)
        while True:
            taken = busy.setdefault(day, set())
            free = [a for a in eligible if a not in taken]
            if len(taken) < per_day and free:
                auditor = min(free, key=lambda a: (load[a], a))
                break
            day = next_working_day(day + timedelta(days=1))
        taken.add(auditor)
        load[auditor] += 1
        out.append(Slot(department, auditor, day))
    return out


def previous_cycle(session: Session, cycle: AuditCycle) -> AuditCycle | None:
    return session.scalars(select(AuditCycle).where(AuditCycle.id < cycle.id).order_by(AuditCycle.id.desc())
                           .limit(1)).first()


def open_cycle(session: Session, settings: Settings, *, today: date | None = None, code: str | None = None,
               actor: str | None = None) -> tuple[AuditCycle, bool]:
    """Open the cycle of this half-year and plan it (or return it when it exists)."""
    now = utcnow()
    today = today or to_local(now, settings.tz).date()
    code = code or cycle_code(today)
    existing = session.scalars(select(AuditCycle).where(AuditCycle.code == code)).first()
    if existing is not None:
        return existing, False
    cycle = AuditCycle(code=code, status=PLANNED, opened_at=now, created_by=actor or session.info.get("actor", "?"))
    session.add(cycle)
    session.flush()
    record_change(session, action="create", entity="audit", entity_id=code, actor=actor, after={"opened": today})
    build_plan(session, settings, cycle, today)
    return cycle, True


def build_plan(session: Session, settings: Settings, cycle: AuditCycle, today: date) -> list[AuditSlot]:
    """Slots for every department in scope with its checklist; items new or edited since the previous
    cycle are flagged so that auditors look at them first."""
    codes = [d.code for d in settings.departments]
    scope = list(settings.audits.scope) or codes
    checklists = load_checklists(settings.checklists_dir, codes)
    by_department = {dept: c for c in checklists.values() for dept in c.departments}
    missing = [d for d in scope if d not in by_department]
    if missing:
        raise AuditError(f"no checklist in {settings.checklists_dir} covers {', '.join(missing)}",
                         code="audit.no_checklist", departments=missing)
    auditors = [(p.email, p.department) for p in settings.people_with_role("internal_auditor")]
    start = today
    for _ in range(settings.audits.first_audit_after_working_days):
        start = next_working_day(start + timedelta(days=1))
    slots = plan_slots(scope, auditors, start, settings.audits.audits_per_day)
    before = previous_cycle(session, cycle)
    earlier = {s.department: {i["code"]: i["fingerprint"] for i in s.items} for s in session.scalars(
        select(AuditSlot).where(AuditSlot.cycle_id == before.id))} if before else {}
    rows = []
    for slot in slots:
        checklist = by_department[slot.department]
        items = [{**i.model_dump(), "fingerprint": i.fingerprint()} for i in checklist.items]
        last = earlier.get(slot.department)
        changed = [] if last is None else [i["code"] for i in items if last.get(i["code"]) != i["fingerprint"]]
        rows.append(AuditSlot(cycle_id=cycle.id, department=slot.department, auditor=slot.auditor, day=slot.day,
                              checklist_code=checklist.code, items=items, changed_items=changed))
    session.add_all(rows)
    cycle.first_day, cycle.last_day = min(s.day for s in slots), max(s.day for s in slots)
    session.flush()
    return rows


def slots_of(session: Session, cycle: AuditCycle) -> list[AuditSlot]:
    return list(session.scalars(select(AuditSlot).where(AuditSlot.cycle_id == cycle.id)
                                .order_by(AuditSlot.day, AuditSlot.department)))


def _person(settings: Settings, email: str) -> Person | str:
    return next((p for p in settings.people if p.email == email), email)


def _people_of_slots(settings: Settings, slots: Iterable[AuditSlot]) -> dict[str, list[AuditSlot]]:
    """Each auditor and each auditee (the department manager) with their slots."""
    mine: dict[str, list[AuditSlot]] = {}
    for slot in slots:
        mine.setdefault(slot.auditor, []).append(slot)
        manager = settings.department_manager(slot.department)
        if manager:
            mine.setdefault(manager.email, []).append(slot)
    return mine


def _checklist_title(settings: Settings, code: str) -> str:
    """A checklist by its title in the mail language (its code when the file is gone)."""
    try:
        checklist = load_checklists(settings.checklists_dir).get(code)
    except ConfigError:
        checklist = None
    return checklist.title.get(settings.locale) if checklist else code


def notify(session: Session, settings: Settings, cycle: AuditCycle, now: datetime) -> int:
    """The plan to every auditor and auditee: the whole plan, their own audits first."""
    slots = slots_of(session, cycle)
    names = {p.email: p.name for p in settings.people}
    plan = [{"department": settings.department(s.department).label(settings.locale), "auditor": names.get(
        s.auditor, s.auditor), "day": s.day, "checklist": _checklist_title(settings, s.checklist_code),
        "changed": len(s.changed_items)} for s in slots]
    queued = 0
    for email, own in _people_of_slots(settings, slots).items():
        mail = compose(settings, "audit_plan", _person(settings, email), cycle=cycle, plan=plan, own=[
            {"department": settings.department(s.department).label(settings.locale), "day": s.day,
             "auditor": names.get(s.auditor, s.auditor), "role": "auditor" if s.auditor == email else "auditee"}
            for s in own])
        _, changed = enqueue(session, process=PROCESS, obj=f"{cycle.code}:plan", period=cycle.code, email=mail)
        queued += int(changed)
    LIFECYCLE.apply(session, cycle, "notify", at=now, data={"slots": len(slots), "mails": queued})
    return queued


def due_items(session: Session, settings: Settings, now: datetime) -> list[DueItem]:
    """For the reminder engine: every audit of a notified or started cycle, a date its auditor and auditee
    (the department manager) are told of at `audits.reminder_days_before` (14 and 7 days) — not a task
    chased when late (recording the findings is, on the audit's page)."""
    items = []
    for slot, code in session.execute(
            select(AuditSlot, AuditCycle.code).join(AuditCycle, AuditCycle.id == AuditSlot.cycle_id)
            .where(AuditCycle.status.in_((NOTIFIED, IN_PROGRESS))).order_by(AuditSlot.day, AuditSlot.department)):
        manager = settings.department_manager(slot.department)
        label = settings.department(slot.department).label(settings.locale)
        items.append(DueItem(
            "audit-slot", f"{code}:{slot.department}",
            f"内部审核：{label}" if settings.locale.startswith("zh") else f"internal audit: {label}",
            slot.auditor, slot.department, datetime.combine(slot.day, END_OF_DAY, tzinfo=settings.tz),
            notice_days=tuple(settings.audits.reminder_days_before), also=(manager.email,) if manager else (),
            chased=False))
    return items


def reminder_mail(session: Session, settings: Settings, reminder: Reminder, today: date) -> int | None:
    """An audit's notice as its own mail (the plan, the checklist, the person's role), not a digest line:
    each notice once, on the first working day within its window (the engine's rules)."""
    code, department = reminder.item.item_id.rsplit(":", 1)
    cycle = get(session, code)
    slot = slot_of(session, cycle, department)
    email = reminder.recipient
    names = {p.email: p.name for p in settings.people}
    mail = compose(settings, "audit_reminder", _person(settings, email), cycle=cycle, slot=slot,
                   days=(slot.day - today).days, department=settings.department(department).label(settings.locale),
                   auditor=names.get(slot.auditor, slot.auditor),
                   checklist=_checklist_title(settings, slot.checklist_code),
                   role="auditor" if email == slot.auditor else "auditee")
    # the key the audits used before the engine sent their notices: a notice already mailed is not repeated
    row, _ = enqueue(session, process=PROCESS, obj=f"{cycle.code}:{slot.department}:in-{reminder.notice}d",
                     period=cycle.code, email=mail)
    return row.id


# -- findings ---------------------------------------------------------------------------------------------


@dataclass
class FindingIn:
    item_code: str
    result: str
    evidence: str | None = None
    notes: str | None = None
    standard: str | None = None  # the register's document it is against (default: the checklist item's)


def slot_of(session: Session, cycle: AuditCycle, department: str) -> AuditSlot:
    slot = session.scalars(select(AuditSlot).where(AuditSlot.cycle_id == cycle.id,
                                                   AuditSlot.department == department)).first()
    if slot is None:
        raise AuditError(f"{cycle.code}: department {department!r} is not in the audit plan", code="not_found",
                         ref=f"{cycle.code} {department}")
    return slot


def record_findings(session: Session, settings: Settings, cycle: AuditCycle, slot: AuditSlot,
                    findings: list[FindingIn], *, actor: str, now: datetime | None = None,
                    force: bool = False) -> list[AuditFinding]:
    """Record (or correct) a department's results; each nonconformity opens a corrective action of the
    department manager, due 30 (major) / 60 (minor) days later, to be verified by the auditor.

    An audit is recorded on or after its day: findings for an audit still to come are refused, unless
    `force` (e.g. the audit was brought forward), which keeps a warning in the audit log."""
    now = now or utcnow()
    if cycle.status in (REPORT_ISSUED, FOLLOW_UP, CLOSED):
        raise AuditError(f"{cycle.code}: the report is issued; findings can no longer change",
                         code="audit.report_issued", ref=cycle.code)
    today = to_local(now, settings.tz).date()
    if slot.day > today:
        if not force:
            raise AuditError(f"{cycle.code} {slot.department}: the audit is scheduled for {slot.day.isoformat()}, "
                             f"it has not taken place yet (today is {today.isoformat()}); record its findings on or "
                             "after that day, or with --force if it was brought forward", code="audit.not_yet",
                             department=slot.department, day=slot.day.isoformat(), today=today.isoformat())
        record_change(session, action="warning", entity="audit_slot", entity_id=slot.id, actor=actor,
                      comment=f"findings recorded on {today.isoformat()}, before the scheduled audit day "
                              f"{slot.day.isoformat()} (forced)",
                      after={"cycle": cycle.code, "department": slot.department, "scheduled": slot.day,
                             "recorded_on": today})
    items = {i["code"]: i for i in slot.items}
    for f in findings:
        if f.item_code not in items:
            raise AuditError(f"{slot.department}: item {f.item_code!r} is not on checklist {slot.checklist_code}",
                             code="audit.unknown_item", item=f.item_code, checklist=slot.checklist_code)
        if f.result not in RESULTS:
            raise AuditError(f"{slot.department} {f.item_code}: result {f.result!r} is not one of {', '.join(RESULTS)}",
                             code="not_one_of", field="result", item=f.item_code, value=f.result, options=RESULTS)
    from sqms.standards.models import StandardDocument

    register = set(session.scalars(select(StandardDocument.code)))
    for f in findings:
        if f.standard and f.standard.strip().upper() not in register:
            raise AuditError(f"{slot.department} {f.item_code}: standard {f.standard!r} is not in the register "
                             "(sqms standard list)", code="audit.unknown_standard", item=f.item_code,
                             value=f.standard)
    existing = {f.item_code: f for f in session.scalars(select(AuditFinding).where(AuditFinding.slot_id == slot.id))}
    out = []
    for f in findings:
        row = existing.get(f.item_code)
        cited = items[f.item_code].get("standard")  # the checklist's citation, when the register has it
        values = {"result": f.result, "evidence": (f.evidence or "").strip() or None,
                  "notes": (f.notes or "").strip() or None,
                  "standard_code": (f.standard.strip().upper() if f.standard else
                                    cited if cited in register else None)}
        if row is None:
            row = AuditFinding(cycle_id=cycle.id, slot_id=slot.id, department=slot.department, item_code=f.item_code,
                               area=items[f.item_code]["area"], recorded_by=actor, recorded_at=now, **values)
            session.add(row)
            session.flush()
            record_change(session, action="create", entity="audit_finding", entity_id=row.id, actor=actor,
                          after={"cycle": cycle.code, "department": slot.department, **values, "item": f.item_code})
        else:
            changed = {k: v for k, v in values.items() if getattr(row, k) != v}
            if changed:
                record_change(session, action="update", entity="audit_finding", entity_id=row.id, actor=actor,
                              before={k: getattr(row, k) for k in changed}, after=changed)
                for k, v in changed.items():
                    setattr(row, k, v)
        if row.result in NONCONFORMITIES and row.action_id is None:
            row.action_id = _corrective_action(session, settings, cycle, slot, row, items[row.item_code], now).id
        out.append(row)
    if set(items) <= {f.item_code for f in session.scalars(select(AuditFinding).where(AuditFinding.slot_id == slot.id))}:
        slot.recorded_at = slot.recorded_at or now
    session.flush()
    return out


def _corrective_action(session: Session, settings: Settings, cycle: AuditCycle, slot: AuditSlot,
                       finding: AuditFinding, item: dict, now: datetime) -> Action:
    zh = settings.locale.startswith("zh")
    days = settings.audits.major_due_days if finding.result == "major" else settings.audits.minor_due_days
    label = {"major": ("严重不符合", "major nonconformity"), "minor": ("一般不符合", "minor nonconformity")}[
        finding.result][0 if zh else 1]
    action = open_action(session, settings, NewAction(
        source="audit_finding", source_ref=f"{cycle.code}:{slot.department}:{finding.item_code}", type="corrective",
        department=slot.department, due_on=to_local(now, settings.tz).date() + timedelta(days=days),
        title=(f"内审{cycle.code} {label} {finding.item_code}：{item['question']}" if zh else
               f"Audit {cycle.code} {label} {finding.item_code}: {item['question']}")[:200],
        problem="\n".join(x for x in (" ".join(filter(None, (finding.standard_code, item["clause"]))),
                                       finding.evidence, finding.notes) if x),
        links=[("audit_finding", str(finding.id))]), actor="sqms:internal-audit", now=now)
    action.verifier = slot.auditor  # the auditor verifies the rectification
    return action


def carry_over(session: Session, finding: AuditFinding, reason: str, *, actor: str) -> None:
    """Formally carry an open nonconformity over to the next cycle (the cycle can then close)."""
    if finding.result not in NONCONFORMITIES:
        raise AuditError("only nonconformities are carried over", code="audit.carry_over_nc")
    if not reason.strip():
        raise AuditError("say why it is carried over (--reason)", code="reason_required", move="carry_over")
    finding.carried_over, finding.carry_over_reason = True, reason.strip()
    record_change(session, action="carry-over", entity="audit_finding", entity_id=finding.id, actor=actor,
                  after={"reason": finding.carry_over_reason})


def open_nonconformities(session: Session, cycle: AuditCycle) -> list[AuditFinding]:
    """Nonconformities neither verified nor carried over."""
    rows = session.scalars(select(AuditFinding).where(AuditFinding.cycle_id == cycle.id,
                                                      AuditFinding.result.in_(NONCONFORMITIES),
                                                      AuditFinding.carried_over.is_(False)))
    out = []
    for f in rows:
        action = session.get(Action, f.action_id) if f.action_id else None
        if action is None or action.status != VERIFIED:
            out.append(f)
    return out


def cycle_findings(session: Session, settings: Settings, cycle: AuditCycle, as_of: datetime) -> AuditReport:
    """What `cycle` found and how its nonconformities stand at `as_of`, as the audit report reads them: the
    reading other processes use (the management review's pack)."""
    return build_audit_report(session, settings, cycle, as_of=as_of)


# -- the schedule ------------------------------------------------------------------------------------------


def next_step(session: Session, cycle: AuditCycle, today: date) -> str | None:
    if cycle.status == PLANNED:
        return "notify"
    if cycle.status == NOTIFIED and cycle.first_day and today >= cycle.first_day:
        return "start"
    if cycle.status == IN_PROGRESS and all(s.recorded_at for s in slots_of(session, cycle)):
        return "complete_findings"
    if cycle.status == FINDINGS_RECORDED:
        return "issue_report"
    if cycle.status == REPORT_ISSUED:
        return "follow_up"
    if cycle.status == FOLLOW_UP and not open_nonconformities(session, cycle):
        return "close"
    return None


def issue_report(session: Session, settings: Settings, cycle: AuditCycle, now: datetime) -> int:
    """The audit report, kept and mailed to the general manager and department heads."""
    from sqms.audits.rendering import produce_audit_report

    generated = produce_audit_report(session, settings, cycle)
    cycle.report_id = generated.id
    queued = mail_report(session, settings, [generated], recipients=settings.audits.report_to,
                         template="audit_report", process=PROCESS, obj=f"{cycle.code}:report", period=cycle.code,
                         cycle=cycle, figures=generated.summary)
    LIFECYCLE.apply(session, cycle, "issue_report", at=now, data={"report_id": generated.id})
    return queued


def advance_due(session: Session, settings: Settings, now: datetime | None = None) -> list[tuple[str, str]]:
    """Every open cycle's due steps, in order (the notices before each audit are the reminder engine's:
    `DEADLINES`)."""
    now = now or utcnow()
    today = to_local(now, settings.tz).date()
    done = []
    for cycle in session.scalars(select(AuditCycle).where(AuditCycle.status != CLOSED).order_by(AuditCycle.id)):
        while (step := next_step(session, cycle, today)) is not None:
            if step == "notify":
                notify(session, settings, cycle, now)
            elif step == "issue_report":
                issue_report(session, settings, cycle, now)
            else:
                LIFECYCLE.apply(session, cycle, step, at=now)
                if step == "close":
                    cycle.closed_at = now
            done.append((cycle.code, step))
    session.flush()
    return done


def slots_to_record(session: Session, auditor: str) -> list[tuple[AuditCycle, AuditSlot]]:
    """The slots an auditor still has to record findings for (cycles whose report is not issued)."""
    return [tuple(r) for r in session.execute(
        select(AuditCycle, AuditSlot).join(AuditSlot, AuditSlot.cycle_id == AuditCycle.id)
        .where(AuditSlot.auditor == auditor, AuditSlot.recorded_at.is_(None),
               AuditCycle.status.not_in((REPORT_ISSUED, FOLLOW_UP, CLOSED))).order_by(AuditSlot.day))]


def get(session: Session, code: str) -> AuditCycle:
    cycle = session.scalars(select(AuditCycle).where(AuditCycle.code == code)).first()
    if cycle is None:
        raise AuditError(f"audit cycle {code!r} not found", code="not_found", ref=code)
    return cycle


DEADLINES = Deadlines(PROCESS, {"audit-slot": ("内部审核", "internal audit")}, due_items, mail=reminder_mail)
