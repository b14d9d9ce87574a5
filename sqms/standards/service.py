"""The standards and SOP register (制度、流程与作业规范): draft → in review → approved → published →
superseded / withdrawn.

The regulation: every core service process has its SOP; standards are reviewed at least once a year;
a revision is approved by the leadership (the configured approvers, one after the other or all of
them) before it is published; everyone who runs the process is trained on it. So a version is a
draft until its file (with its sha256) is in, is approved by `standards.approvers`, and is published
on its effective day — the version before it superseded, both readable, the published one never
changed again. Publishing sets the next review date (`review_interval_months` later) and asks the
people of the processes it covers (its departments, optionally only some roles) to be trained, due in
`training_due_working_days` working days. The reminder engine chases the owner before the review date
(`review_notice_days`, 30 and 7 days) and escalates an overdue one as usual (quality manager);
"reviewed, no change" extends the date and is recorded.
"""

from __future__ import annotations

import hashlib
import shutil
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.audit_trail import record_change
from sqms.calendar import END_OF_DAY, add_working_days, month_bounds, to_local, utcnow
from sqms.config import Person, Settings
from sqms.notify.compose import compose
from sqms.notify.service import enqueue
from sqms.reminders.service import Deadlines, DueItem
from sqms.reporting.formatting import t
from sqms.standards.models import (APPROVED, DRAFT, IN_REVIEW, KINDS, PUBLISHED, SUPERSEDED, VERSION_STATES,
                                   WITHDRAWN, StandardDocument, StandardReview, StandardVersion, TrainingRequirement)
from sqms.statemachine import StateMachine, Transition

PROCESS = "standards"
FILE_TYPES = (".pdf", ".docx", ".doc", ".md", ".txt")


class StandardError(ValueError):
    """Bad input for the register; the message says what to fix."""


def _has_file(version: StandardVersion) -> str | None:
    return None if version.file_path else "the document's file is required (--file)"


LIFECYCLE = StateMachine(
    entity="standard_version", states=VERSION_STATES, initial=DRAFT, id_attr="ref",
    transitions=(
        Transition("submit", (DRAFT,), IN_REVIEW, guard=_has_file),
        Transition("approve", (IN_REVIEW,), APPROVED),
        Transition("reject", (IN_REVIEW,), DRAFT),
        Transition("publish", (APPROVED,), PUBLISHED),
        Transition("supersede", (PUBLISHED,), SUPERSEDED),
        Transition("withdraw", (PUBLISHED,), WITHDRAWN),
    ),
)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the last day of a shorter month)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def _email(settings: Settings, who: str | None, what: str) -> str:
    text = (who or "").strip()
    person = next((p for p in settings.people if text.lower() == p.email or text == p.name), None)
    if person is None:
        raise StandardError(f"{what}: {who!r} is not a configured person")
    return person.email


def _department(settings: Settings, value: str, what: str) -> str:
    for d in settings.departments:
        if value in (d.code, d.name, d.name_en) or value.upper() == d.code:
            return d.code
    raise StandardError(f"{what}: unknown department {value!r} (known: {', '.join(d.code for d in settings.departments)})")


def _person(settings: Settings, email: str) -> Person | str:
    return next((p for p in settings.people if p.email == email), email)


# -- documents and versions -------------------------------------------------------------------------------


def get(session: Session, code: str) -> StandardDocument:
    document = session.scalars(select(StandardDocument).where(StandardDocument.code == code.strip().upper())).first()
    if document is None:
        raise StandardError(f"no document {code!r} in the register (sqms standard list)")
    return document


def version_of(session: Session, document: StandardDocument, version: str | None = None) -> StandardVersion:
    """The version named, else the newest one."""
    if not document.versions:
        raise StandardError(f"{document.code} has no version yet (sqms standard version {document.code} ...)")
    if version is None:
        return document.versions[-1]
    found = next((v for v in document.versions if v.version == version), None)
    if found is None:
        raise StandardError(f"{document.code} has no version {version!r} "
                            f"(versions: {', '.join(v.version for v in document.versions)})")
    return found


def current(document: StandardDocument) -> StandardVersion | None:
    """The published version in force, if any."""
    return next((v for v in reversed(document.versions) if v.status == PUBLISHED), None)


def listing(session: Session) -> list[StandardDocument]:
    return list(session.scalars(select(StandardDocument).order_by(StandardDocument.code)))


