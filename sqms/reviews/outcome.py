"""管理评审报告的数据 — what the management review report shows, built from what the meeting decided
(`ReviewOutput` rows and the actions they opened) plus the key figures kept with the pack, so the report
quotes exactly the inputs the participants received. How it is rendered is `sqms.reviews.rendering`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.actions.models import ACTION_STATE_LABELS, Action
from sqms.calendar import utcnow
from sqms.config import Settings
from sqms.reporting.formatting import fmt_target, kpi_label, organisation_name, t
from sqms.reporting.models import GeneratedReport
from sqms.reviews.models import ManagementReview, ReviewOutput
from sqms.reviews.pack import OUTPUT_KIND_LABELS, department_reports, label, names_of, participants


_OUTPUT_COLUMNS = ["id", "kind", "kind_label", "text", "owner", "owner_name", "due_on", "action_id", "action_ref",
                   "action_status", "action_status_label"]
_TARGET_COLUMNS = ["kpi", "kpi_label", "department", "department_name", "old_target", "new_target", "old_label",
                   "new_label", "text"]


@dataclass
class ReviewReport:
    """What the management review report shows.

    - `participants`: everyone invited or present, with `invited` and `present` (None while the
      attendance is not recorded: the invitation list is never taken for the attendance);
      `inputs`: the pack's summary sentences (what was reviewed)
    - `department_reports`: department_name, submitted, late
    - `decisions`, `improvements`, `resources`: the outputs of that kind (`_OUTPUT_COLUMNS`): text, owner,
      due date and the action opened for it with its state now
    - `target_changes`: KPI, scope, the old and the new target (for `applies_to`, the next year)
    - `totals`, `summary`
    """

    year: int
    review_code: str
    status: str
    organisation: str
    locale: str
    timezone: str
    generated_at: datetime
    meeting_on: date
    meeting_time: str
    meeting_place: str
    minutes: str | None
    applies_to: int
    participants: pd.DataFrame
    inputs: list[str]
    department_reports: pd.DataFrame
    decisions: pd.DataFrame
    improvements: pd.DataFrame
    resources: pd.DataFrame
    target_changes: pd.DataFrame
    totals: dict[str, Any] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)


def _output_rows(outputs: list[ReviewOutput], actions: dict[int, Action], settings: Settings) -> pd.DataFrame:
    loc, people = settings.locale, {p.email: p.name for p in settings.people}
    rows = []
    for o in outputs:
        a = actions.get(o.action_id) if o.action_id else None
        rows.append({"id": o.id, "kind": o.kind, "kind_label": label(OUTPUT_KIND_LABELS, o.kind, loc), "text": o.text,
                     "owner": o.owner, "owner_name": people.get(o.owner, o.owner) if o.owner else None,
                     "due_on": o.due_on, "action_id": a.id if a else None, "action_ref": a.ref if a else None,
                     "action_status": a.status if a else None,
                     "action_status_label": label(ACTION_STATE_LABELS, a.status, loc) if a else None})
    return pd.DataFrame(rows, columns=_OUTPUT_COLUMNS).astype({"action_id": "Int64"})


def _target_rows(outputs: list[ReviewOutput], settings: Settings) -> pd.DataFrame:
    loc = settings.locale
    names = {d.code: d.label(loc) for d in settings.departments}
    rows = [{"kpi": o.kpi, "kpi_label": kpi_label(o.kpi, loc), "department": o.department,
             "department_name": names.get(o.department, o.department) if o.department else t(loc, "组织整体",
                                                                                             "Organisation"),
             "old_target": o.old_target, "new_target": o.new_target,
             "old_label": fmt_target(o.old_target, o.kpi, loc), "new_label": fmt_target(o.new_target, o.kpi, loc),
             "text": o.text} for o in outputs]
    return pd.DataFrame(rows, columns=_TARGET_COLUMNS).astype({"old_target": "float64", "new_target": "float64"})


def _attendance(settings: Settings, review: ManagementReview, names) -> pd.DataFrame:
    """Invited and present people: `present` None for everyone while attendance is not recorded."""
    invited = participants(settings, review, names).assign(invited=True)
    present = review.attendees
    extra = [e for e in (present or []) if e not in set(review.participants)]
    if extra:
        guests = participants(settings, SimpleNamespace(participants=extra), names).assign(invited=False)
        invited = pd.concat([invited, guests], ignore_index=True)
    invited["present"] = [None if present is None else e in present for e in invited["email"]]
    return invited.astype({"present": object})


def _report_summary(r: ReviewReport) -> list[str]:
    loc, k = r.locale, r.totals
    if k["attended"] is None:
        who = t(loc, f"受邀 {k['invited']} 名，出席情况未记录", f"{k['invited']} invited, attendance not recorded")
    else:
        absent = t(loc, f"，缺席 {k['absent']} 名", f", {k['absent']} absent") if k["absent"] else ""
        who = t(loc, f"出席 {k['attended']} 名（受邀 {k['invited']} 名{absent}）",
                f"{k['attended']} attended ({k['invited']} invited{absent})")
    return [
        t(loc, f"{r.year}年度管理评审于 {r.meeting_on.isoformat()} 召开，{who}，评审了年度目标完成、"
               f"满意度、投诉、内部审核、持续改进和各部门年度工作报告（已提交 {k['reports_submitted']}/{k['reports_expected']} 份）。",
          f"The {r.year} management review met on {r.meeting_on.isoformat()}, {who}, "
          f"and reviewed objectives, satisfaction, complaints, audits, improvement and the department reports "
          f"({k['reports_submitted']} of {k['reports_expected']} in)."),
        t(loc, f"评审输出：评审决议 {k['decisions']} 项、改进机会 {k['improvements']} 项、资源需求 {k['resources']} 项、"
               f"目标调整 {k['target_changes']} 项；已转为纠正预防措施 {k['actions']} 项，由责任人按期完成，SQMS 跟踪提醒。",
          f"Outputs: {k['decisions']} decisions, {k['improvements']} improvement opportunities, {k['resources']} "
          f"resource needs, {k['target_changes']} changes of target; {k['actions']} became actions with an owner and a "
          "due date, chased by SQMS."),
    ]


def build_review_report(session: Session, settings: Settings, review: ManagementReview) -> ReviewReport:
    """The report of `review`: its inputs (as the pack summarised them) and every output recorded."""
    names = names_of(settings)
    outputs = list(session.scalars(select(ReviewOutput).where(ReviewOutput.review_id == review.id)
                                   .order_by(ReviewOutput.id)))
    ids = [o.action_id for o in outputs if o.action_id]
    actions = {a.id: a for a in session.scalars(select(Action).where(Action.id.in_(ids)))} if ids else {}
    pack = session.get(GeneratedReport, review.pack_report_id) if review.pack_report_id else None
    frame = _output_rows([o for o in outputs if o.kind != "objective_change"], actions, settings)
    reports = department_reports(session, settings, review, names)
    report = ReviewReport(
        year=review.year, review_code=review.code, status=review.status,
        organisation=organisation_name(settings.organisation, names.locale), locale=names.locale,
        timezone=settings.organisation.timezone, generated_at=utcnow(), meeting_on=review.meeting_on,
        meeting_time=settings.review.meeting_time, meeting_place=settings.review.meeting_place,
        minutes=review.minutes, applies_to=review.year + 1, participants=_attendance(settings, review, names),
        inputs=list((pack.summary if pack else {}).get("summary", [])),
        department_reports=reports[["department", "department_name", "submitted", "late"]],
        decisions=frame[frame["kind"] == "decision"].reset_index(drop=True),
        improvements=frame[frame["kind"] == "improvement"].reset_index(drop=True),
        resources=frame[frame["kind"] == "resource"].reset_index(drop=True),
        target_changes=_target_rows([o for o in outputs if o.kind == "objective_change"], settings),
    )
    people = report.participants
    recorded = review.attendees is not None
    report.totals = {"participants": int(people["invited"].sum()), "invited": int(people["invited"].sum()),
                     "attended": int((people["present"] == True).sum()) if recorded else None,
                     "absent": int((people["invited"] & (people["present"] == False)).sum())
                     if recorded else None,
                     "decisions": len(report.decisions),
                     "improvements": len(report.improvements), "resources": len(report.resources),
                     "target_changes": len(report.target_changes), "actions": int(frame["action_id"].notna().sum()),
                     "reports_expected": len(reports), "reports_submitted": int(reports["submitted"].sum())}
    report.summary = _report_summary(report)
    return report
