"""Complaint rules: deadlines from the working-day calendar and the handling lifecycle.

The regulation's steps: registered (登记) → acknowledged (first contact, 首次联系) →
investigating (调查) → solution proposed (处理方案) → approved (special complaints only,
by the department manager) → resolved (answer to the complainant, 答复) → return visit
done (回访) → closed (结案), and reopen when the customer is not satisfied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session, selectinload

from sqms.actions.models import Action
from sqms.actions.service import NewAction, link, open_action
from sqms.audit_trail import AuditEntry, record_change
from sqms.calendar import UTC, deadline_after, month_bounds, to_local, utcnow
from sqms.codes import label
from sqms.complaints.models import (ACKNOWLEDGED, APPROVED, CLOSED, INVESTIGATING, OPEN_STATES, PROPOSED,
                                    REGISTERED, RESOLVED, STATES, VISITED, Complaint)
from sqms.config import Person, Settings
from sqms.kpi_catalog import CHANNELS, SEVERITIES
from sqms.notify.compose import compose
from sqms.notify.service import enqueue
from sqms.reminders.service import Deadlines, DueItem
from sqms.rule_errors import Problem, RuleError, problem
from sqms.statemachine import StateMachine, Transition

if TYPE_CHECKING:  # pandas only where frames are used (imports, demo): `sqms complaint list` stays light
    import pandas as pd

PROCESS = "complaints"


class ComplaintError(RuleError):
    """Bad input for a complaint operation; the message says what to fix."""


# -- deadlines ------------------------------------------------------------------------


def deadline_for(received_at: datetime, severity: str, settings: Settings) -> datetime:
    """End of the N-th working day after the local day of receipt (N by severity, from config)."""
    return deadline_after(received_at, settings.complaints.deadline_working_days[severity], settings.tz)


def first_contact_due(received_at: datetime, settings: Settings) -> datetime:
    """First contact with the complainant within the configured hours of receipt (clock hours)."""
    return received_at + timedelta(hours=settings.complaints.first_contact_hours)


def deadlines_for(received_utc: pd.Series, severity: pd.Series, settings: Settings) -> pd.Series:
    """Vectorised `deadline_for` over naive-UTC datetimes (one calendar walk per distinct local day and severity).

    NaT where the receipt time or the severity is missing (or the severity unknown).
    """
    import numpy as np
    import pandas as pd

    from sqms.calendar import add_working_days_array

    tz = settings.tz
    local_day = received_utc.dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
    working_days = settings.complaints.deadline_working_days
    n = pd.Series(severity.to_numpy(dtype=object), index=received_utc.index).map(working_days)
    known = (local_day.notna() & n.notna()).to_numpy()
    out = pd.Series(pd.NaT, index=received_utc.index, dtype="datetime64[us]")
    if known.any():
        due_day = add_working_days_array(local_day.to_numpy()[known].astype("datetime64[D]"),
                                         n.to_numpy()[known].astype(np.int64))
        # the end (23:59:59 local) of the due day, in UTC
        local_end = pd.Series(due_day.astype("datetime64[us]")) + pd.Timedelta(hours=23, minutes=59, seconds=59)
        utc_end = local_end.dt.tz_localize(tz, ambiguous="raise", nonexistent="shift_forward").dt.tz_convert("UTC")
        out[known] = utc_end.dt.tz_localize(None).astype("datetime64[us]").to_numpy()
    return out


# -- the settlement figures, as the KPIs define them (the complaint report and the review pack read them) --


def share_pct(part: float, whole: float) -> float | None:
    return 100.0 * float(part) / float(whole) if whole else None


def settlement(complaints: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, Any]:
    """办结率 and 按期办结率 of a set of complaints, exactly as the KPIs define them (DESIGN.md §4):
    closure counts every complaint with an answer; on time counts, among those settled or past their
    deadline at `as_of`, the ones settled by the deadline (one not yet due is not judged yet)."""
    resolved = complaints["resolved_at"].notna()
    settled_by = resolved & (complaints["resolved_at"] <= as_of)
    due = settled_by | (complaints["deadline_at"] < as_of)
    on_time = settled_by & (complaints["resolved_at"] <= complaints["deadline_at"])
    return {
        "received": len(complaints), "resolved": int(resolved.sum()), "closure_pct": share_pct(resolved.sum(),
                                                                                           len(complaints)),
        "due": int(due.sum()), "on_time": int(on_time.sum()), "on_time_pct": share_pct(on_time.sum(), due.sum()),
    }


# -- the lifecycle --------------------------------------------------------------------


def _needs(attr: str, code: str, what: str):
    return lambda c: None if getattr(c, attr) else problem(code, f"{what} is required")


def _special_only(c: Complaint) -> Problem | None:
    if c.severity == "special":
        return None
    return problem("complaint.special_only", "only special complaints need approval")


def _may_resolve(c: Complaint) -> Problem | None:
    if c.severity == "special" and c.status != APPROVED:
        return problem("complaint.approval_first", "a special complaint needs the department manager's approval first")
    if c.answer:
        return None
    return problem("complaint.needs.answer", "the answer to the complainant (--answer) is required")


LIFECYCLE = StateMachine(
    entity="complaint",
    states=STATES,
    initial=REGISTERED,
    id_attr="complaint_id",
    transitions=(
        Transition("acknowledge", (REGISTERED,), ACKNOWLEDGED),
        Transition("investigate", (ACKNOWLEDGED,), INVESTIGATING),
        Transition("propose", (INVESTIGATING,), PROPOSED, guard=_needs("solution", "complaint.needs.solution",
                                                                   "the solution (--solution)")),
        Transition("approve", (PROPOSED,), APPROVED, guard=_special_only),
        # top management (or the department manager) sends a special complaint's solution back, with a reason
        Transition("send_back", (PROPOSED,), INVESTIGATING, guard=_special_only),
        Transition("resolve", (PROPOSED, APPROVED), RESOLVED, guard=_may_resolve),
        Transition("return_visit", (RESOLVED,), VISITED,
                   guard=_needs("feedback_score", "complaint.needs.feedback_score",
                                       "the return-visit score (--score 1-5)")),
        Transition("close", (VISITED,), CLOSED),
        Transition("reopen", (RESOLVED, VISITED, CLOSED), INVESTIGATING),
    ),
)
ACTIONS = tuple(t.name for t in LIFECYCLE.transitions)


def get(session: Session, complaint_id: str) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise ComplaintError(f"complaint {complaint_id!r} not found", code="not_found", ref=complaint_id)
    return complaint


def owner_of(complaint: Complaint, settings: Settings) -> str | None:
    """Who handles it: the named owner, else the manager of its department."""
    if complaint.owner:
        return complaint.owner
    manager = settings.department_manager(complaint.department)
    return manager.email if manager else None


def _person(settings: Settings, email: str | None) -> Person | None:
    email = (email or "").strip().lower()
    return next((p for p in settings.people if p.email == email), None)


def register(session: Session, settings: Settings, *, received_at: datetime, department: str, channel: str,
             severity: str, category: str, customer_id: str | None = None, description: str | None = None,
             owner: str | None = None, complaint_id: str | None = None, actor: str | None = None) -> Complaint:
    """Register a complaint received on any channel; a special one is reported to the general manager at once."""
    problems = []
    if department not in [d.code for d in settings.departments]:
        problems.append(problem("unknown_department", f"department: unknown department {department!r}",
                                field="department", value=department))
    if channel not in CHANNELS:
        problems.append(problem("not_one_of", f"channel: {channel!r} is not one of {', '.join(CHANNELS)}",
                                field="channel", value=channel, options=CHANNELS))
    if severity not in SEVERITIES:
        problems.append(problem("not_one_of", f"severity: {severity!r} is not one of {', '.join(SEVERITIES)}",
                                field="severity", value=severity, options=SEVERITIES))
    if not category or not category.strip():
        problems.append(problem("required", "category: is required", field="category"))
    if owner and _person(settings, owner) is None:
        problems.append(problem("unknown_person", f"owner: {owner!r} is not a configured person", field="owner",
                                value=owner))
    if received_at.tzinfo is None:
        problems.append(problem("needs_timezone", "received_at: needs a timezone", field="received_at"))
    elif received_at > utcnow() + timedelta(minutes=5):
        problems.append(problem("in_future", "received_at: lies in the future", field="received_at"))
    if problems:
        raise ComplaintError(*problems)
    complaint_id = complaint_id or _next_id(session, settings, received_at)
    if session.get(Complaint, complaint_id) is not None:
        raise ComplaintError(f"complaint {complaint_id!r} exists already", code="duplicate", ref=complaint_id)
    complaint = Complaint(
        complaint_id=complaint_id, received_at=received_at, department=department, channel=channel,
        severity=severity, category=category.strip(), customer_id=customer_id or None,
        description=description or None, owner=owner.strip().lower() if owner else None,
        deadline_at=deadline_for(received_at, severity, settings),
        first_contact_due_at=first_contact_due(received_at, settings), status=REGISTERED, reopen_count=0,
        updated_at=utcnow(),
    )
    session.add(complaint)
    session.flush()
    record_change(session, action="create", entity="complaint", entity_id=complaint_id, actor=actor,
                  after={k: getattr(complaint, k) for k in ("received_at", "department", "channel", "severity",
                                                             "category", "customer_id", "deadline_at", "owner")})
    if severity == "special":
        queue_special_notice(session, settings, complaint)
    return complaint


def _next_id(session: Session, settings: Settings, received_at: datetime) -> str:
    prefix = f"CP-{to_local(received_at, settings.tz):%Y%m%d}-"
    taken = session.scalar(select(func.count()).select_from(Complaint)
                           .where(Complaint.complaint_id.like(prefix + "%")))
    return f"{prefix}{taken + 1:03d}"


@dataclass
class Step:
    """What a person records with a step of the lifecycle."""

    solution: str | None = None
    answer: str | None = None
    approver: str | None = None  # email of the department manager (or general manager) approving
    score: int | None = None
    feedback_comment: str | None = None
    feedback_channel: str | None = None


def advance(session: Session, settings: Settings, complaint: Complaint, action: str, step: Step | None = None, *,
            actor: str | None = None, comment: str | None = None, at: datetime | None = None) -> list[str]:
    """Move a complaint one step; returns the transitions made (a low return-visit score adds `reopen`)."""
    step = step or Step()
    at = at or utcnow()
    if action not in ACTIONS:
        raise ComplaintError(f"unknown action {action!r} (actions: {', '.join(ACTIONS)})", code="transition.unknown",
                             entity="complaint", ident=complaint.complaint_id, move=action)
    LIFECYCLE.check(complaint, action, guard=False)  # the state first: nothing is recorded on a wrong move
    data: dict[str, Any] = {}
    if action == "acknowledge":
        complaint.responded_at = complaint.responded_at or at
        data["responded_at"] = complaint.responded_at
    elif action == "propose":
        complaint.solution = (step.solution or complaint.solution or "").strip() or None
        data["solution"] = complaint.solution
    elif action in ("approve", "send_back"):
        LIFECYCLE.check(complaint, action)  # special complaints only, before asking who approves
        approver = _person(settings, step.approver)
        if approver is None:
            raise ComplaintError(f"{action}: name the approving manager with --by <email> (a configured person)",
                                 code="complaint.approver_missing")
        allowed = approver in settings.people_with_role("department_manager", complaint.department) \
            or "general_manager" in approver.roles
        if not allowed:
            raise ComplaintError(f"{action}: {approver.email} is not the manager of {complaint.department} "
                                 "nor the general manager", code="complaint.approver_not_allowed",
                                 person=approver.email, department=complaint.department)
        if action == "approve":
            complaint.approved_by = approver.email
            data["approved_by"] = approver.email
        else:
            if not (comment or "").strip():
                raise ComplaintError("send_back: give the reason (--comment)", code="reason_required", move=action)
            data["sent_back_by"] = approver.email
    elif action == "resolve":
        complaint.answer = (step.answer or complaint.answer or "").strip() or None
        data["answer"] = complaint.answer
    elif action == "return_visit":
        if step.score is None or not 1 <= step.score <= 5:
            raise ComplaintError("return_visit: the score must be 1 to 5 (--score)", code="complaint.score_range")
        complaint.feedback_score = step.score
        complaint.feedback_comment = step.feedback_comment or None
        complaint.feedback_channel = step.feedback_channel or "phone"
        complaint.return_visit_at = at
        data.update(score=step.score, channel=complaint.feedback_channel)
    made = [action]
    LIFECYCLE.apply(session, complaint, action, actor=actor, comment=comment, at=at, data=data)
    if action == "resolve":
        complaint.resolved_at = at
    elif action == "close":
        complaint.closed_at = at
    elif action == "reopen":
        _reopen(complaint)
    if action == "return_visit" and step.score <= settings.complaints.reopen_at_or_below_score:
        LIFECYCLE.apply(session, complaint, "reopen", actor=actor, at=at,
                        comment=f"return-visit score {step.score} ≤ {settings.complaints.reopen_at_or_below_score}",
                        data={"score": step.score})
        _reopen(complaint)
        made.append("reopen")
    complaint.updated_at = utcnow()
    session.flush()
    if "reopen" in made:
        queue_reopen_notice(session, settings, complaint)
    return made


def _reopen(complaint: Complaint) -> None:
    # not settled any more: the KPIs must not count it as resolved; the audit log keeps the old answer
    complaint.resolved_at = None
    complaint.closed_at = None
    complaint.reopen_count = (complaint.reopen_count or 0) + 1


def listing(session: Session, *, status: str | None = None, department: str | None = None,
            open_only: bool = False, limit: int = 200) -> list[Complaint]:
    stmt = select(Complaint).order_by(Complaint.received_at.desc()).limit(limit)
    if status:
        stmt = stmt.where(Complaint.status == status)
    if open_only:
        stmt = stmt.where(Complaint.status.in_(OPEN_STATES))
    if department:
        stmt = stmt.where(Complaint.department == department)
    return list(session.scalars(stmt))


# -- after an import -------------------------------------------------------------------


def advance_after_import(session: Session, settings: Settings, run: Any, result: Any) -> int:
    """Complaints whose imported timestamps are ahead of their state move on (audited); special ones
    still open are reported to the general manager when they are recent, imported history in one
    summary mail at most (`result.notices` says what was queued). Returns how many moved."""
    from sqms.ingest import insert_rows  # the bulk path (this module is imported by the CLI: no pandas there)

    actor = run.actor
    now = utcnow()
    moved = 0
    steps = ((RESOLVED, Complaint.resolved_at.is_not(None) & Complaint.status.in_(OPEN_STATES)),
             (ACKNOWLEDGED, Complaint.responded_at.is_not(None) & (Complaint.status == REGISTERED)))
    for target, condition in steps:
        rows = session.connection().execute(select(Complaint.complaint_id, Complaint.status).where(condition)).all()
        if not rows:
            continue
        session.execute(update(Complaint).where(condition).values(status=target, updated_at=now)
                        .execution_options(synchronize_session=False))
        insert_rows(session.connection(), AuditEntry.__table__, [
            {"at": now, "actor": actor, "action": f"transition:{target}", "entity": "complaint",
             "entity_id": ident, "before": {"status": status}, "after": {"status": target},
             "comment": "import: the file's timestamps"} for ident, status in rows])
        moved += len(rows)
    missing_due = Complaint.first_contact_due_at.is_(None)
    hours = settings.complaints.first_contact_hours
    for ident, received in session.execute(select(Complaint.complaint_id, Complaint.received_at)
                                           .where(missing_due, Complaint.status == REGISTERED)).all():
        session.execute(update(Complaint).where(Complaint.complaint_id == ident)
                        .values(first_contact_due_at=received + timedelta(hours=hours)))
    queued = queue_special_notices(session, settings, now)
    if queued:
        result.notices.append(f"{queued} special complaint notice(s) queued for the general manager")
    history = queue_special_history_summary(session, settings, since=run.started_at, source=run.sha256, now=now)
    if history:
        result.notices.append(f"{history} open special complaint(s) from before the last "
                              f"{settings.complaints.special_notice_within_days} days: one summary mail queued, "
                              "no notice per complaint")
    return moved


# -- notices ------------------------------------------------------------------------------


def overdue_by(complaint: Complaint, settings: Settings, now: datetime | None = None) -> str | None:
    """How late an unsettled complaint is at `now`, in words of the report language (None: not late).

    In full working days past the deadline's day, as the reminder digests count; under one full
    working day, in hours since the deadline."""
    from sqms.calendar import late_working_days

    now = now or utcnow()
    deadline = complaint.deadline_at
    if deadline is None or complaint.resolved_at is not None:
        return None
    deadline = deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)
    if now <= deadline:
        return None
    zh = settings.locale.startswith("zh")
    days = late_working_days(to_local(deadline, settings.tz).date(), to_local(now, settings.tz).date())
    if days:
        return f"已超期 {days} 个工作日" if zh else f"overdue by {days} working day{'s' if days > 1 else ''}"
    hours = max(1, int((now - deadline).total_seconds() // 3600))
    return f"已超期 {hours} 小时" if zh else f"overdue by {hours} hour{'s' if hours > 1 else ''}"


def queue_special_notice(session: Session, settings: Settings, complaint: Complaint,
                         now: datetime | None = None) -> int:
    """重大投诉立即上报: one mail per recipient (general manager by default), keyed so never twice;
    a complaint already past its deadline says so, and by how much."""
    queued = 0
    overdue = overdue_by(complaint, settings, now)
    for recipient in settings.resolve_recipients(settings.complaints.notify_special_to):
        email = compose(settings, "complaint_special", recipient, complaint=complaint,
                        department=settings.department(complaint.department).label(settings.locale),
                        received_local=to_local(complaint.received_at, settings.tz),
                        deadline_local=to_local(complaint.deadline_at, settings.tz),
                        owner=owner_of(complaint, settings), overdue=overdue)
        _, changed = enqueue(session, process=PROCESS, obj=f"special:{complaint.complaint_id}", period="notice",
                             email=email)
        queued += int(changed)
    return queued


def queue_reopen_notice(session: Session, settings: Settings, complaint: Complaint) -> int:
    """A reopened complaint is news to its handler (the named owner, else the department manager):
    one mail per reopening, keyed by the reopen count, so a rerun never sends it twice."""
    handler = owner_of(complaint, settings)
    if handler is None:
        return 0
    recipient = _person(settings, handler) or handler
    email = compose(settings, "complaint_reopened", recipient, complaint=complaint,
                    department=settings.department(complaint.department).label(settings.locale),
                    deadline_local=to_local(complaint.deadline_at, settings.tz))
    row, changed = enqueue(session, process=PROCESS, obj=f"reopened:{complaint.complaint_id}:{complaint.reopen_count}",
                           period="notice", email=email)
    return int(changed)


def _news_since(settings: Settings, now: datetime) -> datetime:
    """Complaints received before this are history: they page nobody one by one."""
    return now - timedelta(days=settings.complaints.special_notice_within_days)


def queue_special_notices(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Every recent special complaint not yet settled gets its notice (a no-op for those already mailed).

    Only what is new and actionable: received within `complaints.special_notice_within_days`. Older
    ones came with imported history; `queue_special_history_summary` tells of them once."""
    now = now or utcnow()
    open_special = session.scalars(select(Complaint).where(
        Complaint.severity == "special", Complaint.status.in_(OPEN_STATES),
        Complaint.received_at >= _news_since(settings, now)))
    return sum(queue_special_notice(session, settings, c) for c in open_special)