def register(session: Session, settings: Settings, *, code: str, title: str, kind: str, department: str,
             owner: str | None = None, departments: list[str] | None = None, roles: list[str] | None = None,
             actor: str | None = None, now: datetime | None = None) -> StandardDocument:
    """A new document in the register (no version yet); its owner defaults to the department manager."""
    now = now or utcnow()
    code = code.strip().upper()
    if not code or not title.strip():
        raise StandardError("code and title are required")
    if session.scalars(select(StandardDocument).where(StandardDocument.code == code)).first() is not None:
        raise StandardError(f"{code} is already in the register")
    if kind not in KINDS:
        raise StandardError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    dept = _department(settings, department, "department")
    covered = [_department(settings, d, "departments") for d in (departments or [dept])]
    if owner:
        owner_email = _email(settings, owner, "owner")
    else:
        manager = settings.department_manager(dept)
        if manager is None:
            raise StandardError(f"owner: {dept} has no department manager configured; name an owner")
        owner_email = manager.email
    document = StandardDocument(code=code, title=title.strip(), kind=kind, department=dept, departments=covered,
                                roles=list(roles or []), owner=owner_email, created_at=now,
                                created_by=actor or session.info.get("actor", "?"))
    session.add(document)
    session.flush()
    record_change(session, action="create", entity="standard", entity_id=code, actor=actor,
                  after={"title": document.title, "kind": kind, "department": dept, "departments": covered,
                         "owner": owner_email})
    return document


def _store(settings: Settings, document: StandardDocument, version: str, file: str | Path) -> tuple[str, str]:
    source = Path(file)
    if not source.is_file():
        raise StandardError(f"{source}: file not found")
    if source.suffix.lower() not in FILE_TYPES:
        raise StandardError(f"{source.name}: the file must be one of {', '.join(FILE_TYPES)}")
    folder = Path(settings.reports_dir) / "standards" / document.code / version
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    shutil.copyfile(source, target)
    return str(target), hashlib.sha256(target.read_bytes()).hexdigest()


def add_version(session: Session, settings: Settings, document: StandardDocument, *, version: str,
                change_summary: str = "", file: str | Path | None = None, effective_on: date | None = None,
                actor: str | None = None, now: datetime | None = None) -> StandardVersion:
    """A new draft version (one at a time: the one in progress must be published or rejected first)."""
    now = now or utcnow()
    version = version.strip()
    if not version:
        raise StandardError("version: is required (e.g. V2.0)")
    if any(v.version == version for v in document.versions):
        raise StandardError(f"{document.code} {version} exists already")
    open_ = [v for v in document.versions if v.status in (DRAFT, IN_REVIEW, APPROVED)]
    if open_:
        raise StandardError(f"{document.code} {open_[0].version} is {open_[0].status}: finish it first")
    path, digest = _store(settings, document, version, file) if file else (None, None)
    row = StandardVersion(document=document, version=version, status=DRAFT, change_summary=change_summary.strip(),
                          file_path=path, file_sha256=digest, effective_on=effective_on, approvals=[],
                          created_at=now, created_by=actor or session.info.get("actor", "?"))
    session.add(row)
    session.flush()
    record_change(session, action="create", entity=LIFECYCLE.entity, entity_id=row.ref, actor=actor,
                  after={"change_summary": row.change_summary, "file": path, "sha256": digest})
    return row


def attach_file(session: Session, settings: Settings, version: StandardVersion, file: str | Path, *,
                actor: str | None = None) -> StandardVersion:
    """The draft's file (replaced while a draft; never after)."""
    if version.status != DRAFT:
        raise StandardError(f"{version.ref} is {version.status}: only a draft's file can change (make a new version)")
    path, digest = _store(settings, version.document, version.version, file)
    record_change(session, action="attach", entity=LIFECYCLE.entity, entity_id=version.ref, actor=actor,
                  before={"sha256": version.file_sha256}, after={"file": path, "sha256": digest})
    version.file_path, version.file_sha256 = path, digest
    session.flush()
    return version


# -- approval -----------------------------------------------------------------------------------------------


def approvers(settings: Settings) -> list[str]:
    return [r if isinstance(r, str) else r.email for r in settings.resolve_recipients(settings.standards.approvers)]


def pending_approvers(settings: Settings, version: StandardVersion) -> list[str]:
    done = {a["by"] for a in version.approvals}
    return [a for a in approvers(settings) if a not in done]


