"""Corrective and preventive actions (CAPA, 纠正和预防措施): open → in progress → done → verified.

Any process opens its problems here (complaints, audit findings, review decisions,
improvement cycles, KPI misses); the reminder engine chases their owners. A failed
verification puts the action back in progress, with the verifier's reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from sqms.actions.models import (
    DONE,
    IN_PROGRESS,
    OPEN,
    SOURCES,
    STATES,
    TYPES,
    VERIFIED,
    Action,
    ActionEvidence,
    ActionLink,
)
from sqms import evidence as evidence_files
from sqms.audit_trail import record_change
from sqms.calendar import END_OF_DAY, add_working_days, to_local, utcnow
from sqms.config import Settings
from sqms.reminders.service import Deadlines, DueItem
from sqms.rule_errors import Problem, RuleError, problem
from sqms.statemachine import StateMachine, Transition

# root cause first: a corrective or preventive action is not done until someone said why it happened
_NEEDS_ROOT_CAUSE = ("corrective", "preventive")


class ActionError(RuleError):
    """Bad input for an action; the message says what to fix."""


def _root_cause_known(action: Action) -> Problem | None:
    if action.type in _NEEDS_ROOT_CAUSE and not (action.root_cause or "").strip():
        return problem("action.needs.root_cause",
                       "the root cause (--root-cause, after the 5 whys) is required before a corrective action is done")
    return None


def _verifier_named(action: Action) -> Problem | None:
    return None if action.verifier else problem("action.needs.verifier", "the verifier (--by) is required")


LIFECYCLE = StateMachine(
    entity="action",
    states=STATES,
    initial=OPEN,
    transitions=(
        Transition("start", (OPEN,), IN_PROGRESS),
        Transition("complete", (OPEN, IN_PROGRESS), DONE, guard=_root_cause_known),
        Transition("verify", (DONE,), VERIFIED, guard=_verifier_named),
        Transition("reject", (DONE,), IN_PROGRESS, guard=_verifier_named),  # not effective: back to work
    ),
)
OPEN_STATES = (OPEN, IN_PROGRESS)


@dataclass
class NewAction:
    source: str
    type: str
    title: str
    department: str
    problem: str = ""
    owner: str | None = None  # default: the department manager
    due_on: date | None = None  # default: by type, in working days from today
    source_ref: str | None = None
    links: list[tuple[str, str]] = field(default_factory=list)  # (entity, id)


def _email_of(settings: Settings, who: str | None, what: str) -> str:
    email = (who or "").strip().lower()
    if not any(p.email == email for p in settings.people):
        raise ActionError(f"{what}: {who!r} is not a configured person", code="unknown_person",
                          field=what.split(" ")[0], value=who or "")
    return email


def default_due(settings: Settings, type_: str, today: date) -> date:
    return add_working_days(today, settings.actions.due_working_days[type_])


def open_action(session: Session, settings: Settings, new: NewAction, *, actor: str | None = None,
                now: datetime | None = None, notify: bool = True) -> Action:
    """Open an action (audited); its owner is the department manager unless named, and is mailed at
    once (assignment is news; `notify=False` for a caller that tells the owners another way)."""
    now = now or utcnow()
    problems = []
    if new.source not in SOURCES:
        problems.append(problem("not_one_of", f"source: {new.source!r} is not one of {', '.join(SOURCES)}",
                                field="source", value=new.source, options=SOURCES))
    if new.type not in TYPES:
        problems.append(problem("not_one_of", f"type: {new.type!r} is not one of {', '.join(TYPES)}",
                                field="type", value=new.type, options=TYPES))
    if new.department not in [d.code for d in settings.departments]:
        problems.append(problem("unknown_department", f"department: unknown department {new.department!r}",
                                field="department", value=new.department))
    if not new.title.strip():
        problems.append(problem("required", "title: is required", field="title"))
    if problems:
        raise ActionError(*problems)
    if new.owner:
        owner = _email_of(settings, new.owner, "owner")
    else:
        manager = settings.department_manager(new.department)
        if manager is None:
            raise ActionError(f"owner: {new.department} has no department manager configured; name an owner",
                              code="action.no_manager", department=new.department)
        owner = manager.email
    today = to_local(now, settings.tz).date()
    action = Action(
        source=new.source, source_ref=new.source_ref, type=new.type, title=new.title.strip()[:200],
        problem=new.problem, department=new.department, owner=owner,
        due_on=new.due_on or default_due(settings, new.type, today), status=OPEN, whys=[], reopen_count=0,
        created_at=now, created_by=actor or session.info.get("actor", "unknown"), updated_at=now,
    )
    action.links = [ActionLink(entity=e, entity_id=str(i)) for e, i in dict.fromkeys(new.links)]
    session.add(action)
    session.flush()
    record_change(session, action="create", entity="action", entity_id=action.id, actor=actor, after={
        "source": action.source, "source_ref": action.source_ref, "type": action.type, "title": action.title,
        "department": action.department, "owner": owner, "due_on": action.due_on,
        "links": [f"{e}:{i}" for e, i in dict.fromkeys(new.links)]})
    if notify:
        queue_assignment_notice(session, settings, action)
    return action


_TYPE_LABELS = {"immediate": ("立即措施", "immediate action"), "corrective": ("纠正措施", "corrective action"),
                "preventive": ("预防措施", "preventive action"), "improvement": ("改进措施", "improvement action")}
_SOURCE_LABELS = {"complaint": ("投诉", "complaints"), "audit_finding": ("内审发现", "internal audit finding"),
                  "review_decision": ("管理评审决定", "management review decision"),
                  "improvement_cycle": ("PDCA 改进循环", "PDCA improvement cycle"),
                  "kpi_miss": ("指标未达标", "KPI miss"), "survey": ("满意度调查", "satisfaction survey"),
                  "quality_meeting": ("月度质量分析会", "quality-analysis meeting"),
                  "suggestion": ("合理化建议", "suggestion"),
                  "manual": ("手工登记", "entered by hand"),
                  "inspection": ("服务检查", "service inspection")}


_SOURCE_PROCESSES = {"complaint": "complaints", "audit_finding": "internal-audit",
                     "review_decision": "management-review", "improvement_cycle": "improvement",
                     "kpi_miss": "improvement", "survey": "surveys", "quality_meeting": "quality-meeting",
                     "suggestion": "suggestions",
                     "inspection": "inspections"}


def queue_assignment_notice(session: Session, settings: Settings, action: Action) -> bool:
    """Tell the owner at once that the action is theirs: one mail per (action, owner), keyed in the
    outbox, so a rerun or a retry never sends it twice and a new owner gets their own. Returns
    whether a mail was queued or refreshed."""
    from sqms.notify.compose import compose
    from sqms.notify.service import enqueue

    zh = settings.locale.startswith("zh")
    owner = next((p for p in settings.people if p.email == action.owner), action.owner)
    department = next((d.label(settings.locale) for d in settings.departments if d.code == action.department),
                      action.department)
    pick = 0 if zh else 1
    email = compose(settings, "action_assigned", owner, action=action, department=department,
                    type_label=_TYPE_LABELS.get(action.type, (action.type,) * 2)[pick],
                    source_label=_SOURCE_LABELS.get(action.source, (action.source,) * 2)[pick])
    # under the process that opened it, so that the run which opened the action also delivers the mail
    _, changed = enqueue(session, process=_SOURCE_PROCESSES.get(action.source, "actions"),
                         obj=f"assigned:{action.ref}", period="assignment", email=email)
    return changed


def get(session: Session, action_id: int | str) -> Action:
    ident = str(action_id).upper().removeprefix("CAPA-")
    if not ident.isdigit():
        raise ActionError(f"{action_id!r} is not an action number (e.g. 12 or CAPA-00012)", code="not_found",
                          ref=str(action_id))
    action = session.get(Action, int(ident), options=[selectinload(Action.links)])
    if action is None:
        raise ActionError(f"action {action_id} not found", code="not_found", ref=str(action_id))
    return action


@dataclass
class Update:
    """What the owner records: analysis and measures (any of them)."""

    whys: list[str] | None = None
    root_cause: str | None = None
    measures: str | None = None
    owner: str | None = None
    due_on: date | None = None


def record(session: Session, settings: Settings, action: Action, update: Update, *, actor: str | None = None,
           comment: str | None = None) -> dict:
    """Record analysis, measures, a new owner or due date; returns what changed (audited)."""
    if action.status == VERIFIED:
        raise ActionError(f"{action.ref} is verified and closed", code="action.closed", ref=action.ref)
    changes = {}
    if update.whys is not None:
        whys = [w.strip() for w in update.whys if w and w.strip()]
        if len(whys) > 5:
            raise ActionError("whys: at most five", code="action.whys")
        changes["whys"] = whys
    if update.root_cause is not None:
        changes["root_cause"] = update.root_cause.strip() or None
    if update.measures is not None:
        changes["measures"] = update.measures.strip() or None
    if update.owner is not None:
        changes["owner"] = _email_of(settings, update.owner, "owner")
    if update.due_on is not None:
        changes["due_on"] = update.due_on
    before = {k: getattr(action, k) for k in changes}
    changed = {k: v for k, v in changes.items() if before[k] != v}
    if changed:
        for k, v in changed.items():
            setattr(action, k, v)
        action.updated_at = utcnow()
        record_change(session, action="update", entity="action", entity_id=action.id, actor=actor, comment=comment,
                      before={k: before[k] for k in changed}, after=changed)
        session.flush()
        if "owner" in changed:  # a new owner: the assignment is news to them
            queue_assignment_notice(session, settings, action)
    return changed


def advance(session: Session, settings: Settings, action: Action, move: str, *, by: str | None = None,
            actor: str | None = None, comment: str | None = None, at: datetime | None = None) -> Action:
    """start | complete | verify | reject. Verification names the verifier (never the owner)."""
    at = at or utcnow()
    LIFECYCLE.check(action, move, guard=False)
    if move in ("verify", "reject"):
        verifier = _email_of(settings, by, "verifier (--by)")
        if action.verifier and verifier != action.verifier:
            raise ActionError(f"{action.ref}: its verifier is {action.verifier} (e.g. the auditor who found it)",
                              code="action.other_verifier", ref=action.ref, person=action.verifier)
        if verifier == action.owner:
            raise ActionError(f"{action.ref}: the owner cannot verify their own action; name another verifier",
                              code="action.own_verification", ref=action.ref)
        action.verifier = verifier
        if move == "reject" and not (comment or "").strip():
            raise ActionError("reject: say why the action was not effective (--comment)", code="reason_required",
                              move="reject")
    LIFECYCLE.apply(session, action, move, actor=actor, comment=comment, at=at,
                    data={"verifier": action.verifier} if move in ("verify", "reject") else None)
    if move == "complete":
        action.done_at = at
        action.verification_due_on = to_local(at, settings.tz).date() + timedelta(
            days=settings.actions.verification_days)
    elif move == "verify":
        action.verified_at = at
        action.verification_comment = comment
    elif move == "reject":
        action.verification_comment = comment
        action.reopen_count += 1
        action.done_at = None
        action.verification_due_on = None
    action.updated_at = utcnow()
    session.flush()
    return action


def note(session: Session, action: Action, text: str, *, actor: str | None = None) -> None:
    """A progress note: kept in the action's history (the audit trail)."""
    text = (text or "").strip()
    if not text:
        raise ActionError("note: write what happened", code="action.note_empty")
    if action.status == VERIFIED:
        raise ActionError(f"{action.ref} is verified and closed", code="action.closed", ref=action.ref)
    record_change(session, action="note", entity="action", entity_id=action.id, actor=actor, comment=text[:4000])
    action.updated_at = utcnow()
    session.flush()