def queue_special_history_summary(session: Session, settings: Settings, *, since: datetime, source: str,
                                  now: datetime | None = None, listed: int = 20) -> int:
    """One mail per recipient about the open special complaints an import brought from the past
    (written by it: updated since `since`; received before the notice window). Keyed by the file
    (`source`), so the same file never tells twice. Returns how many complaints it names."""
    from sqms.notify.models import OutboxMessage

    now = now or utcnow()
    rows = list(session.scalars(select(Complaint).where(
        Complaint.severity == "special", Complaint.status.in_(OPEN_STATES),
        Complaint.received_at < _news_since(settings, now), Complaint.updated_at >= since)
        .order_by(Complaint.received_at)))
    noticed = set(session.scalars(select(OutboxMessage.object).where(
        OutboxMessage.process == PROCESS, OutboxMessage.object.in_([f"special:{c.complaint_id}" for c in rows]))))
    rows = [c for c in rows if f"special:{c.complaint_id}" not in noticed]
    if not rows:
        return 0
    shown = [{"complaint": c, "received_local": to_local(c.received_at, settings.tz),
              "department": settings.department(c.department).label(settings.locale)} for c in rows[:listed]]
    for recipient in settings.resolve_recipients(settings.complaints.notify_special_to):
        email = compose(settings, "complaint_special_history", recipient, total=len(rows), shown=shown,
                        first_local=to_local(rows[0].received_at, settings.tz),
                        last_local=to_local(rows[-1].received_at, settings.tz))
        enqueue(session, process=PROCESS, obj=f"special-history:{source[:16]}", period="import", email=email)
    return len(rows)