def _ask(session: Session, settings: Settings, version: StandardVersion, emails: list[str]) -> int:
    """Approval requests (assignment is news): one mail per version and approver, keyed."""
    queued = 0
    for email in emails:
        mail = compose(settings, "standard_approval", _person(settings, email), document=version.document,
                       version=version)
        _, changed = enqueue(session, process=PROCESS, obj=f"approve:{version.ref}:{len(version.approvals)}",
                             period="approval", email=mail)
        queued += int(changed)
    return queued


def submit(session: Session, settings: Settings, version: StandardVersion, *, actor: str | None = None,
           now: datetime | None = None, notify: bool = True) -> int:
    """Draft → in review; the first approver (in order) or every approver (all) is asked (`notify=False`:
    history being loaded, nobody is paged)."""
    if not approvers(settings):
        raise StandardError("standards.approvers names nobody: configure people with those roles")
    LIFECYCLE.apply(session, version, "submit", actor=actor, at=now)
    version.approvals = []
    pending = pending_approvers(settings, version)
    if not notify:
        return 0
    return _ask(session, settings, version, pending[:1] if settings.standards.approval == "in_order" else pending)


def approve(session: Session, settings: Settings, version: StandardVersion, *, by: str, comment: str = "",
            actor: str | None = None, now: datetime | None = None, notify: bool = True) -> bool:
    """Record one approval (audited, who and when); in order, only the next approver may approve. Returns
    whether the version is now approved (every approver has)."""
    now = now or utcnow()
    LIFECYCLE.check(version, "approve")
    who = _email(settings, by, "approver (--by)")
    pending = pending_approvers(settings, version)
    if who not in approvers(settings):
        raise StandardError(f"{who} is not an approver (standards.approvers: {', '.join(approvers(settings))})")
    if who not in pending:
        raise StandardError(f"{version.ref}: {who} has approved already")
    if settings.standards.approval == "in_order" and who != pending[0]:
        raise StandardError(f"{version.ref}: approval is in order; the next approver is {pending[0]}")
    version.approvals = [*version.approvals, {"by": who, "at": now.isoformat(), "comment": comment}]
    record_change(session, action="approval", entity=LIFECYCLE.entity, entity_id=version.ref, actor=actor,
                  comment=comment, after={"by": who})
    if len(pending) == 1:
        LIFECYCLE.apply(session, version, "approve", actor=actor, at=now, data={"approvals": version.approvals})
        return True
    if settings.standards.approval == "in_order" and notify:
        _ask(session, settings, version, pending[1:2])
    session.flush()
    return False


def reject(session: Session, settings: Settings, version: StandardVersion, *, by: str, comment: str,
           actor: str | None = None, now: datetime | None = None) -> None:
    """Back to draft with the approver's reason; the approvals so far are void (kept in the audit)."""
    who = _email(settings, by, "approver (--by)")
    if who not in approvers(settings):
        raise StandardError(f"{who} is not an approver")
    if not comment.strip():
        raise StandardError("reject: say why (--comment)")
    LIFECYCLE.apply(session, version, "reject", actor=actor, comment=comment, at=now,
                    data={"by": who, "approvals": version.approvals})
    version.approvals = []
    session.flush()


# -- publication and training ----------------------------------------------------------------------------


def trainees(settings: Settings, document: StandardDocument) -> list[Person]:
    """The people of the processes it covers: its departments, only the roles named (if any)."""
    return [p for p in settings.people if p.department in document.departments
            and (not document.roles or set(document.roles) & set(p.roles))]


def publish(session: Session, settings: Settings, version: StandardVersion, *, actor: str | None = None,
            now: datetime | None = None, notify: bool = True) -> dict[str, Any]:
    """Approved → published (effective today unless set): the version in force before is superseded, the
    next review is due `review_interval_months` after the effective day, and its people are to be trained
    (each mailed once)."""
    now = now or utcnow()
    today = to_local(now, settings.tz).date()
    LIFECYCLE.check(version, "publish")
    document = version.document
    effective = version.effective_on or today
    superseded = [v for v in document.versions if v.status == PUBLISHED]
    for old in superseded:
        LIFECYCLE.apply(session, old, "supersede", actor=actor, at=now, data={"by": version.version})
    if version.effective_on is None:
        version.effective_on = effective
    LIFECYCLE.apply(session, version, "publish", actor=actor, at=now, data={"effective_on": effective})
    version.published_at = now
    before = document.next_review_on
    document.next_review_on = add_months(effective, settings.standards.review_interval_months)
    record_change(session, action="next-review", entity="standard", entity_id=document.code, actor=actor,
                  before={"next_review_on": before}, after={"next_review_on": document.next_review_on})
    session.flush()
    required = require_training(session, settings, version, now=now, notify=notify)
    return {"version": version.ref, "superseded": [v.version for v in superseded], "trainings": required,
            "next_review_on": document.next_review_on}


