"""服务质量考核 — how the quarterly appraisal (`sqms.monitoring.report`) is rendered (HTML, XLSX), kept as
versioned reports (the whole, and one per department) and mailed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.config import Settings
from sqms.monitoring.grading import Grade, grade_quarter
from sqms.monitoring.report import Appraisal, build_appraisal
from sqms.reporting.excel import write_xlsx
from sqms.reporting.formatting import t
from sqms.reporting.render import render_template
from sqms.reporting.service import mail_report, next_version, report_dir, save_report

KIND = "staff-appraisal"
TEMPLATE = "reports/appraisal_report.html.j2"


@dataclass
class AppraisalOutcome:
    quarter: str
    graded: int
    mails: int
    appraisal: Appraisal


def title(appraisal: Appraisal, department: str | None = None) -> str:
    suffix = f" · {department}" if department else ""
    return t(appraisal.locale, f"服务质量考核 {appraisal.quarter}{suffix}",
             f"Service quality appraisal {appraisal.quarter}{suffix}")


def render(appraisal: Appraisal, settings: Settings, out_dir: Path, stem: str,
           department: str | None = None) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    html = out_dir / f"{stem}.html"
    html.write_text(render_template(
        settings, TEMPLATE, locale=appraisal.locale, title=title(appraisal, department),
        organisation=appraisal.organisation, period=appraisal.quarter, generated_at=appraisal.generated_at,
        timezone=str(settings.tz), appraisal=appraisal, departments=appraisal.departments.to_dict("records"),
        grades=[g.as_json() for g in appraisal.grades], top=[g.as_json() for g in appraisal.top]), encoding="utf-8")
    loc = appraisal.locale
    staff = pd.DataFrame([{**{k: v for k, v in g.as_json().items() if k != "components"},
                           **{f"c_{k}": (str(v) if isinstance(v, dict) else v) for k, v in g.components.items()}}
                          for g in appraisal.grades])
    xlsx = write_xlsx(out_dir / f"{stem}.xlsx", [(t(loc, "部门排名", "Departments"), appraisal.departments),
                                                 (t(loc, "员工等级", "Staff grades"), staff)])
    return {"html": html, "xlsx": xlsx}


def run_appraisal(session: Session, settings: Settings, quarter: str) -> AppraisalOutcome:
    """Grade the quarter, render the report (a version for the organisation, one per department) and mail:
    the whole to `monitoring.appraisal_to`, each department's own to its manager."""
    grades = grade_quarter(session, settings, quarter)
    appraisal = build_appraisal(session, settings, quarter, grades)
    version = next_version(session, KIND, quarter)
    folder = report_dir(settings, KIND, quarter, version)
    whole = save_report(session, kind=KIND, period=quarter, version=version, locale=appraisal.locale,
                        files=render(appraisal, settings, folder, f"staff-appraisal-{quarter}"),
                        summary={"graded": len(grades)})
    mails = mail_report(session, settings, [whole], recipients=settings.monitoring.appraisal_to,
                        template="appraisal_report", process="staff-grading", obj="appraisal", period=quarter,
                        quarter=quarter, department=None, rows=appraisal.departments.to_dict("records"))
    for d in settings.departments:
        manager = settings.department_manager(d.code)
        if manager is None:
            continue
        own = appraisal.only(d.code)
        kind = f"{KIND}-{d.code.lower()}"
        part_version = next_version(session, kind, quarter)
        part = save_report(session, kind=kind, period=quarter, version=part_version, locale=appraisal.locale,
                           files=render(own, settings, report_dir(settings, kind, quarter, part_version),
                                        f"staff-appraisal-{quarter}-{d.code}", d.label(settings.locale)),
                           summary={"graded": len(own.grades)})
        mails += mail_report(session, settings, [part], recipients=[manager.email], template="appraisal_report",
                             process="staff-grading", obj=f"appraisal:{d.code}", period=quarter, quarter=quarter,
                             department=d.label(settings.locale), rows=own.departments.to_dict("records"))
    mails += _mail_own_grades(session, settings, quarter, grades)
    return AppraisalOutcome(quarter, len(grades), mails, appraisal)


def _mail_own_grades(session: Session, settings: Settings, quarter: str, grades: list[Grade]) -> int:
    """Each graded person with an email in the register gets their own grade and its components (only)."""
    from sqms.monitoring.models import Staff
    from sqms.notify.compose import compose
    from sqms.notify.service import enqueue

    emails = {s.staff_id: s.email for s in session.scalars(select(Staff)) if s.email}
    queued = 0
    for grade in grades:
        if grade.staff_id not in emails or grade.grade is None:
            continue
        mail = compose(settings, "staff_grade", emails[grade.staff_id], quarter=quarter, grade=grade,
                       c=grade.components)
        mail.recipient_name = grade.name
        mail.confidential = True  # personal data: stored sealed
        _, changed = enqueue(session, process="staff-grading", obj=f"grade:{grade.staff_id}", period=quarter,
                             email=mail)
        queued += int(changed)
    return queued


def appraisal_markdown(outcome: AppraisalOutcome) -> str:
    lines = [f"# 服务质量考核 {outcome.quarter}", "", f"{outcome.graded} 名一线员工已评级, {outcome.mails} 封邮件", "",
             "| 排名 | 部门 | 综合 | a | b | c |", "|---|---|---|---|---|---|"]
    for row in outcome.appraisal.departments.to_dict("records"):
        overall = "—" if row["overall"] is None or pd.isna(row["overall"]) else f"{row['overall']:.1f}"
        lines.append(f"| {row['rank']} | {row['name']} | {overall} | {row['a']} | {row['b']} | {row['c']} |")
    return "\n".join(lines)