# -- repeated complaints become a corrective action -------------------------------------


def open_repeat_category_actions(session: Session, settings: Settings, period: str, *,
                                 now: datetime | None = None) -> list[Action]:
    """A department with N or more complaints of one category in a month gets one corrective action,
    linked to those complaints (later ones of the month are linked as they come). Returns new actions."""
    threshold = settings.complaints.repeat_category_threshold
    start, end = month_bounds(period, settings.tz)
    in_month = (Complaint.received_at >= start) & (Complaint.received_at < end)
    groups = session.execute(
        select(Complaint.department, Complaint.category, func.count())
        .where(in_month).group_by(Complaint.department, Complaint.category)
        .having(func.count() >= threshold)).all()
    opened = []
    for department, category, count in groups:
        ids = list(session.scalars(select(Complaint.complaint_id).where(
            in_month, Complaint.department == department, Complaint.category == category)
            .order_by(Complaint.received_at)))
        ref = f"repeat:{department}:{period}:{category}"
        existing = session.scalars(select(Action).where(Action.source == "complaint", Action.source_ref == ref)
                                   .options(selectinload(Action.links))).first()
        if existing is not None:
            link(session, existing, [("complaint", i) for i in ids])
            continue
        dept = settings.department(department)
        opened.append(open_action(session, settings, NewAction(
            source="complaint", source_ref=ref, type="corrective", department=department,
            title=f"{dept.name}{period} “{category}”类投诉 {count} 件：分析原因并纠正"[:200]
            if settings.locale.startswith("zh") else
            f"{dept.label('en')} {period}: {count} complaints about “{category}” — find the cause and correct it"[:200],
            problem=(f"{period} 共收到 {count} 件同类投诉（{category}），达到 {threshold} 件的纠正措施阈值。"
                     if settings.locale.startswith("zh") else
                     f"{count} complaints of category “{category}” in {period} (threshold {threshold})."),
            links=[("complaint", i) for i in ids]), actor="sqms:repeat-complaints", now=now))
    return opened


