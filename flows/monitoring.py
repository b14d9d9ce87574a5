"""服务监督 — service inspections, mystery shopping and the staff appraisal.

The regulations build quality monitoring on inspections of service sites, processes and records and on
mystery shoppers (000 第十七条); front-line staff are graded a / b / c from the inspection records,
dynamically (003 第二章第五–六条), and service quality enters the appraisal of departments and staff
(000 第二十八–三十一条). Each month this plans the inspections (every front-line person at least once a
quarter, never by their own department) and tells each inspector; on the first working day after a quarter
it grades everyone and sends the appraisal report to HR and the general manager, a department's section
to its manager.
"""

from __future__ import annotations

from datetime import date

from prefect import flow

from flows.hooks import notify_admins
from tasks.monitoring import (
    first_working_day_after_quarter,
    grade_and_appraise,
    plan_inspections,
)
from tasks.notify import deliver_outbox


@flow(name="inspections", on_failure=[notify_admins], on_crashed=[notify_admins])
def inspections(period: str | None = None) -> dict:
    """服务检查计划 — plan the month's inspections (every front-line person once a quarter) and mail each inspector."""
    from sqms.calendar import to_local, utcnow
    from sqms.config import get_settings

    period = period or to_local(utcnow(), get_settings().tz).strftime("%Y-%m")
    result = plan_inspections(period)
    return {**result, **deliver_outbox("inspections")}


@flow(name="staff-grading", on_failure=[notify_admins], on_crashed=[notify_admins])
def staff_grading(quarter: str | None = None, today: date | None = None) -> dict:
    """服务质量考核 — on the first working day after a quarter: staff grades a / b / c and the appraisal report."""
    from sqms.calendar import to_local, utcnow
    from sqms.config import get_settings

    if quarter is None:
        quarter = first_working_day_after_quarter(today or to_local(utcnow(), get_settings().tz).date())
        if quarter is None:
            return {"skipped": "not the first working day after a quarter"}
    result = grade_and_appraise(quarter)
    return {**result, **deliver_outbox("staff-grading")}