# evidence files: the shared mechanism of `sqms.evidence` (type, size and content checked, kept by checksum)
EVIDENCE_TYPES = evidence_files.EVIDENCE_TYPES
evidence_path = evidence_files.evidence_path


def add_evidence(session: Session, settings: Settings, action: Action, *, filename: str, data: bytes,
                 actor: str) -> ActionEvidence:
    """Keep an evidence file (size- and type-checked) under `web.evidence_dir`, named by its SHA-256."""
    if action.status == VERIFIED:
        raise ActionError(f"{action.ref} is verified and closed", code="action.closed", ref=action.ref)
    try:
        stored = evidence_files.store(settings, filename, data)
    except evidence_files.EvidenceError as exc:
        raise ActionError(*exc.problems) from None
    row = ActionEvidence(action_id=action.id, filename=stored.filename, sha256=stored.sha256, size=stored.size,
                         content_type=stored.content_type, uploaded_by=actor, uploaded_at=utcnow())
    session.add(row)
    session.flush()
    record_change(session, action="evidence", entity="action", entity_id=action.id, actor=actor,
                  after={"file": stored.filename, "sha256": stored.sha256, "size": stored.size})
    return row


def evidence_of(session: Session, action: Action) -> list[ActionEvidence]:
    return list(session.scalars(select(ActionEvidence).where(ActionEvidence.action_id == action.id)
                                .order_by(ActionEvidence.id)))


