"""服务质量月报 — the monthly service-quality report.

As the regulation lays down: each month the customer-service department gathers the
quality of every service line, analyses it against the targets and sends the report
to everyone concerned, top management included; the operations manager then holds
the monthly quality-analysis meeting on it. The month's complaint analysis (投诉分析报告)
goes with it, as of the same moment, attached to the same mail. KPIs that keep missing their
targets open PDCA improvement cycles (持续改进), whose status board is part of the report.
"""

from __future__ import annotations

from typing import Annotated
from uuid import uuid4

from prefect import flow
from prefect.runtime import flow_run
from pydantic import Field

from flows.hooks import notify_admins
from sqms.calendar import parse_period, previous_period, utcnow
from sqms.config import get_settings
from sqms.locks import process_lock
from tasks.improvement import advance_improvement_cycles
from tasks.notify import deliver_outbox
from tasks.records import compute_kpis
from tasks.reporting import (hold_or_queue_report_mails, publish_report_artifact, release_held_reports,
                             render_complaint_report, render_monthly_report, report_made_since)

Period = Annotated[str | None, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM; empty = last month")]


def _run_name() -> str:
    return f"monthly-report-{flow_run.parameters.get('period') or 'last-month'}"


@flow(name="monthly-report", flow_run_name=_run_name, on_failure=[notify_admins], on_crashed=[notify_admins])
def monthly_service_quality_report(period: Period = None) -> dict:
    """服务质量月报: compute the month's KPIs, render the report and the complaint analysis, publish them
    and mail both to the distribution list."""
    settings = get_settings()
    period = period or previous_period(utcnow(), settings.tz)
    parse_period(period)

    # one run of a month at a time; a run triggered while another was producing the month's report
    # (a double click, two schedulers) shares that report instead of making a second one
    requested_at = flow_run.scheduled_start_time or utcnow()
    with process_lock(settings.database_url, f"monthly-report:{period}", holder=str(flow_run.id or uuid4())):
        shared = report_made_since(period, requested_at)
        if shared is not None:
            return {"period": period, "report_id": shared["id"], "version": shared["version"],
                    "files": shared["files"], "shared": True, **deliver_outbox()}
        computation_id = compute_kpis(period)                     # 汇总: gather every service line's quality
        improvement = advance_improvement_cycles(period)          # 持续改进: open / check PDCA cycles
        report = render_monthly_report(period, computation_id)    # 分析: against the targets, as HTML and XLSX
        complaints = render_complaint_report(period, computation_id)  # 投诉分析: its own report, same as-of
        publish_report_artifact(report)                           # visible in the Prefect UI
        publish_report_artifact(complaints)
        # 送达: everyone concerned, top management included — or first a draft to the quality manager,
        # held `report.hold_hours` for a written analysis (report-release mails it when the hold ends)
        mailing = hold_or_queue_report_mails(report, also=[complaints])
        delivery = deliver_outbox()
    return {"period": period, "report_id": report["id"], "version": report["version"], "files": report["files"],
            "complaint_report": {k: complaints[k] for k in ("id", "version", "files")},
            "improvement": improvement, "held_until": mailing["held_until"], **delivery}


@flow(name="report-release", on_failure=[notify_admins], on_crashed=[notify_admins])
def report_release(period: Period = None) -> dict:
    """审核发布: mail each report held as a draft (`report.hold_hours`) whose hold is over, with the
    quality manager's analysis when one was entered; with `period`, that month's report at once."""
    settings = get_settings()
    with process_lock(settings.database_url, "report-release", holder=str(flow_run.id or uuid4())):
        released = release_held_reports(period)
        delivery = deliver_outbox() if released else {"sent": 0, "failed": 0}
    return {"released": released, **delivery}