# -- what the reminder engine chases -------------------------------------------------------


def due_items(session: Session, settings: Settings, now: datetime) -> list[DueItem]:
    """Open complaints: the first contact while none was made, and the settle-by deadline."""
    items = []
    rows = session.scalars(select(Complaint).where(Complaint.status.in_(OPEN_STATES)))
    for c in rows:
        severity = label(settings, "severity", c.severity, settings.locale)
        title = f"{c.category}（{severity}）" if settings.locale.startswith("zh") else f"{c.category} ({severity})"
        owner = owner_of(c, settings)
        if c.responded_at is None:
            items.append(DueItem("complaint-contact", c.complaint_id, title, owner, c.department,
                                 c.first_contact_due_at or first_contact_due(c.received_at, settings)))
        items.append(DueItem("complaint", c.complaint_id, title, owner, c.department, c.deadline_at))
    return items


DEADLINES = Deadlines(PROCESS, {
    "complaint-contact": ("投诉首次联系", "complaint: first contact"),
    "complaint": ("投诉办结", "complaint: to settle"),
}, due_items)


def open_by_owner(session: Session, settings: Settings, today_start: datetime) -> list[tuple]:
    """Open complaints per handler, in one aggregate query (for the dashboard):
    (owner, open, past the settle-by day, more than 7 days past it, earliest settle-by)."""
    late = Complaint.deadline_at < today_start
    very_late = Complaint.deadline_at < today_start - timedelta(days=7)
    rows = session.execute(
        select(Complaint.owner, Complaint.department, func.count(),
               func.sum(case((late, 1), else_=0)), func.sum(case((very_late, 1), else_=0)),
               func.min(Complaint.deadline_at))
        .where(Complaint.status.in_(OPEN_STATES)).group_by(Complaint.owner, Complaint.department)).all()
    out = []
    for owner, department, n, overdue, over_7, oldest in rows:
        manager = settings.department_manager(department) if not owner else None
        out.append((owner or (manager.email if manager else None), n, overdue or 0, over_7 or 0, oldest))
    return out


