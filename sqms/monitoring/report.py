"""服务质量考核 — the quarterly department and staff appraisal (000 第二十八–三十一条, 篇三 §30).

Departments are ranked on KPI achievement, SOP compliance (internal inspection scores), participation in
improvement (their actions due in the quarter done on time) and customer evaluation (CSAT); staff grades
per department and the top performers (服务标兵 candidates). The whole report goes to HR and the general
manager (`monitoring.appraisal_to`); each department manager gets a report of their own department only:
staff data is personal, no other department's staff in it.

This module builds the data; `sqms.monitoring.rendering` renders, keeps and mails it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.actions.models import Action
from sqms.calendar import utcnow
from sqms.config import Settings
from sqms.db import read_frame
from sqms.monitoring.grading import Grade, parse_quarter, quarter_bounds
from sqms.monitoring.models import Inspection
from sqms.records.service import history
from sqms.surveys.models import SurveyResponse


@dataclass
class Appraisal:
    quarter: str
    locale: str
    organisation: str
    departments: pd.DataFrame  # ranking
    grades: list[Grade]
    top: list[Grade]
    generated_at: Any = field(default_factory=utcnow)

    def only(self, department: str) -> Appraisal:
        """The same report reduced to one department: its row of the ranking, its own staff only."""
        mine = [g for g in self.grades if g.department == department]
        return Appraisal(self.quarter, self.locale, self.organisation,
                         self.departments[self.departments["department"] == department], mine,
                         [g for g in self.top if g.department == department], self.generated_at)


def _months(quarter: str) -> list[str]:
    year, q = parse_quarter(quarter)
    return [f"{year}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]


def build_appraisal(session: Session, settings: Settings, quarter: str, grades: list[Grade]) -> Appraisal:
    start, end = quarter_bounds(quarter, settings)
    kpis = history(session, settings, _months(quarter))
    judged = kpis[kpis["department"].notna() & kpis["status"].isin(["met", "missed"])]
    met = judged.assign(met=judged["status"] == "met").groupby("department")["met"].mean() * 100
    conn = session.connection()
    ins = read_frame(conn, [Inspection.__table__.c.department, Inspection.__table__.c.score],
                     Inspection.__table__.c.source == "internal", Inspection.__table__.c.inspected_at >= start,
                     Inspection.__table__.c.inspected_at < end)
    sop = ins.assign(score=pd.to_numeric(ins["score"])).groupby("department")["score"].mean()
    due = [(a.department, a.done_at is not None and a.done_at.date() <= a.due_on)
           for a in session.scalars(select(Action)) if start.date() <= a.due_on < end.date()]
    actions = pd.DataFrame(due, columns=["department", "on_time"])
    improvement = actions.groupby("department")["on_time"].mean() * 100 if len(actions) else pd.Series(dtype=float)
    answers = read_frame(conn, [SurveyResponse.__table__.c.department, SurveyResponse.__table__.c.csat],
                         SurveyResponse.__table__.c.submitted_at >= start, SurveyResponse.__table__.c.submitted_at < end)
    csat = pd.to_numeric(answers["csat"]).groupby(answers["department"]).mean()
    rows = []
    for d in settings.departments:
        values = {"kpi_met_pct": met.get(d.code), "sop_score": sop.get(d.code),
                  "improvement_on_time_pct": improvement.get(d.code), "csat_mean": csat.get(d.code)}
        parts = [v for v in (values["kpi_met_pct"], values["sop_score"], values["improvement_on_time_pct"],
                             None if values["csat_mean"] is None else 100 * (values["csat_mean"] - 1) / 4)
                 if v is not None and not pd.isna(v)]
        mine = [g.grade for g in grades if g.department == d.code]
        rows.append({"department": d.code, "name": d.label(settings.locale), **values,
                     "overall": sum(parts) / len(parts) if parts else None,
                     "a": mine.count("a"), "b": mine.count("b"), "c": mine.count("c"), "staff": len(mine)})
    frame = pd.DataFrame(rows).sort_values("overall", ascending=False, na_position="last").reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    n = settings.monitoring.grading.top_performers
    top = sorted([g for g in grades if g.grade == "a"], key=lambda g: (-(g.score or 0), g.staff_id))[:n]
    return Appraisal(quarter, settings.locale, settings.organisation.name, frame, grades, top)
