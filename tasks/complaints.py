"""Tasks of the complaint watch: notices to the general manager, repeated categories → actions."""

from __future__ import annotations

from prefect import get_run_logger, task

from sqms.calendar import previous_period, to_local, utcnow
from sqms.complaints.service import (
    open_repeat_category_actions,
    queue_feedback_requests,
    queue_special_notices,
)
from sqms.complaints.signals import queue_rise_notices
from tasks.common import RETRYING, settings, unit_of_work


@task(name="queue-special-complaint-notices", **RETRYING)
def queue_special_notices_task() -> int:
    """Every special complaint not yet settled: its notice to the general manager (once)."""
    with unit_of_work() as uow:
        queued = queue_special_notices(uow.session, settings())
        uow.commit()
    return queued


@task(name="open-repeat-category-actions", **RETRYING)
def open_repeat_actions() -> list[str]:
    """This month and last month: N complaints of one category in a department → a corrective action."""
    cfg = settings()
    now = utcnow()
    this_month = to_local(now, cfg.tz).strftime("%Y-%m")
    opened = []
    with unit_of_work() as uow:
        for period in (previous_period(now, cfg.tz), this_month):
            opened += [a.ref for a in open_repeat_category_actions(uow.session, cfg, period, now=now)]
        uow.commit()
    if opened:
        get_run_logger().info("opened corrective actions for repeated complaints: %s", ", ".join(opened))
    return opened


@task(name="ask-for-feedback", **RETRYING)
def ask_for_feedback() -> int:
    """回访: customers of recently resolved complaints get a single-use feedback link (once)."""
    with unit_of_work() as uow:
        asked = queue_feedback_requests(uow.session, settings())
        uow.commit()
    return asked


@task(name="queue-complaint-rise-notices", **RETRYING)
def queue_rise_notices_task() -> int:
    """A complaint category rising this month in a department: its manager is told (once per signal)."""
    with unit_of_work() as uow:
        queued = queue_rise_notices(uow.session, settings())
        uow.commit()
    return queued
