"""Tasks of service monitoring: the monthly inspection plan, the quarterly grading and appraisal."""

from __future__ import annotations

from datetime import date

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from tasks.common import RETRYING, settings, unit_of_work


@task(name="plan-inspections", **RETRYING)
def plan_inspections(period: str) -> dict:
    """The month's inspection slots (idempotent) and one mail per inspector with their list."""
    from sqms.monitoring.plan import notify_inspectors, plan_month

    with unit_of_work() as uow:
        new = plan_month(uow.session, settings(), period)
        queued = notify_inspectors(uow.session, settings(), period)
        uow.commit()
    get_run_logger().info("inspection plan %s: %d new slot(s), %d mail(s) queued", period, len(new), queued)
    return {"period": period, "planned": len(new), "mails": queued}


@task(name="grade-staff-and-appraise", **RETRYING)
def grade_and_appraise(quarter: str) -> dict:
    """Grade every front-line person, render the appraisal report (服务质量考核) and mail it."""
    from sqms.monitoring.rendering import appraisal_markdown, run_appraisal

    with unit_of_work() as uow:
        outcome = run_appraisal(uow.session, settings(), quarter)
        uow.commit()
    create_markdown_artifact(key="staff-appraisal", markdown=appraisal_markdown(outcome),
                             description=f"服务质量考核 {quarter}")
    return {"quarter": quarter, "graded": outcome.graded, "mails": outcome.mails}


def first_working_day_after_quarter(today: date) -> str | None:
    """The quarter just ended when `today` is the first working day after its end, else None."""
    from sqms.calendar import is_working_day

    if today.month not in (1, 4, 7, 10) or not is_working_day(today):
        return None
    if any(is_working_day(date(today.year, today.month, d)) for d in range(1, today.day)):
        return None
    year, quarter = (today.year - 1, 4) if today.month == 1 else (today.year, (today.month - 1) // 3)
    return f"{year}Q{quarter}"