def require_training(session: Session, settings: Settings, version: StandardVersion, *,
                     now: datetime | None = None, notify: bool = True) -> int:
    """A training requirement per person of the document's processes (once per version and person)."""
    now = now or utcnow()
    cfg = settings.standards
    start = max(version.effective_on or to_local(now, settings.tz).date(), to_local(now, settings.tz).date())
    due = add_working_days(start, cfg.training_due_working_days)
    have = set(session.scalars(select(TrainingRequirement.person).where(TrainingRequirement.version_id == version.id)))
    made = 0
    for person in trainees(settings, version.document):
        if person.email in have:
            continue
        row = TrainingRequirement(version_id=version.id, person=person.email, department=person.department,
                                  mode=cfg.training_mode, due_on=due, created_at=now)
        session.add(row)
        made += 1
        if notify:
            mail = compose(settings, "standard_training", person, document=version.document, version=version,
                           due_on=due, mode=cfg.training_mode)
            enqueue(session, process=PROCESS, obj=f"training:{version.ref}", period="training", email=mail)
    session.flush()
    return made


def complete_training(session: Session, settings: Settings, version: StandardVersion, person: str, *,
                      result: str | None = None, trainer: str | None = None, actor: str | None = None,
                      now: datetime | None = None) -> TrainingRequirement:
    """Acknowledged, or trained and checked (a result and the trainer are then required)."""
    now = now or utcnow()
    email = _email(settings, person, "person")
    row = session.scalars(select(TrainingRequirement).where(TrainingRequirement.version_id == version.id,
                                                            TrainingRequirement.person == email)).first()
    if row is None:
        raise StandardError(f"{email} has no training on {version.ref}")
    if row.completed_at is not None:
        raise StandardError(f"{email}: {version.ref} recorded already on {to_local(row.completed_at, settings.tz):%Y-%m-%d}")
    if row.mode == "trained" and not (result and trainer):
        raise StandardError(f"{version.ref} is 'trained and checked': give the result (--result) and the trainer (--trainer)")
    row.completed_at = now
    row.result = result
    row.trainer = _email(settings, trainer, "trainer") if trainer else None
    record_change(session, action="training", entity=LIFECYCLE.entity, entity_id=version.ref, actor=actor,
                  after={"person": email, "result": result, "trainer": row.trainer,
                         "on_time": to_local(now, settings.tz).date() <= row.due_on})
    session.flush()
    return row


def withdraw(session: Session, settings: Settings, document: StandardDocument, *, comment: str,
             actor: str | None = None, now: datetime | None = None) -> StandardVersion:
    version = current(document)
    if version is None:
        raise StandardError(f"{document.code} has no published version to withdraw")
    if not comment.strip():
        raise StandardError("withdraw: say why (--comment)")
    LIFECYCLE.apply(session, version, "withdraw", actor=actor, comment=comment, at=now)
    document.next_review_on = None
    session.flush()
    return version


def review_no_change(session: Session, settings: Settings, document: StandardDocument, *, by: str,
                     comment: str = "", actor: str | None = None, now: datetime | None = None) -> StandardReview:
    """'Reviewed, no change': recorded, and the next review is due `review_interval_months` from today."""
    now = now or utcnow()
    version = current(document)
    if version is None:
        raise StandardError(f"{document.code} has no published version to review")
    who = _email(settings, by, "reviewer (--by)")
    today = to_local(now, settings.tz).date()
    row = StandardReview(document_id=document.id, version_id=version.id, outcome="no_change", reviewed_by=who,
                         comment=comment, previous_review_on=document.next_review_on,
                         next_review_on=add_months(today, settings.standards.review_interval_months), reviewed_at=now)
    session.add(row)
    record_change(session, action="review", entity="standard", entity_id=document.code, actor=actor, comment=comment,
                  before={"next_review_on": document.next_review_on},
                  after={"outcome": "no_change", "by": who, "next_review_on": row.next_review_on})
    document.next_review_on = row.next_review_on
    session.flush()
    return row


