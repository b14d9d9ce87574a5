"""Staff service-quality grading (seed 003 第二章第五–六条): every active front-line person gets a quarterly
score from weighted components and a grade a / b / c; grades are dynamic (re-graded each quarter, kept)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.calendar import month_bounds, utcnow
from sqms.complaints.models import Complaint
from sqms.config import GradingSettings, Settings
from sqms.db import read_frame
from sqms.monitoring.models import (
    Compliment,
    Inspection,
    ServiceError,
    Staff,
    StaffGrade,
)
from sqms.records.models import ServiceRecord
from sqms.surveys.models import SurveyResponse

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


class GradingError(ValueError):
    pass


@dataclass
class Grade:
    staff_id: str
    name: str
    department: str
    score: float | None
    grade: str | None
    previous_grade: str | None
    components: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"staff_id": self.staff_id, "name": self.name, "department": self.department, "score": self.score,
                "grade": self.grade, "previous_grade": self.previous_grade, "components": self.components}


def parse_quarter(quarter: str) -> tuple[int, int]:
    match = _QUARTER.match(quarter or "")
    if not match:
        raise GradingError(f"{quarter!r} is not a quarter such as 2026Q3")
    return int(match.group(1)), int(match.group(2))


def previous_quarter(quarter: str) -> str:
    year, q = parse_quarter(quarter)
    return f"{year - 1}Q4" if q == 1 else f"{year}Q{q - 1}"


def quarter_bounds(quarter: str, settings: Settings):
    year, q = parse_quarter(quarter)
    start, _ = month_bounds(f"{year}-{3 * q - 2:02d}", settings.tz)
    _, end = month_bounds(f"{year}-{3 * q:02d}", settings.tz)
    return start, end


def grade_of(components: dict[str, Any], rules: GradingSettings) -> tuple[float | None, str | None]:
    """(score 0–100, grade) from one person's components; None, None when nothing scored them.

    Base: the weighted mean of the 0–100 components present (inspection, mystery_shopper, csat); then
    points off per complaint and per service error (by severity), a capped bonus per compliment.
    Grade: a from `a_from`, b from `b_from`, else c; a red-line failure caps at c."""
    present = {k: w for k, w in rules.weights.items() if components.get(k) is not None and w > 0}
    if not present:
        return None, None
    base = sum(w * float(components[k]) for k, w in present.items()) / sum(present.values())
    penalty = rules.complaint_penalty * components.get("complaints", 0) + sum(
        rules.error_penalty[s] * n for s, n in (components.get("errors") or {}).items())
    bonus = min(rules.compliment_bonus * components.get("compliments", 0), rules.compliment_bonus_max)
    score = round(min(100.0, max(0.0, base - penalty + bonus)), 2)
    grade = "a" if score >= rules.a_from else "b" if score >= rules.b_from else "c"
    if rules.red_line_caps_at_c and components.get("red_line_failures", 0) > 0:
        grade = "c"
    return score, grade


def _frame(session: Session, table, columns: list[str], when: str, start, end) -> pd.DataFrame:
    return read_frame(session.connection(), [table.c[c] for c in columns], table.c[when] >= start,
                      table.c[when] < end)


def components_for(session: Session, settings: Settings, quarter: str) -> tuple[list[Staff], dict[str, dict]]:
    """The active front-line staff of the quarter and each one's components."""
    start, end = quarter_bounds(quarter, settings)
    staff = [s for s in session.scalars(select(Staff).order_by(Staff.department, Staff.staff_id))
             if s.front_line is not False and (s.active_from is None or s.active_from < end)
             and (s.active_to is None or s.active_to >= start)]
    ins = _frame(session, Inspection.__table__, ["staff_id", "source", "score", "red_line_failed"], "inspected_at",
                 start, end)
    complaints = _frame(session, Complaint.__table__, ["staff_id"], "received_at", start, end)
    compliments = _frame(session, Compliment.__table__, ["staff_id"], "received_at", start, end)
    errors = _frame(session, ServiceError.__table__, ["staff_id", "severity"], "occurred_at", start, end)
    served = _frame(session, ServiceRecord.__table__, ["staff_id", "customer_id"], "opened_at", start, end)
    answers = _frame(session, SurveyResponse.__table__, ["customer_id", "csat"], "submitted_at", start, end)
    # CSAT is attributable when the customer was served by exactly one person in the quarter
    served = served.dropna().drop_duplicates()
    single = served.groupby("customer_id")["staff_id"].nunique()
    served = served[served["customer_id"].isin(single[single == 1].index)]
    csat = answers.dropna().merge(served, on="customer_id")
    csat = csat.assign(csat=pd.to_numeric(csat["csat"])).groupby("staff_id")["csat"].mean()
    out: dict[str, dict] = {}
    for person in staff:
        mine = ins[ins["staff_id"] == person.staff_id]
        internal = mine[mine["source"] == "internal"]["score"].astype(float)
        external = mine[mine["source"] != "internal"]["score"].astype(float)
        my_errors = errors[errors["staff_id"] == person.staff_id]["severity"].value_counts()
        mean_csat = csat.get(person.staff_id)
        out[person.staff_id] = {
            "inspection": round(float(internal.mean()), 2) if len(internal) else None,
            "inspections": int(len(internal)),
            "mystery_shopper": round(float(external.mean()), 2) if len(external) else None,
            "csat": round(100 * (float(mean_csat) - 1) / 4, 2) if mean_csat is not None else None,
            "complaints": int((complaints["staff_id"] == person.staff_id).sum()),
            "compliments": int((compliments["staff_id"] == person.staff_id).sum()),
            "errors": {str(k): int(v) for k, v in my_errors.items()},
            "red_line_failures": int(mine["red_line_failed"].astype(bool).sum()),
        }
    return staff, out


def grade_quarter(session: Session, settings: Settings, quarter: str) -> list[Grade]:
    """Grade every active front-line person for the quarter and keep the grades (a rerun replaces them)."""
    parse_quarter(quarter)
    staff, components = components_for(session, settings, quarter)
    previous = dict(session.execute(select(StaffGrade.staff_id, StaffGrade.grade).where(
        StaffGrade.quarter == previous_quarter(quarter))).all())
    stored = {g.staff_id: g for g in session.scalars(select(StaffGrade).where(StaffGrade.quarter == quarter))}
    grades = []
    now = utcnow()
    for person in staff:
        parts = components[person.staff_id]
        score, grade = grade_of(parts, settings.monitoring.grading)
        row = stored.get(person.staff_id) or StaffGrade(quarter=quarter, staff_id=person.staff_id)
        row.department, row.score, row.grade, row.components, row.computed_at = (
            person.department, score, grade, parts, now)
        session.add(row)
        grades.append(Grade(person.staff_id, person.name, person.department, score, grade,
                            previous.get(person.staff_id), parts))
    session.flush()
    return grades