# -- the return visit (回访) by mail: a single-use feedback link to the customer ----------------

FEEDBACK = "complaint-feedback"


def feedback_link(settings: Settings, token: str) -> str:
    return f"{settings.web.base_url}/feedback/{token}"


def queue_feedback_request(session: Session, settings: Settings, complaint: Complaint,
                           now: datetime | None = None) -> bool:
    """Ask the customer of a resolved complaint how it went (once per complaint; needs a known,
    not opted-out email). Returns whether a mail was queued."""
    from sqms.org.models import Customer
    from sqms.tokens import AccessToken, issue

    if complaint.status != RESOLVED or not complaint.customer_id:
        return False
    customer = session.get(Customer, complaint.customer_id)
    if customer is None or not customer.email or customer.opted_out:
        return False
    asked = session.scalar(select(func.count()).select_from(AccessToken).where(
        AccessToken.purpose == FEEDBACK, AccessToken.subject_id == complaint.complaint_id))
    if asked:
        return False
    issued = issue(session, purpose=FEEDBACK, subject_id=complaint.complaint_id, email=customer.email,
                   valid_days=settings.complaints.feedback_link_days, now=now)
    email = compose(settings, "complaint_feedback", customer.email, recipient_name=customer.name or "",
                    complaint=complaint, link=feedback_link(settings, issued.token),
                    valid_until=to_local(issued.row.expires_at, settings.tz),
                    received_local=to_local(complaint.received_at, settings.tz))
    enqueue(session, process=PROCESS, obj=f"feedback:{complaint.complaint_id}", period="return-visit", email=email)
    return True


