"""评审输入 — the input pack of the annual management review: data only (plain values and DataFrames).

The regulation has top management review, once a year, the year's plan and its results: the KPI
results against the year's targets, the customer-satisfaction surveys, the complaint report, the
internal audit reports and the state of their nonconformities, the improvement cycles and the
corrective actions, what became of the previous review's decisions, and each department's annual
report. `build_pack` gathers all of that for one year from what SQMS already keeps, so nobody
copies figures by hand into slides; `sqms.reviews.rendering` renders it (HTML, XLSX).

KPI completion (目标完成情况) judges every stored monthly value (the latest computation of each
month; a month never computed is computed and stored now) against the year's target of its KPI
and department (`settings.kpi.target`), in the KPI's direction: completion = months met / months
judged, a month without data or without a target is not judged.

    pack = build_pack(session, settings, review)      # data only
    pack.kpi_completion, pack.complaints_by_department, pack.summary, pack.key_figures()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sqms.actions.models import ACTION_STATE_LABELS, DONE, IN_PROGRESS, OPEN, VERIFIED, Action
from sqms.audits.models import AuditCycle
from sqms.audits.service import cycle_findings
from sqms.calendar import month_bounds, to_local, utcnow
from sqms.complaints.models import Complaint
from sqms.complaints.service import settlement
from sqms.records.targets import effective_settings
from sqms.config import Settings
from sqms.db import read_frame
from sqms.improvement.models import CLOSED as CYCLE_CLOSED
from sqms.improvement.models import ImprovementCycle
from sqms.kpi_catalog import KPIS, status_of
from sqms.records.service import compute_and_store, latest_computation
from sqms.reporting.formatting import is_missing, kpi_label, organisation_name, t
from sqms.reviews.models import DepartmentReport, ManagementReview, ReviewOutput
from sqms.surveys.analysis import scores
from sqms.surveys.models import ANALYSED, REPORTED, SurveyCampaign, SurveyResponse

JUDGED = ("met", "missed")
TARGETED_KPIS = tuple(k.code for k in KPIS if k.better is not None)  # record_volume informs, nobody meets it

# what an action came from, in the two report languages: zh_CN, en
SOURCE_LABELS: dict[str, tuple[str, str]] = {
    "complaint": ("投诉", "Complaints"), "audit_finding": ("内审发现", "Audit findings"),
    "review_decision": ("管理评审决议", "Review decisions"), "improvement_cycle": ("持续改进（PDCA）", "PDCA cycles"),
    "kpi_miss": ("指标未达标", "KPI misses"), "survey": ("满意度调查", "Surveys"), "manual": ("其他", "Other"),
}
CYCLE_STATE_LABELS: dict[str, tuple[str, str]] = {
    "plan": ("计划（P）", "plan"), "do": ("实施（D）", "do"), "check": ("检查（C）", "check"),
    "act": ("处置（A）", "act"), "closed": ("已关闭", "closed"),
}
OUTPUT_KIND_LABELS: dict[str, tuple[str, str]] = {
    "decision": ("评审决议", "Decision"), "improvement": ("改进机会", "Improvement opportunity"),
    "resource": ("资源需求", "Resource need"), "objective_change": ("目标调整", "Change of target"),
}


def label(labels: dict[str, tuple[str, str]], key: str | None, locale: str) -> str:
    """A code in the report language (the code itself when it has no label)."""
    zh, en = labels.get(key or "", (key or "", key or ""))
    return t(locale, zh, en)


@dataclass
class ReviewPack:
    """Everything the input pack shows, as plain values and DataFrames.

    - `participants`: email, name, department_name, roles
    - `kpi_values`: one row per stored monthly value: period, kpi, department (None = organisation),
      value, n, low_confidence, target (the year's), status (judged now against that target)
    - `kpi_completion`: per KPI with a target and scope (organisation, then each department): kpi,
      kpi_label, department, department_name, target, months_with_data, judged, met, missed,
      completion_pct, mean_value (mean of the monthly values)
    - `completion_by_month`: period, judged, met, missed, completion_pct — the organisation's KPIs
    - `completion_by_department`: department (None first = organisation), department_name, judged, met,
      missed, completion_pct — every KPI and month of that scope
    - `surveys`: analysed campaigns of the year with their key figures; `survey_scores`: the year's
      responses per scope (responses, csat_mean, top2_pct, nps, low_confidence)
    - `complaints`: the year's totals; `complaints_by_department`, `complaints_by_month`,
      `complaint_categories` (most frequent first, with the cumulative share)
    - `audits`: the year's internal audit cycles and their counts; `nonconformities`: their
      nonconformities with the corrective action and where it stands
    - `improvement_cycles`: PDCA cycles opened in the year or still running
    - `actions`: per source, actions opened in the year and where all of them stand; `overdue_actions`
    - `previous_actions`: the previous review's outputs that became actions, and their status
    - `department_reports`: every department: its manager, submitted or not, late or not, the text
    - `totals`: key figures; `summary`: the sentences the meeting reads first
    """

    year: int
    review_code: str
    organisation: str
    locale: str
    timezone: str
    generated_at: datetime
    as_of: datetime
    meeting_on: date
    meeting_time: str
    meeting_place: str
    reports_due_on: date
    periods: list[str]
    participants: pd.DataFrame
    kpi_values: pd.DataFrame
    kpi_completion: pd.DataFrame
    completion_by_month: pd.DataFrame
    completion_by_department: pd.DataFrame
    surveys: pd.DataFrame
    survey_scores: pd.DataFrame
    complaints: dict[str, Any]
    complaints_by_department: pd.DataFrame
    complaints_by_month: pd.DataFrame
    complaint_categories: pd.DataFrame
    audits: pd.DataFrame
    nonconformities: pd.DataFrame
    improvement_cycles: pd.DataFrame
    actions: pd.DataFrame
    overdue_actions: pd.DataFrame
    previous_actions: pd.DataFrame
    department_reports: pd.DataFrame
    totals: dict[str, Any] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)

    def key_figures(self) -> dict[str, Any]:
        """JSON-ready figures kept with the generated pack (the review report quotes them)."""
        def plain(value: Any) -> Any:  # JSON has no NaN (PostgreSQL refuses it): missing is null
            if is_missing(value):
                return None
            if isinstance(value, (str, bool, int)):
                return value
            return float(value) if isinstance(value, float) else int(value)

        return {"year": self.year, "meeting_on": self.meeting_on.isoformat(),
                "totals": {k: plain(v) for k, v in self.totals.items()}, "summary": list(self.summary)}


@dataclass
class Names:
    """Names in the report language, and the configured order of the departments."""

    locale: str
    departments: dict[str, str]
    people: dict[str, str]
    order: list[str]

    def department(self, code: str | None) -> str:
        return t(self.locale, "组织整体", "Organisation") if code is None else self.departments.get(code, code)

    def person(self, email: str | None) -> str | None:
        return None if email is None else self.people.get(email, email)


def names_of(settings: Settings) -> Names:
    locale = settings.locale
    return Names(locale, {d.code: d.label(locale) for d in settings.departments},
                  {p.email: p.name for p in settings.people}, [d.code for d in settings.departments])


def year_bounds(year: int, settings: Settings) -> tuple[datetime, datetime]:
    """[1 January, 1 January of the next year) in local time, as UTC: what "the year" means everywhere."""
    return month_bounds(f"{year}-01", settings.tz)[0], month_bounds(f"{year}-12", settings.tz)[1]


def year_periods(year: int, as_of: datetime, settings: Settings) -> list[str]:
    """The months of the year complete by `as_of` (all twelve for a past year): a month still under way
    would show as a month of misses (its complaints not yet due, its surveys not yet in)."""
    return [p for p in (f"{year}-{m:02d}" for m in range(1, 13)) if month_bounds(p, settings.tz)[1] <= as_of]


def _share(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


# -- KPIs against the year's targets ------------------------------------------------------------------


def kpi_values(session: Session, settings: Settings, periods: Iterable[str], as_of: datetime) -> pd.DataFrame:
    """Each month's values from its latest computation (a month never computed is computed and kept),
    judged against the year's target: the pack answers "did we meet this year's targets", whatever
    target a month was computed with."""
    rows = []
    for period in periods:
        computation = latest_computation(session, period) or compute_and_store(session, settings, period, as_of)
        for v in computation.values:
            target = settings.kpi.target(v.kpi, v.department)
            rows.append({"period": period, "kpi": v.kpi, "department": v.department, "value": v.value, "n": v.n,
                         "low_confidence": bool(v.low_confidence), "target": target,
                         "status": status_of(v.kpi, v.value, target)})
    return pd.DataFrame(rows, columns=["period", "kpi", "department", "value", "n", "low_confidence", "target",
                                       "status"]).astype({"value": "float64", "target": "float64"})


def _counts(statuses: pd.Series) -> dict[str, Any]:
    met, missed = int((statuses == "met").sum()), int((statuses == "missed").sum())
    return {"judged": met + missed, "met": met, "missed": missed, "completion_pct": _share(met, met + missed)}


def _scope(values: pd.DataFrame, department: str | None) -> pd.DataFrame:
    return values[values["department"].isna()] if department is None else values[values["department"] == department]


def kpi_completion(values: pd.DataFrame, settings: Settings, names: Names) -> pd.DataFrame:
    """Per KPI and scope (organisation first, then departments in configured order): months met of
    months judged, with the year's target and the mean monthly value."""
    rows = []
    for kpi in TARGETED_KPIS:
        mine = values[values["kpi"] == kpi]
        for department in [None, *names.order]:
            part = _scope(mine, department)
            rows.append({"kpi": kpi, "kpi_label": kpi_label(kpi, names.locale), "department": department,
                         "department_name": names.department(department),
                         "target": settings.kpi.target(kpi, department),
                         "months_with_data": int(part["value"].notna().sum()), **_counts(part["status"]),
                         "mean_value": float(part["value"].mean()) if part["value"].notna().any() else None})
    return pd.DataFrame(rows).astype({"target": "float64", "completion_pct": "float64", "mean_value": "float64"})


def completion_by_month(values: pd.DataFrame, periods: list[str]) -> pd.DataFrame:
    """The organisation's targets met, month by month (every month listed, judged or not)."""
    org = _scope(values, None)
    rows = [{"period": p, **_counts(org[org["period"] == p]["status"])} for p in periods]
    return pd.DataFrame(rows, columns=["period", "judged", "met", "missed", "completion_pct"]).astype(
        {"completion_pct": "float64"})


def completion_by_department(values: pd.DataFrame, names: Names) -> pd.DataFrame:
    """Targets met over the year: the organisation, then every department."""
    rows = [{"department": d, "department_name": names.department(d), **_counts(_scope(values, d)["status"])}
            for d in [None, *names.order]]
    return pd.DataFrame(rows).astype({"completion_pct": "float64"})


# -- surveys -----------------------------------------------------------------------------------------


def survey_campaigns(session: Session, year: int) -> pd.DataFrame:
    """Analysed campaigns whose service period lies in the year, with the key figures they keep."""
    campaigns = session.scalars(select(SurveyCampaign).where(
        SurveyCampaign.status.in_((ANALYSED, REPORTED))).order_by(SurveyCampaign.period_start, SurveyCampaign.id))
    rows = []
    for c in campaigns:
        if year not in (c.period_start.year, c.period_end.year):
            continue
        a = c.analysis or {}
        rows.append({"code": c.code, "kind": c.kind, "period_start": c.period_start, "period_end": c.period_end,
                     "invited": a.get("invited"), "responded": a.get("responded"),
                     "response_rate": a.get("response_rate"), "csat_mean": a.get("csat_mean"),
                     "top2_pct": a.get("top2_pct"), "nps": a.get("nps"), "detractors": a.get("detractors")})
    columns = ["code", "kind", "period_start", "period_end", "invited", "responded", "response_rate", "csat_mean",
               "top2_pct", "nps", "detractors"]
    return pd.DataFrame(rows, columns=columns).astype(
        {"response_rate": "float64", "csat_mean": "float64", "top2_pct": "float64", "nps": "float64"})


def survey_scores(session: Session, settings: Settings, year: int, names: Names) -> pd.DataFrame:
    """CSAT and NPS of every response submitted in the year (campaign or not), per scope."""
    start, end = year_bounds(year, settings)
    table = SurveyResponse.__table__
    frame = read_frame(session.connection(), [table.c.department, table.c.csat, table.c.nps],
                       table.c.submitted_at >= start, table.c.submitted_at < end)
    frame["csat"], frame["nps"] = pd.to_numeric(frame["csat"]), pd.to_numeric(frame["nps"])
    rows = []
    for department in [None, *names.order]:
        part = frame if department is None else frame[frame["department"] == department]
        s = scores(part, settings.kpi.low_confidence_n)
        rows.append({"department": department, "department_name": names.department(department), "responses": s.n,
                     "csat_mean": s.csat_mean, "top2_pct": s.top2_pct, "nps": s.nps,
                     "low_confidence": s.low_confidence})
    return pd.DataFrame(rows).astype({"csat_mean": "float64", "top2_pct": "float64", "nps": "float64"})


# -- complaints --------------------------------------------------------------------------------------


def year_complaints(session: Session, settings: Settings, year: int) -> pd.DataFrame:
    """The complaints received in the year (naive-UTC times) with the local month of receipt."""
    start, end = year_bounds(year, settings)
    table = Complaint.__table__
    frame = read_frame(session.connection(), [table.c[c] for c in (
        "complaint_id", "received_at", "department", "severity", "category", "resolved_at", "deadline_at")],
        table.c.received_at >= start, table.c.received_at < end)
    local = frame["received_at"].dt.tz_localize("UTC").dt.tz_convert(settings.tz)
    frame["period"] = local.dt.strftime("%Y-%m") if len(frame) else pd.Series([], dtype=object)
    frame["category"] = [(c or "").strip() or t(settings.locale, "（未分类）", "(uncategorised)")
                         for c in frame["category"]]
    return frame


def complaint_tables(frame: pd.DataFrame, as_of: datetime, names: Names, periods: list[str]
                     ) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Totals, per department, per month and per category, with closure and on-time rates as the KPIs
    define them (the same `settlement` the complaint report uses)."""
    as_of_ts = pd.Timestamp(as_of).tz_convert("UTC").tz_localize(None)

    def figures(part: pd.DataFrame) -> dict[str, Any]:
        return {**settlement(part, as_of_ts), "special": int((part["severity"] == "special").sum()),
                "open": int(part["resolved_at"].isna().sum())}

    totals = figures(frame)
    by_department = pd.DataFrame([{"department": d, "department_name": names.department(d),
                                   **figures(frame[frame["department"] == d])} for d in names.order])
    by_month = pd.DataFrame([{"period": p, **figures(frame[frame["period"] == p])} for p in periods])
    counts = frame["category"].value_counts()
    categories = pd.DataFrame({"category": counts.index.astype(str), "count": counts.to_numpy(dtype="int64")})
    categories = categories.sort_values(["count", "category"], ascending=[False, True]).reset_index(drop=True)
    categories["share_pct"] = 100.0 * categories["count"] / len(frame) if len(frame) else pd.Series(dtype=float)
    categories["cumulative_pct"] = categories["share_pct"].cumsum()
    rates = {"closure_pct": "float64", "on_time_pct": "float64"}
    return totals, by_department.astype(rates), (by_month.astype(rates) if len(by_month) else by_month), categories


# -- internal audits ---------------------------------------------------------------------------------


def audit_tables(session: Session, settings: Settings, year: int, as_of: datetime) -> tuple[pd.DataFrame,
                                                                                           pd.DataFrame]:
    """The year's audit cycles (2026-H1, 2026-H2) with their counts, and every nonconformity they
    found with its corrective action as it stands now (the audit report's own reading of them)."""
    cycles = session.scalars(select(AuditCycle).where(AuditCycle.code.like(f"{year}-%")).order_by(AuditCycle.id))
    rows, ncs = [], []
    for cycle in cycles:
        report = cycle_findings(session, settings, cycle, as_of)
        k = report.totals
        open_ncs = report.nonconformities[
            (report.nonconformities["action_status"] != VERIFIED) & ~report.nonconformities["carried_over"]]
        rows.append({"code": cycle.code, "status": cycle.status, "first_day": report.first_day,
                     "last_day": report.last_day, "departments": k["departments"], "major": k["major"],
                     "minor": k["minor"], "observation": k["observation"], "improvement": k["improvement"],
                     "repeat": k["repeat"], "open_nonconformities": len(open_ncs)})
        ncs.append(report.nonconformities.assign(cycle=cycle.code))
    audits = pd.DataFrame(rows, columns=["code", "status", "first_day", "last_day", "departments", "major", "minor",
                                         "observation", "improvement", "repeat", "open_nonconformities"])
    columns = ["cycle", "department", "department_name", "item_code", "result", "result_label", "question", "notes",
               "action_ref", "owner_name", "due_on", "action_status", "action_status_label", "overdue",
               "carried_over"]
    nonconformities = pd.concat(ncs, ignore_index=True)[columns] if ncs else pd.DataFrame(columns=columns)
    return audits, nonconformities


# -- improvement and actions -------------------------------------------------------------------------


def improvement_cycles(session: Session, settings: Settings, year: int, names: Names) -> pd.DataFrame:
    """PDCA cycles opened in the year, closed in it, or still running: what improvement was under way."""
    start, end = year_bounds(year, settings)
    cycles = session.scalars(select(ImprovementCycle).where(or_(
        ImprovementCycle.opened_period.like(f"{year}-%"), ImprovementCycle.status != CYCLE_CLOSED,
        (ImprovementCycle.closed_at >= start) & (ImprovementCycle.closed_at < end))).order_by(ImprovementCycle.id))
    rows = [{"ref": c.ref, "department": c.department, "department_name": names.department(c.department),
             "kpi": c.kpi, "kpi_label": kpi_label(c.kpi, names.locale) if c.kpi in TARGETED_KPIS else c.kpi,
             "status": c.status, "status_label": label(CYCLE_STATE_LABELS, c.status, names.locale),
             "iteration": c.iteration, "owner": c.owner, "owner_name": names.person(c.owner),
             "opened_period": c.opened_period, "reason": c.reason, "baseline": c.baseline, "target": c.target,
             "check_period": c.check_period, "check_value": c.check_value, "check_met": c.check_met,
             "standard": c.standard} for c in cycles]
    columns = ["ref", "department", "department_name", "kpi", "kpi_label", "status", "status_label", "iteration",
               "owner", "owner_name", "opened_period", "reason", "baseline", "target", "check_period", "check_value",
               "check_met", "standard"]
    return pd.DataFrame(rows, columns=columns).astype({"baseline": "float64", "target": "float64",
                                                       "check_value": "float64"})


def _action_row(a: Action, today: date, names: Names) -> dict[str, Any]:
    return {"ref": a.ref, "source": a.source, "source_label": label(SOURCE_LABELS, a.source, names.locale),
            "title": a.title, "department_name": names.department(a.department), "owner": a.owner,
            "owner_name": names.person(a.owner), "due_on": a.due_on, "status": a.status,
            "status_label": label(ACTION_STATE_LABELS, a.status, names.locale),
            "overdue": a.status in (OPEN, IN_PROGRESS) and a.due_on < today}


_ACTION_COLUMNS = ["ref", "source", "source_label", "title", "department_name", "owner", "owner_name", "due_on",
                   "status", "status_label", "overdue"]


def action_tables(session: Session, settings: Settings, year: int, as_of: datetime, names: Names
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per source: actions opened in the year, and where the year's and the older still-unverified
    ones stand now; plus the overdue ones by name (what the meeting has to chase)."""
    start, end = year_bounds(year, settings)
    today = to_local(as_of, settings.tz).date()
    found = session.scalars(select(Action).where(Action.created_at < end, or_(
        Action.created_at >= start, Action.status != VERIFIED)).order_by(Action.due_on, Action.id)).all()
    rows = [{**_action_row(a, today, names), "in_year": a.created_at >= start} for a in found]
    frame = pd.DataFrame(rows, columns=[*_ACTION_COLUMNS, "in_year"])
    summary = []
    for source in SOURCE_LABELS:
        part = frame[frame["source"] == source]
        summary.append({"source": source, "source_label": label(SOURCE_LABELS, source, names.locale),
                        "opened_in_year": int(part["in_year"].sum()),
                        "open": int(part["status"].isin([OPEN, IN_PROGRESS]).sum()),
                        "done": int((part["status"] == DONE).sum()),
                        "verified": int((part["status"] == VERIFIED).sum()),
                        "overdue": int(part["overdue"].sum())})
    overdue = frame[frame["overdue"].astype(bool)].drop(columns=["in_year"]).reset_index(drop=True)
    return pd.DataFrame(summary), overdue


def previous_actions(session: Session, settings: Settings, year: int, as_of: datetime, names: Names) -> pd.DataFrame:
    """The previous review's outputs that became actions, and where each stands: the first thing a
    management review follows up."""
    previous = session.scalars(select(ManagementReview).where(ManagementReview.year == year - 1)).first()
    if previous is None:
        return pd.DataFrame(columns=["kind", "kind_label", "text", *_ACTION_COLUMNS])
    today = to_local(as_of, settings.tz).date()
    outputs = session.scalars(select(ReviewOutput).where(ReviewOutput.review_id == previous.id,
                                                         ReviewOutput.action_id.is_not(None))
                              .order_by(ReviewOutput.id)).all()
    actions = {a.id: a for a in session.scalars(select(Action).where(Action.id.in_([o.action_id for o in outputs])))}
    rows = [{"kind": o.kind, "kind_label": label(OUTPUT_KIND_LABELS, o.kind, names.locale), "text": o.text,
             **_action_row(actions[o.action_id], today, names)} for o in outputs if o.action_id in actions]
    return pd.DataFrame(rows, columns=["kind", "kind_label", "text", *_ACTION_COLUMNS])


# -- department reports and participants ----------------------------------------------------------------


def department_reports(session: Session, settings: Settings, review: ManagementReview, names: Names) -> pd.DataFrame:
    """Every department: who reports (its manager), whether the annual report is in and in time."""
    submitted = {r.department: r for r in session.scalars(
        select(DepartmentReport).where(DepartmentReport.review_id == review.id))}
    rows = []
    for code in names.order:
        manager = settings.department_manager(code)
        r = submitted.get(code)
        day = to_local(r.submitted_at, settings.tz).date() if r else None
        rows.append({"department": code, "department_name": names.department(code),
                     "manager": manager.email if manager else None, "manager_name": manager.name if manager else None,
                     "submitted": r is not None, "submitted_at": r.submitted_at if r else None,
                     "late": bool(day and day > review.reports_due_on), "text": r.text if r else None,
                     "file_path": r.file_path if r else None,
                     "file_name": r.file_path.rsplit("/", 1)[-1] if r and r.file_path else None})
    return pd.DataFrame(rows)


def participants(settings: Settings, review: ManagementReview, names: Names) -> pd.DataFrame:
    people = {p.email: p for p in settings.people}
    rows = []
    for email in review.participants:
        p = people.get(email)
        rows.append({"email": email, "name": p.name if p else email,
                     "department_name": names.department(p.department) if p else None,
                     "roles": ", ".join(p.roles) if p else ""})
    return pd.DataFrame(rows, columns=["email", "name", "department_name", "roles"])


# -- key figures and the summary --------------------------------------------------------------------------


def _totals(p: ReviewPack) -> dict[str, Any]:
    org = p.completion_by_department.iloc[0]
    departments = p.completion_by_department.iloc[1:]
    judged = departments[departments["judged"] > 0]
    weakest = judged.sort_values(["completion_pct", "department_name"]).iloc[0] if len(judged) else None
    org_scores = p.survey_scores.iloc[0]
    reports = p.department_reports
    prev = p.previous_actions
    return {
        "kpi_judged": int(org["judged"]), "kpi_met": int(org["met"]), "kpi_completion_pct": org["completion_pct"],
        "weakest_department": weakest["department_name"] if weakest is not None else None,
        "weakest_completion_pct": weakest["completion_pct"] if weakest is not None else None,
        "complaints": p.complaints["received"], "complaint_closure_pct": p.complaints["closure_pct"],
        "complaint_on_time_pct": p.complaints["on_time_pct"], "complaints_special": p.complaints["special"],
        "complaints_open": p.complaints["open"],
        "survey_campaigns": len(p.surveys), "survey_responses": int(org_scores["responses"]),
        "csat_mean": org_scores["csat_mean"], "nps": org_scores["nps"],
        "audits": len(p.audits), "nonconformities": len(p.nonconformities),
        "open_nonconformities": int(p.audits["open_nonconformities"].sum()) if len(p.audits) else 0,
        "improvement_cycles": len(p.improvement_cycles),
        "improvement_cycles_open": int((p.improvement_cycles["status"] != CYCLE_CLOSED).sum()),
        "actions_opened": int(p.actions["opened_in_year"].sum()), "actions_open": int(p.actions["open"].sum()),
        "actions_overdue": len(p.overdue_actions),
        "previous_actions": len(prev), "previous_verified": int((prev["status"] == VERIFIED).sum()),
        "previous_overdue": int(prev["overdue"].astype(bool).sum()),
        "reports_expected": len(reports), "reports_submitted": int(reports["submitted"].sum()),
        "reports_late": int(reports["late"].sum()),
    }


def _pct(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.1f}%"


def _num(value: Any, decimals: int = 1) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.{decimals}f}"


def executive_summary(p: ReviewPack) -> list[str]:
    """The sentences the meeting reads first: targets, complaints, satisfaction, audits, improvement,
    the follow-up of last year's decisions and which departments have reported."""
    loc, k = p.locale, p.totals
    weakest = (t(loc, f"完成率最低的是{k['weakest_department']}（{_pct(k['weakest_completion_pct'])}）",
                 f"lowest: {k['weakest_department']} ({_pct(k['weakest_completion_pct'])})")
               if k["weakest_department"] else t(loc, "各部门尚无可评价的指标", "no department has judged values"))
    out = [
        t(loc, f"{p.year}年组织层面指标共评价 {k['kpi_judged']} 个月次，达标 {k['kpi_met']} 个，目标完成率 "
               f"{_pct(k['kpi_completion_pct'])}；{weakest}。",
          f"In {p.year} the organisation's KPIs were judged {k['kpi_judged']} times (KPI × month) and met "
          f"{k['kpi_met']}: completion {_pct(k['kpi_completion_pct'])}; {weakest}."),
        t(loc, f"全年受理投诉 {k['complaints']} 件（重大投诉 {k['complaints_special']} 件），办结率 "
               f"{_pct(k['complaint_closure_pct'])}，按期办结率 {_pct(k['complaint_on_time_pct'])}，尚未办结 "
               f"{k['complaints_open']} 件。",
          f"{k['complaints']} complaints were received ({k['complaints_special']} special): closure "
          f"{_pct(k['complaint_closure_pct'])}, on time {_pct(k['complaint_on_time_pct'])}, {k['complaints_open']} "
          "still open."),
        t(loc, f"全年收回满意度问卷 {k['survey_responses']} 份（调查 {k['survey_campaigns']} 次），客户满意度均值 "
               f"{_num(k['csat_mean'], 2)}，净推荐值 {_num(k['nps'])}。",
          f"{k['survey_responses']} survey responses ({k['survey_campaigns']} campaigns): CSAT "
          f"{_num(k['csat_mean'], 2)}, NPS {_num(k['nps'])}."),
        t(loc, f"内部审核 {k['audits']} 次，发现不符合项 {k['nonconformities']} 项，尚未验证关闭 "
               f"{k['open_nonconformities']} 项；持续改进（PDCA）循环 {k['improvement_cycles']} 个，进行中 "
               f"{k['improvement_cycles_open']} 个；纠正预防措施全年新开 {k['actions_opened']} 项，逾期 "
               f"{k['actions_overdue']} 项。",
          f"{k['audits']} internal audits found {k['nonconformities']} nonconformities, {k['open_nonconformities']} "
          f"not yet verified; {k['improvement_cycles']} PDCA cycles, {k['improvement_cycles_open']} under way; "
          f"{k['actions_opened']} actions opened in the year, {k['actions_overdue']} overdue."),
    ]
    if len(p.periods) < 12:
        last = p.periods[-1] if p.periods else None
        out.insert(0, t(loc, f"{p.year}年尚未结束：月度数据截至最后一个完整月份 {last}。" if last else
                        f"{p.year}年尚无完整月份：暂无月度数据。",
                        f"{p.year} is not over: the monthly figures run to the last complete month, {last}."
                        if last else f"{p.year} has no complete month yet: no monthly figures."))
    if k["previous_actions"]:
        out.append(t(loc, f"上次管理评审形成措施 {k['previous_actions']} 项，已验证关闭 {k['previous_verified']} 项，"
                          f"逾期 {k['previous_overdue']} 项。",
                     f"The previous review's {k['previous_actions']} actions: {k['previous_verified']} verified, "
                     f"{k['previous_overdue']} overdue."))
    out.append(t(loc, f"各部门年度工作报告已提交 {k['reports_submitted']}/{k['reports_expected']} 份"
                      + (f"（逾期提交 {k['reports_late']} 份）" if k["reports_late"] else "") + "。",
                 f"Department annual reports: {k['reports_submitted']} of {k['reports_expected']} in"
                 + (f" ({k['reports_late']} late)" if k["reports_late"] else "") + "."))
    return out


# -- building it ----------------------------------------------------------------------------------------


def build_pack(session: Session, settings: Settings, review: ManagementReview, *,
               as_of: datetime | None = None) -> ReviewPack:
    """The input pack of `review` as things stand at `as_of` (default now)."""
    as_of = as_of or utcnow()
    settings = effective_settings(session, settings, review.year)  # judged against that year's targets
    names = names_of(settings)
    periods = year_periods(review.year, as_of, settings)
    values = kpi_values(session, settings, periods, as_of)
    complaints, by_dept, by_month, categories = complaint_tables(
        year_complaints(session, settings, review.year), as_of, names, periods)
    audits, nonconformities = audit_tables(session, settings, review.year, as_of)
    actions, overdue = action_tables(session, settings, review.year, as_of, names)
    pack = ReviewPack(
        year=review.year, review_code=review.code, organisation=organisation_name(settings.organisation, names.locale),
        locale=names.locale, timezone=settings.organisation.timezone, generated_at=utcnow(), as_of=as_of,
        meeting_on=review.meeting_on, meeting_time=settings.review.meeting_time,
        meeting_place=settings.review.meeting_place, reports_due_on=review.reports_due_on, periods=periods,
        participants=participants(settings, review, names), kpi_values=values,
        kpi_completion=kpi_completion(values, settings, names),
        completion_by_month=completion_by_month(values, periods),
        completion_by_department=completion_by_department(values, names),
        surveys=survey_campaigns(session, review.year),
        survey_scores=survey_scores(session, settings, review.year, names),
        complaints=complaints, complaints_by_department=by_dept, complaints_by_month=by_month,
        complaint_categories=categories, audits=audits, nonconformities=nonconformities,
        improvement_cycles=improvement_cycles(session, settings, review.year, names), actions=actions,
        overdue_actions=overdue, previous_actions=previous_actions(session, settings, review.year, as_of, names),
        department_reports=department_reports(session, settings, review, names),
    )
    pack.totals = _totals(pack)
    pack.summary = executive_summary(pack) + [governance_summary(session, settings, periods, as_of)]
    return pack


def governance_summary(session: Session, settings: Settings, periods: list[str], as_of: datetime) -> str:
    """The standards register and the year's suggestions in one sentence (SOP training completion is in
    the KPI tables with the other KPIs)."""
    from sqms.standards.service import register_figures
    from sqms.suggestions.service import month_figures

    reg = register_figures(session, settings, as_of)
    months = [month_figures(session, settings, p) for p in periods]
    received, evaluated, accepted = (sum(m[k] for m in months) for k in ("received", "evaluated", "accepted"))
    rate = f"{100.0 * accepted / evaluated:.1f}%" if evaluated else "—"
    return t(settings.locale,
             f"制度/规范现行 {reg['in_force']} 项，逾期未评审 {len(reg['reviews_overdue'])} 项，培训未完成 "
             f"{reg['trainings_open']} 人次；全年收到合理化建议 {received} 条，已评估 {evaluated} 条，采纳 {accepted} 条，"
             f"采纳率 {rate}。",
             f"{reg['in_force']} standards in force, {len(reg['reviews_overdue'])} reviews overdue, "
             f"{reg['trainings_open']} trainings open; {received} suggestions in the year, {evaluated} evaluated, "
             f"{accepted} adopted (adoption rate {rate}).")


__all__ = ["OUTPUT_KIND_LABELS", "SOURCE_LABELS", "Names", "ReviewPack", "build_pack", "department_reports", "label",
           "names_of", "participants", "year_bounds"]
