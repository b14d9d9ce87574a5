"""存在问题与改进措施 (problems and improvement measures) of the monthly report: for each KPI that missed
its target or gave a special-cause signal, the finding, the known causes (root causes of the linked
PDCA cycle and its actions, the complaint categories that drive it), the measures under way (the
cycle and its actions with owner, due date and status) and, where nothing is under way, a proposal."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.config import Settings
from sqms.improvement.models import CLOSED, ImprovementCycle
from sqms.improvement.service import actions_of
from sqms.kpi_catalog import KPI_BY_CODE
from sqms.reporting.formatting import fmt_target, fmt_value, is_missing, t

COMPLAINT_KPIS = {"complaint_rate_per_1000", "complaint_on_time_pct", "complaint_closure_pct"}
TOP_CATEGORIES = 3


def problems(session: Session, settings: Settings, report: Any) -> list[dict[str, Any]]:
    """One entry per (department or organisation, KPI) that missed or signalled this month."""
    loc = report.locale
    names = dict(report.departments)
    found: dict[tuple[str | None, str], dict[str, Any]] = {}
    for r in report.missed.to_dict("records"):
        department = None if is_missing(r["department"]) else r["department"]
        found[(department, r["kpi"])] = {"value": r["value"], "target": r["target"], "missed": True, "rules": []}
    for series in report.control:
        if series.current:
            entry = found.setdefault((series.department, series.kpi), {
                "value": series.chart.values[-1], "target": _target(report, series.department, series.kpi),
                "missed": False, "rules": []})
            entry["rules"] = series.rules(loc)
    cycles = {(c.department, c.kpi): c for c in session.scalars(
        select(ImprovementCycle).where(ImprovementCycle.status != CLOSED).order_by(ImprovementCycle.id))}
    complaints = report.complaints.complaints
    out = []
    for (department, kpi), entry in found.items():
        who = names.get(department, department) if department else t(loc, "组织整体", "Organisation")
        label = KPI_BY_CODE[kpi].label(loc)
        value, target = fmt_value(entry["value"], kpi, loc), fmt_target(entry["target"], kpi, loc)
        parts = []
        if entry["missed"]:
            parts.append(t(loc, f"{who}{label} {value}，未达到目标 {target}", f"{who}: {label} {value}, target {target} missed"))
        else:
            parts.append(t(loc, f"{who}{label} {value}（目标 {target} 仍达标）", f"{who}: {label} {value} (target {target} still met)"))
        if entry["rules"]:
            parts.append(t(loc, "控制图信号：", "control chart: ") + t(loc, "；", "; ").join(entry["rules"]))
        causes = []
        cycle = cycles.get((department, kpi)) if department else None
        actions = actions_of(session, cycle) if cycle is not None else []
        if cycle is not None and cycle.root_cause:
            causes.append(t(loc, f"根本原因（{cycle.ref}）：{cycle.root_cause}", f"root cause ({cycle.ref}): {cycle.root_cause}"))
        causes += [t(loc, f"根本原因（{a.ref}）：{a.root_cause}", f"root cause ({a.ref}): {a.root_cause}")
                   for a in actions if a.root_cause]
        if kpi in COMPLAINT_KPIS and len(complaints):
            scope = complaints if department is None else complaints[complaints["department"] == department]
            top = scope["category"].value_counts().head(TOP_CATEGORIES)
            if len(top):
                causes.append(t(loc, "主要投诉类别：", "main complaint categories: ") + t(loc, "、", ", ").join(
                    f"{c} {n}" for c, n in top.items()))
        measures = []
        if cycle is not None:
            measures.append({"ref": cycle.ref, "title": t(loc, f"PDCA 循环（第 {cycle.iteration} 轮）", f"PDCA cycle (iteration {cycle.iteration})"),
                             "owner": cycle.owner, "due": None, "status": cycle.status})
            measures += [{"ref": a.ref, "title": a.title, "owner": a.owner, "due": a.due_on, "status": a.status}
                         for a in actions]
        proposal = None if measures else t(
            loc, f"由{who if department else '质量经理'}分析原因并制定改进措施；持续未达标或出现信号时系统将开启 PDCA 循环。",
            f"{who if department else 'the quality manager'} analyses the causes and sets measures; "
            "a PDCA cycle opens when the miss persists or a signal appears.")
        out.append({"department": who, "department_code": department, "kpi": kpi, "label": label,
                    "finding": t(loc, "；", "; ").join(parts), "causes": causes, "measures": measures,
                    "proposal": proposal, "missed": entry["missed"]})
    out.sort(key=lambda p: (p["department_code"] is not None, p["department_code"] or "", p["kpi"]))
    return out


def _target(report: Any, department: str | None, kpi: str) -> float | None:
    frame: pd.DataFrame = report.kpis if department is None else report.department_kpis[
        report.department_kpis["department"] == department]
    row = frame[frame["kpi"] == kpi]
    return None if row.empty or is_missing(row["target"].iloc[0]) else float(row["target"].iloc[0])
