"""The monthly inspection plan: every front-line person inspected at least once a quarter, spread over the
quarter's months; an inspector never inspects their own department; load balanced between inspectors.
Each inspector is mailed their list (assignment is news) and chased by the reminder engine."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.calendar import is_working_day, month_bounds, parse_period
from sqms.config import Settings
from sqms.monitoring.models import Inspection, InspectionPlanSlot, Staff
from sqms.reminders.service import Deadlines, DueItem

END_OF_DAY = time(23, 59, 59)


class PlanError(ValueError):
    pass


@dataclass(frozen=True)
class Slot:
    staff_id: str
    department: str
    inspector: str
    due_on: date


def quarter_months(period: str) -> list[str]:
    year, month = parse_period(period)
    first = month - (month - 1) % 3
    return [f"{year}-{m:02d}" for m in range(first, first + 3)]


def assign(people: list[tuple[str, str]], inspectors: list[tuple[str, str]], days: list[date],
           load: Counter | None = None) -> list[Slot]:
    """Slots for `people` [(staff_id, department)] among `inspectors` [(email, home department)]: never an
    inspector of the person's own department, the least loaded first; due days spread over `days`."""
    load = Counter(load or {})
    slots = []
    for n, (staff_id, department) in enumerate(people):
        candidates = [email for email, home in inspectors if home != department]
        if not candidates:
            raise PlanError(f"no inspector outside {department} to inspect {staff_id}: "
                            "add one to monitoring.inspectors")
        inspector = min(candidates, key=lambda e: (load[e], e))
        load[inspector] += 1
        slots.append(Slot(staff_id, department, inspector, days[n % len(days)]))
    return slots


def _working_days(period: str) -> list[date]:
    year, month = parse_period(period)
    days = [date(year, month, d) for d in range(1, 32) if _valid(year, month, d)]
    working = [d for d in days if is_working_day(d)]
    return working[2:] or working or days  # leave the first working days to prepare


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def plan_month(session: Session, settings: Settings, period: str) -> list[InspectionPlanSlot]:
    """Plan the month (idempotent: the slots already planned stay as they are).

    The quarter's front-line staff are split over its three months (by register order); the last month
    also takes everyone of the quarter not yet inspected (internal) nor planned."""
    months = quarter_months(period)
    index = months.index(period)
    start, _ = month_bounds(months[0], settings.tz)
    _, end = month_bounds(months[-1], settings.tz)
    staff = [s for s in session.scalars(select(Staff).order_by(Staff.department, Staff.staff_id))
             if s.front_line is not False and (s.active_from is None or s.active_from < end)
             and (s.active_to is None or s.active_to >= start)]
    planned = {row.staff_id: row for row in session.scalars(
        select(InspectionPlanSlot).where(InspectionPlanSlot.period.in_(months)))}
    inspected = set(session.scalars(select(Inspection.staff_id).where(
        Inspection.source == "internal", Inspection.inspected_at >= start, Inspection.inspected_at < end)))
    people = [(s.staff_id, s.department) for n, s in enumerate(staff)
              if s.staff_id not in planned and (n % 3 == index or (index == 2 and s.staff_id not in inspected))]
    inspectors = [(p.email, p.department) for p in settings.resolve_recipients(settings.monitoring.inspectors)
                  if not isinstance(p, str)]
    load = Counter(row.inspector for row in planned.values() if row.period == period)
    rows = []
    for slot in assign(people, inspectors, _working_days(period), load):
        row = InspectionPlanSlot(period=period, department=slot.department, staff_id=slot.staff_id,
                                 inspector=slot.inspector, due_on=slot.due_on, template=settings.monitoring.plan_template)
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def notify_inspectors(session: Session, settings: Settings, period: str) -> int:
    """One mail per inspector with their month's list (queued once per inspector and month)."""
    from sqms.notify.compose import compose
    from sqms.notify.service import enqueue

    slots = session.scalars(select(InspectionPlanSlot).where(InspectionPlanSlot.period == period)
                            .order_by(InspectionPlanSlot.due_on, InspectionPlanSlot.staff_id)).all()
    names = {s.staff_id: s.name for s in session.scalars(select(Staff))}
    by_inspector: dict[str, list[InspectionPlanSlot]] = {}
    for slot in slots:
        by_inspector.setdefault(slot.inspector, []).append(slot)
    queued = 0
    for email, own in by_inspector.items():
        person = next((p for p in settings.people if p.email == email), email)
        mail = compose(settings, "inspection_plan", person, period=period, slots=[
            {"due_on": s.due_on, "department": settings.department(s.department).label(settings.locale),
             "staff": f"{names.get(s.staff_id, '')} ({s.staff_id})", "template": s.template} for s in own])
        _, changed = enqueue(session, process="inspections", obj="plan", period=period, email=mail)
        queued += changed
    return queued


def due_items(session: Session, settings: Settings, now: datetime) -> list[DueItem]:
    """For the reminder engine: planned inspections not yet recorded, owned by their inspector."""
    slots = session.scalars(select(InspectionPlanSlot)).all()
    if not slots:
        return []
    done = {(staff, period) for staff, period in _inspected_periods(session, settings)}
    names = {s.staff_id: s.name for s in session.scalars(select(Staff))}
    return [DueItem("inspection", f"{s.period}:{s.staff_id}",
                    f"服务检查 {s.period}：{names.get(s.staff_id, '')} ({s.staff_id})", s.inspector, s.department,
                    datetime.combine(s.due_on, END_OF_DAY, tzinfo=settings.tz))
            for s in slots if (s.staff_id, s.period) not in done]


DEADLINES = Deadlines("inspections", {"inspection": ("服务检查", "service inspection")}, due_items)


def _inspected_periods(session: Session, settings: Settings):
    """(staff_id, YYYY-MM local) of every internal inspection of a planned person."""
    from sqms.calendar import to_local

    for staff_id, at in session.execute(select(Inspection.staff_id, Inspection.inspected_at).where(
            Inspection.source == "internal", Inspection.staff_id.is_not(None))):
        yield staff_id, to_local(at, settings.tz).strftime("%Y-%m")
