"""Suggestions (合理化建议): submitted → accepted | rejected.

The regulation: staff and customers are encouraged to make suggestions; they are collected and
evaluated, and the adopted ones acted on. So every suggestion (by the CLI, an import, later the
forms) is evaluated by the quality manager within `suggestions.evaluate_within_working_days`
working days — the reminder engine chases it — accepted ones become improvement actions of the one
action engine, and a submitter who left an address is told the outcome (once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.rule_errors import RuleError
from sqms.actions.service import NewAction, open_action
from sqms.audit_trail import record_change
from sqms.calendar import END_OF_DAY, add_working_days, month_bounds, to_local, to_utc, utcnow
from sqms.config import Settings
from sqms.notify.compose import compose
from sqms.notify.service import enqueue
from sqms.reminders.service import Deadlines, DueItem
from sqms.reporting.formatting import t
from sqms.statemachine import StateMachine, Transition
from sqms.suggestions.models import ACCEPTED, REJECTED, SOURCES, SUBMITTED, SUGGESTION_STATES, Suggestion

PROCESS = "suggestions"

LIFECYCLE = StateMachine(
    entity="suggestion", states=SUGGESTION_STATES, initial=SUBMITTED, id_attr="ref",
    transitions=(Transition("accept", (SUBMITTED,), ACCEPTED), Transition("reject", (SUBMITTED,), REJECTED)),
)


class SuggestionError(RuleError):
    """Bad input for a suggestion; the message says what to fix."""


def _department(settings: Settings, value: str | None) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    for d in settings.departments:
        if text in (d.code, d.name, d.name_en) or text.upper() == d.code:
            return d.code
    raise SuggestionError(f"unknown department {text!r} (known: {', '.join(d.code for d in settings.departments)})")


def _email(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    if "@" not in text or " " in text or "\n" in text or text.startswith("@") or text.endswith("@"):
        raise SuggestionError(f"{value!r} is not an email address")
    return text


def submit(session: Session, settings: Settings, *, text: str, source: str = "staff", name: str | None = None,
           email: str | None = None, department: str | None = None, received_at: datetime | None = None,
           external_id: str | None = None, actor: str | None = None) -> Suggestion:
    """Record a suggestion; its evaluation is due N working days after the day it came in."""
    received_at = received_at or utcnow()
    text = (text or "").strip()
    if not text:
        raise SuggestionError("text: the suggestion itself is required")
    if source not in SOURCES:
        raise SuggestionError(f"source: {source!r} is not one of {', '.join(SOURCES)}")
    day = to_local(received_at, settings.tz).date()
    row = Suggestion(external_id=external_id, received_at=received_at, source=source,
                     name=(name or "").strip()[:100] or None, email=_email(email),
                     department=_department(settings, department), text=text[:4000], status=SUBMITTED,
                     evaluation_due_on=add_working_days(day, settings.suggestions.evaluate_within_working_days),
                     created_by=actor or session.info.get("actor", "?"))
    session.add(row)
    session.flush()
    record_change(session, action="create", entity=LIFECYCLE.entity, entity_id=row.ref, actor=actor,
                  after={"source": source, "department": row.department, "due": row.evaluation_due_on,
                         "external_id": external_id})
    return row


def get(session: Session, ref: str) -> Suggestion:
    ident = str(ref).upper().removeprefix("SG-")
    row = session.get(Suggestion, int(ident)) if ident.isdigit() else None
    if row is None:
        raise SuggestionError(f"no suggestion {ref!r} (e.g. SG-00001)")
    return row


def listing(session: Session, status: str | None = None) -> list[Suggestion]:
    stmt = select(Suggestion).order_by(Suggestion.id)
    if status:
        stmt = stmt.where(Suggestion.status == status)
    return list(session.scalars(stmt))


def evaluate(session: Session, settings: Settings, suggestion: Suggestion, decision: str, *, by: str, reason: str,
             owner: str | None = None, department: str | None = None, due_on: date | None = None,
             title: str | None = None, actor: str | None = None, now: datetime | None = None) -> Suggestion:
    """accept (an improvement action: of `owner`, else the department's manager) or reject (a reason is
    required); the submitter, if they left an address, is told the outcome once."""
    now = now or utcnow()
    if decision not in ("accept", "reject"):
        raise SuggestionError(f"decision: {decision!r} is not accept or reject", code="not_one_of", field="decision",
                              value=decision, options=["accept", "reject"])
    evaluator = next((p for p in settings.people if p.email == (by or "").strip().lower() or p.name == by), None)
    if evaluator is None:
        raise SuggestionError(f"--by: {by!r} is not a configured person", code="unknown_person", field="by",
                              value=by or "")
    if not (reason or "").strip():
        raise SuggestionError("--reason: say why (the submitter is told)", code="required", field="reason")
    LIFECYCLE.check(suggestion, decision)
    if decision == "accept":
        dept = _department(settings, department) or suggestion.department
        if dept is None:
            raise SuggestionError(f"{suggestion.ref}: name the department that acts on it (--department)",
                                  code="required", field="department")
        action = open_action(session, settings, NewAction(
            source="suggestion", type="improvement", title=(title or suggestion.text.splitlines()[0])[:200],
            department=dept, problem=f"{suggestion.ref}: {suggestion.text}\n{reason}", owner=owner, due_on=due_on,
            source_ref=suggestion.ref, links=[("suggestion", suggestion.ref)]), actor=actor, now=now)
        suggestion.action_id = action.id
    suggestion.evaluated_at, suggestion.evaluated_by, suggestion.reason = now, evaluator.email, reason.strip()
    LIFECYCLE.apply(session, suggestion, decision, actor=actor, at=now,
                    data={"by": evaluator.email, "reason": reason, "action_id": suggestion.action_id})
    if suggestion.email:
        mail = compose(settings, "suggestion_outcome", suggestion.email, suggestion=suggestion,
                       accepted=decision == "accept")
        enqueue(session, process=PROCESS, obj=f"outcome:{suggestion.ref}", period="outcome", email=mail)
    session.flush()
    return suggestion


# -- import -------------------------------------------------------------------------------------------------

COLUMNS = ("suggestion_id", "submitted_at", "source", "name", "email", "department", "text")


@dataclass
class ImportResult:
    added: int
    unchanged: int

    def summary(self) -> str:
        return f"suggestions: {self.added} added, {self.unchanged} already there"


def import_file(session: Session, settings: Settings, path: str | Path, *, actor: str | None = None) -> ImportResult:
    """CSV (UTF-8, UTF-8 with BOM or GBK) or XLSX with `COLUMNS`; validated whole (every problem as
    `row N, column C: why`, nothing written), idempotent by suggestion_id."""
    path = Path(path)
    if not path.is_file():
        raise SuggestionError(f"{path}: file not found")
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            frame = pd.read_excel(path, dtype=str)
        else:
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("gbk")
            import io

            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=None, engine="python")
    except (ValueError, UnicodeDecodeError) as exc:
        raise SuggestionError(f"{path}: cannot be read ({exc})") from None
    frame = frame.fillna("")
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in ("suggestion_id", "submitted_at", "text") if c not in frame.columns]
    if missing:
        raise SuggestionError(f"row 1: missing column(s) {', '.join(missing)} (columns: {', '.join(COLUMNS)})")
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, row in enumerate(frame.to_dict("records"), start=2):
        values = {c: str(row.get(c, "")).strip() for c in COLUMNS}
        ident = values["suggestion_id"]
        if not ident:
            problems.append(f"row {n}, column suggestion_id: is required")
        elif ident in seen:
            problems.append(f"row {n}, column suggestion_id: {ident!r} appears twice in the file")
        seen.add(ident)
        try:
            moment = datetime.fromisoformat(values["submitted_at"].replace("/", "-"))
            values["received_at"] = to_utc(moment, settings.tz)
        except ValueError:
            problems.append(f"row {n}, column submitted_at: {values['submitted_at']!r} is not a date and time")
        if not values["text"]:
            problems.append(f"row {n}, column text: is required")
        values["source"] = values["source"] or "customer"
        if values["source"] not in SOURCES:
            problems.append(f"row {n}, column source: {values['source']!r} is not one of {', '.join(SOURCES)}")
        for column, check in (("department", lambda v: _department(settings, v)), ("email", _email)):
            try:
                check(values[column])
            except SuggestionError as exc:
                problems.append(f"row {n}, column {column}: {exc}")
        rows.append(values)
    if problems:
        raise SuggestionError("the file is not imported:\n  " + "\n  ".join(problems))
    existing = set(session.scalars(select(Suggestion.external_id).where(Suggestion.external_id.in_(list(seen)))))
    added = 0
    for values in rows:
        if values["suggestion_id"] in existing:
            continue
        submit(session, settings, text=values["text"], source=values["source"], name=values["name"],
               email=values["email"], department=values["department"], received_at=values["received_at"],
               external_id=values["suggestion_id"], actor=actor)
        added += 1
    record_change(session, action="import", entity=LIFECYCLE.entity, entity_id=str(path.name), actor=actor,
                  after={"added": added, "unchanged": len(rows) - added})
    return ImportResult(added, len(rows) - added)


# -- reminders and figures -------------------------------------------------------------------------------------


def due_items(session: Session, settings: Settings, now: datetime) -> list[DueItem]:
    """Every suggestion not yet evaluated, by its evaluation day, owned by the first evaluator."""
    evaluators = settings.resolve_recipients(settings.suggestions.evaluators)
    owner = (evaluators[0] if isinstance(evaluators[0], str) else evaluators[0].email) if evaluators else None
    return [DueItem("suggestion", s.ref, t(settings.locale, f"合理化建议待评估：{s.text[:40]}",
                                            f"suggestion to evaluate: {s.text[:40]}"),
                    owner, s.department, datetime.combine(s.evaluation_due_on, END_OF_DAY, tzinfo=settings.tz))
            for s in session.scalars(select(Suggestion).where(Suggestion.status == SUBMITTED))]


DEADLINES = Deadlines(PROCESS, {"suggestion": ("合理化建议评估", "suggestion: evaluate")}, due_items)


def month_figures(session: Session, settings: Settings, period: str) -> dict[str, Any]:
    """Received in the month (staff, customers), evaluated so far, accepted, adoption rate (accepted /
    evaluated, in %)."""
    start, end = month_bounds(period, settings.tz)
    rows = session.scalars(select(Suggestion).where(Suggestion.received_at >= start,
                                                    Suggestion.received_at < end)).all()
    evaluated = [r for r in rows if r.status != SUBMITTED]
    accepted = [r for r in rows if r.status == ACCEPTED]
    return {"received": len(rows), "staff": sum(r.source == "staff" for r in rows),
            "customers": sum(r.source == "customer" for r in rows), "evaluated": len(evaluated),
            "accepted": len(accepted), "pending": len(rows) - len(evaluated),
            "adoption_pct": round(100.0 * len(accepted) / len(evaluated), 1) if evaluated else None}