def queue_feedback_requests(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Every complaint resolved within `complaints.feedback_within_days` not yet asked (never the
    history of an import)."""
    now = now or utcnow()
    since = now - timedelta(days=settings.complaints.feedback_within_days)
    recent = session.scalars(select(Complaint).where(Complaint.status == RESOLVED, Complaint.resolved_at >= since,
                                                     Complaint.customer_id.is_not(None)))
    return sum(queue_feedback_request(session, settings, c, now) for c in recent)


def record_web_feedback(session: Session, settings: Settings, token: str, *, score: int, comment: str | None,
                        now: datetime | None = None) -> tuple[Complaint, list[str]]:
    """The customer's answer through the link: the return visit of a resolved complaint (a low
    score reopens it). The token is used up in the same transaction."""
    from sqms.tokens import redeem

    row = redeem(session, token, FEEDBACK, now)
    complaint = get(session, row.subject_id)
    step = Step(score=score, feedback_comment=(comment or "").strip()[:2000] or None, feedback_channel="web")
    if complaint.status == RESOLVED:
        made = advance(session, settings, complaint, "return_visit", step, actor=f"customer:{row.email}",
                       comment="feedback form", at=now)
    else:  # visited by phone meanwhile, or reopened: keep what the customer said, move nothing
        record_change(session, action="feedback", entity="complaint", entity_id=complaint.complaint_id,
                      actor=f"customer:{row.email}", after={"score": score, "comment": step.feedback_comment},
                      comment=f"feedback form while {complaint.status}")
        made = []
    return complaint, made