def read_evidence(settings: Settings, row: ActionEvidence) -> bytes:
    """The stored file, checked against its SHA-256 (ActionError when it changed on disk)."""
    try:
        return evidence_files.read(settings, row.sha256, row.filename)
    except evidence_files.EvidenceError as exc:
        raise ActionError(*exc.problems) from None


def link(session: Session, action: Action, links: Iterable[tuple[str, str]]) -> int:
    """Add links not yet there; returns how many were added."""
    have = {(l.entity, l.entity_id) for l in action.links}
    added = [(e, str(i)) for e, i in dict.fromkeys(links) if (e, str(i)) not in have]
    for entity, ident in added:
        action.links.append(ActionLink(entity=entity, entity_id=ident))
    if added:
        record_change(session, action="link", entity="action", entity_id=action.id,
                      after={"links": [f"{e}:{i}" for e, i in added]})
        session.flush()
    return len(added)


def listing(session: Session, *, status: str | None = None, department: str | None = None,
            owner: str | None = None, open_only: bool = False, source: str | None = None) -> list[Action]:
    stmt = select(Action).options(selectinload(Action.links)).order_by(Action.due_on, Action.id)
    if status:
        stmt = stmt.where(Action.status == status)
    if open_only:
        stmt = stmt.where(Action.status.in_((OPEN, IN_PROGRESS, DONE)))
    if department:
        stmt = stmt.where(Action.department == department)
    if owner:
        stmt = stmt.where(Action.owner == owner.lower())
    if source:
        stmt = stmt.where(Action.source == source)
    return list(session.scalars(stmt))


