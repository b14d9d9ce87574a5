"""Inspections and mystery-shopper evaluations: scoring on a template, recording, and the corrective
action a failed red line or a low score opens (mailed at once to the department manager)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms import evidence as evidence_files
from sqms.actions.service import NewAction, open_action
from sqms.audit_trail import record_change
from sqms.calendar import utcnow
from sqms.complaints.models import Complaint
from sqms.config import Settings
from sqms.monitoring.models import (
    ERROR_CATEGORIES,
    ERROR_SEVERITIES,
    SOURCES,
    Compliment,
    Inspection,
    InspectionEvidence,
    InspectionItem,
    ServiceError,
    Staff,
)
from sqms.monitoring.templates import InspectionTemplate, load_templates
from sqms.rule_errors import Problem, RuleError, problem


class InspectionError(RuleError):
    """An inspection that cannot be recorded; the message names what is wrong."""


@dataclass
class ItemResult:
    item: str
    points: float | None  # awarded; None = not applicable
    note: str | None = None
    evidence: list[str] = field(default_factory=list)


@dataclass
class NewInspection:
    inspection_id: str
    template: str
    department: str
    inspector: str
    inspected_at: datetime
    items: list[ItemResult]
    source: str = "internal"
    staff_id: str | None = None
    note: str | None = None


def parse_result(text: str, points: float) -> float | None:
    """`pass` (full points), `fail` (0), `na` (not applicable), or the points awarded (0…points)."""
    value = text.strip().lower()
    if value in ("pass", "ok", "y", "yes", "是", "合格", "✓"):
        return points
    if value in ("fail", "n", "no", "否", "不合格", "✗"):
        return 0.0
    if value in ("na", "n/a", "-", "不适用"):
        return None
    try:
        number = float(value)
    except ValueError:
        raise InspectionError(f"{text!r} is not pass, fail, na or a number of points", code="inspection.result",
                              value=text) from None
    if not 0 <= number <= points:
        raise InspectionError(f"{number:g} is outside 0–{points:g} points", code="inspection.points",
                              value=f"{number:g}", points=f"{points:g}")
    return number


def score(template: InspectionTemplate, results: dict[str, float | None]) -> tuple[float, bool]:
    """(0–100 score, red line failed): weighted share of the points on the applicable items; a failed
    red-line item (fewer than its full points) zeroes the score."""
    total = earned = 0.0
    red_line = False
    for item in template.items():
        awarded = results.get(item.code)
        if awarded is None:
            continue
        total += item.weight
        earned += item.weight * awarded / item.points
        red_line = red_line or (item.red_line and awarded < item.points)
    if total == 0:
        raise InspectionError("no applicable item: at least one item needs a result", code="inspection.no_result")
    return (0.0 if red_line else round(100.0 * earned / total, 2)), red_line


def check(settings: Settings, new: NewInspection, templates: dict[str, InspectionTemplate],
          staff: dict[str, Staff]) -> list[Problem]:
    """Everything wrong with an inspection before it is recorded, each `column: problem`."""
    problems: list[Problem] = []
    template = templates.get(new.template)
    if template is None:
        problems.append(problem("not_one_of", f"template: unknown template {new.template!r} "
                                f"(known: {', '.join(sorted(templates))})", field="template", value=new.template,
                                options=sorted(templates)))
    if new.source not in SOURCES:
        problems.append(problem("not_one_of", f"source: unknown source {new.source!r} "
                                f"(expected one of: {', '.join(SOURCES)})", field="source", value=new.source,
                                options=SOURCES))
    if new.department not in [d.code for d in settings.departments]:
        problems.append(problem("unknown_department", f"department: unknown department {new.department!r}",
                                field="department", value=new.department))
    if new.staff_id is not None and new.staff_id not in staff:
        problems.append(problem("inspection.unknown_staff", f"staff_id: unknown staff_id {new.staff_id!r}",
                                value=new.staff_id))
    if template is None:
        return problems
    seen: set[str] = set()
    for result in new.items:
        item = template.item(result.item)
        if item is None:
            problems.append(problem("inspection.unknown_item", f"item: {result.item!r} is not an item of "
                                    f"{template.code}", item=result.item, template=template.code))
            continue
        if result.item in seen:
            problems.append(problem("inspection.item_twice", f"item: {result.item!r} is given twice",
                                    item=result.item))
        seen.add(result.item)
        if item.evidence_required and result.points is not None and result.points < item.points \
                and not result.evidence:
            problems.append(problem("inspection.evidence_required", f"evidence: {result.item}: evidence is required "
                                    "for a failed item", item=result.item))
    if new.items and not any(r.points is not None for r in new.items):
        problems.append(problem("inspection.no_result", "result: no applicable item: at least one item needs a result"))
    return problems


def record_inspection(session: Session, settings: Settings, new: NewInspection, *,
                      templates: dict[str, InspectionTemplate] | None = None, actor: str | None = None,
                      now: datetime | None = None, notify: bool | None = None) -> tuple[Inspection, str]:
    """Record (or update, by id) an inspection: (row, "inserted" | "updated" | "unchanged").

    A failed red line or a score below `monitoring.score_threshold` opens one corrective action for the
    department manager; it is mailed at once unless the inspection is history (older than
    `monitoring.notice_within_days`, or `notify=False`, e.g. the demo's history)."""
    now = now or utcnow()
    templates = templates if templates is not None else load_templates(settings)
    staff = {s.staff_id: s for s in session.scalars(select(Staff))} if new.staff_id else {}
    problems = check(settings, new, templates, staff)
    if problems:
        raise InspectionError(*problems)
    template = templates[new.template]
    value, red_line = score(template, {r.item: r.points for r in new.items})
    after = {"template": new.template, "source": new.source, "department": new.department,
             "staff_id": new.staff_id, "inspector": new.inspector, "inspected_at": new.inspected_at,
             "score": value, "red_line_failed": red_line, "note": new.note,
             "items": {r.item: [r.points, r.note, list(r.evidence)] for r in new.items}}
    row = session.get(Inspection, new.inspection_id)
    outcome = "inserted"
    if row is None:
        row = Inspection(inspection_id=new.inspection_id, recorded_at=now,
                         recorded_by=actor or session.info.get("actor", "unknown"))
        session.add(row)
        before = None
    else:
        before = _snapshot(row)
        if _comparable(before) == _comparable(after):
            return row, "unchanged"
        outcome = "updated"
    row.template, row.source, row.department, row.staff_id = new.template, new.source, new.department, new.staff_id
    row.inspector, row.inspected_at, row.note = new.inspector, _as_utc(new.inspected_at), new.note
    row.score, row.red_line_failed = value, red_line
    row.items = [InspectionItem(item=r.item, points=r.points, note=r.note, evidence=list(r.evidence))
                 for r in new.items]
    session.flush()
    record_change(session, action="record" if before is None else "update", entity="inspection",
                  entity_id=new.inspection_id, before=before, after=after, actor=actor)
    if row.action_id is None and (red_line or value < settings.monitoring.score_threshold):
        row.action_id = _open_corrective_action(session, settings, row, template, now, actor, notify).id
    return row, outcome


def _snapshot(row: Inspection) -> dict:
    return {"template": row.template, "source": row.source, "department": row.department,
            "staff_id": row.staff_id, "inspector": row.inspector, "inspected_at": row.inspected_at,
            "score": row.score, "red_line_failed": row.red_line_failed, "note": row.note,
            "items": {i.item: [i.points, i.note, list(i.evidence or [])] for i in row.items}}


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _comparable(snapshot: dict) -> dict:
    return snapshot | {"inspected_at": _as_utc(snapshot["inspected_at"])}


def _open_corrective_action(session: Session, settings: Settings, row: Inspection, template: InspectionTemplate,
                            now: datetime, actor: str | None, notify: bool | None):
    failed = [i for i in row.items if i.points is not None and template.item(i.item) is not None
              and i.points < template.item(i.item).points]
    red = [i.item for i in failed if template.item(i.item).red_line]
    why = (f"红线项未通过: {', '.join(red)}" if red else
           f"得分 {row.score:g} 低于 {settings.monitoring.score_threshold:g}")
    problem = "\n".join([f"{template.name} {row.inspection_id} ({row.source}): {why}"] + [
        f"- [{template.area_of(i.item)}] {i.item} {template.item(i.item).text}" + (f": {i.note}" if i.note else "")
        for i in failed])
    recent = _as_utc(now) - _as_utc(row.inspected_at) <= timedelta(days=settings.monitoring.notice_within_days)
    return open_action(session, settings, NewAction(
        source="inspection", type="corrective", title=f"服务检查整改: {template.name} ({why})",
        department=row.department, problem=problem, source_ref=row.inspection_id,
        links=[("inspection", row.inspection_id)]), actor=actor, now=now,
        notify=recent if notify is None else notify)


# -- evidence files of an inspection ----------------------------------------------------------


def add_inspection_evidence(session: Session, settings: Settings, inspection: Inspection, *, item: str | None,
                            filename: str, data: bytes, actor: str) -> InspectionEvidence:
    """Keep an uploaded evidence file (the shared checks of `sqms.evidence`) for an item of the inspection
    (or the whole visit); its name joins the item's evidence list, so the item counts as evidenced."""
    row_item = None
    if item:
        row_item = next((i for i in inspection.items if i.item == item), None)
        if row_item is None:
            raise InspectionError(f"item: {item!r} is not an item of {inspection.inspection_id}", code="not_one_of",
                                  field="item", value=item, options=[i.item for i in inspection.items])
    try:
        stored = evidence_files.store(settings, filename, data)
    except evidence_files.EvidenceError as exc:
        raise InspectionError(*exc.problems) from None
    row = InspectionEvidence(inspection_id=inspection.inspection_id, item=item or None, filename=stored.filename,
                             sha256=stored.sha256, size=stored.size, content_type=stored.content_type,
                             uploaded_by=actor, uploaded_at=utcnow())
    session.add(row)
    if row_item is not None and stored.filename not in (row_item.evidence or []):
        row_item.evidence = [*(row_item.evidence or []), stored.filename]  # a new list: the JSON column sees it
    session.flush()
    record_change(session, action="evidence", entity="inspection", entity_id=inspection.inspection_id, actor=actor,
                  after={"item": item, "file": stored.filename, "sha256": stored.sha256, "size": stored.size})
    return row


def inspection_evidence_of(session: Session, inspection: Inspection) -> list[InspectionEvidence]:
    return list(session.scalars(select(InspectionEvidence).where(
        InspectionEvidence.inspection_id == inspection.inspection_id).order_by(InspectionEvidence.id)))


def read_inspection_evidence(settings: Settings, row: InspectionEvidence) -> bytes:
    try:
        return evidence_files.read(settings, row.sha256, row.filename)
    except evidence_files.EvidenceError as exc:
        raise InspectionError(*exc.problems) from None


# -- compliments and service errors entered directly ----------------------------------


def add_compliment(session: Session, settings: Settings, *, compliment_id: str, department: str,
                   received_at: datetime, staff_id: str | None = None, channel: str | None = None,
                   customer_id: str | None = None, description: str | None = None,
                   actor: str | None = None) -> Compliment:
    """A compliment (表扬) entered by hand (audited); an id already used is an error."""
    _check_entry(session, settings, Compliment, compliment_id, department, staff_id)
    row = Compliment(compliment_id=compliment_id, received_at=_as_utc(received_at), department=department,
                     staff_id=staff_id, channel=channel, customer_id=customer_id, description=description,
                     updated_at=utcnow())
    session.add(row)
    session.flush()
    record_change(session, action="create", entity="compliment", entity_id=compliment_id, actor=actor,
                  after={"department": department, "staff_id": staff_id, "received_at": row.received_at})
    return row


def add_service_error(session: Session, settings: Settings, *, error_id: str, category: str, severity: str,
                      occurred_at: datetime | None = None, department: str | None = None,
                      staff_id: str | None = None, complaint_id: str | None = None,
                      inspection_id: str | None = None, description: str | None = None,
                      actor: str | None = None) -> ServiceError:
    """A service error (服务差错), entered directly or found by a valid complaint or an inspection: then its
    department, person and time default to the complaint's / the inspection's."""
    origin, ref = "direct", None
    if complaint_id:
        source = session.get(Complaint, complaint_id)
        if source is None:
            raise InspectionError(f"complaint: unknown complaint {complaint_id!r}", code="not_found", ref=complaint_id)
        origin, ref, when = "complaint", complaint_id, source.received_at
    elif inspection_id:
        source = session.get(Inspection, inspection_id)
        if source is None:
            raise InspectionError(f"inspection: unknown inspection {inspection_id!r}", code="not_found",
                                  ref=inspection_id)
        origin, ref, when = "inspection", inspection_id, source.inspected_at
    else:
        source, when = None, None
    department = department or (source.department if source is not None else None)
    staff_id = staff_id or (source.staff_id if source is not None else None)
    occurred_at = occurred_at or when or utcnow()
    if category not in ERROR_CATEGORIES:
        raise InspectionError(f"category: {category!r} is not one of {', '.join(ERROR_CATEGORIES)}", code="not_one_of",
                              field="category", value=category, options=ERROR_CATEGORIES)
    if severity not in ERROR_SEVERITIES:
        raise InspectionError(f"severity: {severity!r} is not one of {', '.join(ERROR_SEVERITIES)}", code="not_one_of",
                              field="severity", value=severity, options=ERROR_SEVERITIES)
    if department is None:
        raise InspectionError("department: is required", code="required", field="department")
    _check_entry(session, settings, ServiceError, error_id, department, staff_id)
    row = ServiceError(error_id=error_id, occurred_at=_as_utc(occurred_at), department=department,
                       staff_id=staff_id, category=category, severity=severity, origin=origin, source_ref=ref,
                       description=description, updated_at=utcnow())
    session.add(row)
    session.flush()
    record_change(session, action="create", entity="service_error", entity_id=error_id, actor=actor,
                  after={"department": department, "staff_id": staff_id, "category": category,
                         "severity": severity, "origin": origin, "source_ref": ref})
    return row


def _check_entry(session: Session, settings: Settings, model, ident: str, department: str,
                 staff_id: str | None) -> None:
    if session.get(model, ident) is not None:
        raise InspectionError(f"id: {ident!r} is already recorded", code="duplicate", ref=ident)
    if department not in [d.code for d in settings.departments]:
        raise InspectionError(f"department: unknown department {department!r}", code="unknown_department",
                              field="department", value=department)
    if staff_id is not None and session.get(Staff, staff_id) is None:
        raise InspectionError(f"staff_id: unknown staff_id {staff_id!r}", code="inspection.unknown_staff",
                              value=staff_id)