def publish_due(session: Session, settings: Settings, now: datetime | None = None) -> list[dict[str, Any]]:
    """What the daily run does: publish every approved version whose effective day has come."""
    now = now or utcnow()
    today = to_local(now, settings.tz).date()
    due = session.scalars(select(StandardVersion).where(StandardVersion.status == APPROVED)
                          .order_by(StandardVersion.id))
    return [publish(session, settings, v, now=now) for v in due if v.effective_on is None or v.effective_on <= today]


# -- what the reminder engine chases ------------------------------------------------------------------------


def due_items(session: Session, settings: Settings, now: datetime) -> list[DueItem]:
    """Documents in force by their review date (owner; notices 30 and 7 days before), and trainings not
    yet done by their due day (the person)."""
    tz, loc = settings.tz, settings.locale
    items = []
    for d in session.scalars(select(StandardDocument).where(StandardDocument.next_review_on.is_not(None))):
        if current(d) is None:
            continue
        items.append(DueItem("standard-review", d.code, t(loc, f"定期评审：{d.code} {d.title}",
                                                          f"periodic review: {d.code} {d.title}"),
                             d.owner, d.department, datetime.combine(d.next_review_on, END_OF_DAY, tzinfo=tz),
                             notice_days=tuple(settings.standards.review_notice_days)))
    rows = session.scalars(select(TrainingRequirement).where(TrainingRequirement.completed_at.is_(None)))
    for r in rows:
        if r.version.status != PUBLISHED:
            continue  # superseded or withdrawn meanwhile: the new version brings its own
        items.append(DueItem("training", f"TR-{r.id:05d}", t(loc, f"培训/阅读确认：{r.version.ref} {r.version.document.title}",
                                                             f"training: {r.version.ref} {r.version.document.title}"),
                             r.person, r.department, datetime.combine(r.due_on, END_OF_DAY, tzinfo=tz)))
    return items


DEADLINES = Deadlines(PROCESS, {
    "standard-review": ("制度/规范定期评审", "standard: periodic review"),
    "training": ("制度/规范培训", "training on a standard"),
}, due_items)


# -- the KPI --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    department: str | None  # None: the whole organisation
    required: int
    on_time: int

    @property
    def value(self) -> float | None:
        return round(100.0 * self.on_time / self.required, 1) if self.required else None


def training_completion(session: Session, settings: Settings, period: str, as_of: datetime | None = None
                        ) -> list[Completion]:
    """`sop_training_completion_pct`: trainings due in the month (local), completed by their due day, per
    department and organisation-wide (trainings of superseded versions still count: they were required)."""
    start, end = month_bounds(period, settings.tz)
    first, last = to_local(start, settings.tz).date(), to_local(end, settings.tz).date()
    as_of = as_of or utcnow()
    rows = session.scalars(select(TrainingRequirement).where(TrainingRequirement.due_on >= first,
                                                             TrainingRequirement.due_on < last)).all()
    counts: dict[str | None, list[int]] = {}
    for r in rows:
        on_time = r.completed_at is not None and r.completed_at <= as_of and \
            to_local(r.completed_at, settings.tz).date() <= r.due_on
        for key in (r.department, None):
            c = counts.setdefault(key, [0, 0])
            c[0] += 1
            c[1] += int(on_time)
    return [Completion(k, v[0], v[1]) for k, v in sorted(counts.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))]


__all__ = ["APPROVED", "DRAFT", "IN_REVIEW", "PUBLISHED", "SUPERSEDED", "WITHDRAWN"]


def register_figures(session: Session, settings: Settings, as_of: datetime) -> dict[str, Any]:
    """The register at a glance (monthly report): documents in force, reviews overdue or due within 30
    days, versions awaiting approval, trainings open and overdue."""
    today = to_local(as_of, settings.tz).date()
    in_force = [d for d in listing(session) if current(d) is not None]
    open_trainings = [r for r in session.scalars(select(TrainingRequirement).where(
        TrainingRequirement.completed_at.is_(None))) if r.version.status == PUBLISHED]
    return {
        "in_force": len(in_force),
        "reviews_overdue": sorted(d.code for d in in_force if d.next_review_on and d.next_review_on < today),
        "reviews_due_30": sorted(d.code for d in in_force if d.next_review_on
                                 and 0 <= (d.next_review_on - today).days <= 30),
        "awaiting_approval": sum(1 for v in session.scalars(select(StandardVersion).where(
            StandardVersion.status.in_((IN_REVIEW, APPROVED))))),
        "trainings_open": len(open_trainings),
        "trainings_overdue": sum(1 for r in open_trainings if r.due_on < today),
    }