def linked_to(session: Session, entity: str, entity_id: str) -> list[Action]:
    return list(session.scalars(select(Action).join(ActionLink).where(ActionLink.entity == entity,
                                                                       ActionLink.entity_id == entity_id)))


def open_by_owner(session: Session, settings: Settings, today: date) -> list[tuple]:
    """Actions not yet done per owner, in one aggregate query (for the dashboard):
    (owner, open, past the due day, more than 7 days past it, earliest due day)."""
    from sqlalchemy import case, func

    late = Action.due_on < today
    very_late = Action.due_on < today - timedelta(days=7)
    rows = session.execute(
        select(Action.owner, func.count(), func.sum(case((late, 1), else_=0)), func.sum(case((very_late, 1), else_=0)),
               func.min(Action.due_on))
        .where(Action.status.in_(OPEN_STATES)).group_by(Action.owner)).all()
    return [(owner, n, overdue or 0, over_7 or 0, oldest) for owner, n, overdue, over_7, oldest in rows]


# -- what the reminder engine chases -------------------------------------------------------


def due_items(session: Session, settings: Settings, now: datetime) -> list[DueItem]:
    """Open actions by their due day; done ones by the day their effectiveness is to be verified
    (the named verifier, else the quality manager)."""
    tz = settings.tz
    quality = settings.people_with_role("quality_manager")
    items = []
    for a in session.scalars(select(Action).where(Action.status.in_((OPEN, IN_PROGRESS, DONE)))):
        if a.status == DONE:
            if a.verification_due_on is None:
                continue
            verifier = a.verifier or (quality[0].email if quality else None)
            items.append(DueItem("action-verification", a.ref, a.title, verifier, a.department,
                                 datetime.combine(a.verification_due_on, END_OF_DAY, tzinfo=tz)))
        else:
            items.append(DueItem("action", a.ref, a.title, a.owner, a.department,
                                 datetime.combine(a.due_on, END_OF_DAY, tzinfo=tz)))
    return items


def week_figures(session: Session, settings: Settings, now: datetime) -> dict:
    """The week's throughput for the quality manager's weekly digest: opened, done, verified effective."""
    since = now - timedelta(days=7)
    count = lambda *cond: session.scalar(select(func.count()).select_from(Action).where(*cond))  # noqa: E731
    return {"actions": {"opened": count(Action.created_at >= since), "done": count(Action.done_at >= since),
                        "verified": count(Action.verified_at >= since)}}


DEADLINES = Deadlines("actions", {
    "action": ("纠正预防措施", "corrective action"),
    "action-verification": ("措施有效性验证", "action: verify effectiveness"),
}, due_items, weekly=week_figures)
