"""Tasks that produce, publish and mail reports."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from sqms.calendar import utcnow
from sqms.monthly.messaging import hold_or_queue, queue_monthly_report_mails, release_held
from sqms.records.models import KpiComputation
from sqms.complaints.rendering import produce_complaint_report
from sqms.reporting.models import GeneratedReport
from sqms.monthly.rendering import KIND, produce_monthly_report
from sqms.reporting.service import latest_report
from tasks.common import RETRYING, settings, unit_of_work


def _as_dict(report: GeneratedReport) -> dict:
    return {"id": report.id, "kind": report.kind, "period": report.period, "version": report.version,
            "files": dict(report.files), "checksum": report.checksum}


@task(name="render-monthly-report", **RETRYING)
def render_monthly_report(period: str, computation_id: int) -> dict:
    """The report's data, its HTML and XLSX files (a new version each run), recorded with a checksum."""
    with unit_of_work() as uow:
        computation = uow.session.get(KpiComputation, computation_id)
        report = produce_monthly_report(uow.session, settings(), computation)
        uow.commit()
        return _as_dict(report)


@task(name="render-complaint-report", **RETRYING)
def render_complaint_report(period: str, computation_id: int | None = None) -> dict:
    """投诉分析报告 of the month (HTML and XLSX, a new version each run), recorded with a checksum; as of
    the KPI computation when one is given, so that its rates are the monthly report's."""
    with unit_of_work() as uow:
        as_of = uow.session.get(KpiComputation, computation_id).as_of if computation_id is not None else None
        report = produce_complaint_report(uow.session, settings(), period, as_of)
        uow.commit()
        return _as_dict(report)


@task(name="publish-report-artifact", **RETRYING)
def publish_report_artifact(report: dict) -> None:
    """Markdown summary (key figures, summary, link) and, when the report has one, its KPI table as
    Prefect artifacts."""
    with unit_of_work() as uow:
        row = uow.session.get(GeneratedReport, report["id"])
        summary = dict(row.summary)
    key = report["kind"]  # one key per process: the UI shows every version's artifact in one history
    create_markdown_artifact(key=key, markdown=summary["markdown"],
                             description=f"{report['kind']} {report['period']} v{report['version']}")
    if summary.get("table"):
        create_table_artifact(key=f"{key}-kpis", table=summary["table"],
                              description=f"{report['kind']} {report['period']} v{report['version']}: KPIs")


@task(name="queue-report-mails", **RETRYING)
def queue_report_mails(report: dict, also: list[dict] | None = None) -> int:
    """One email per recipient of the distribution list, through the outbox (keyed, so never twice);
    the files of the reports in `also` are attached to it as well."""
    with unit_of_work() as uow:
        row = uow.session.get(GeneratedReport, report["id"])
        others = [uow.session.get(GeneratedReport, r["id"]) for r in also or []]
        queued = queue_monthly_report_mails(uow.session, settings(), row, others)
        uow.commit()
        return queued


@task(name="hold-or-queue-report-mails", **RETRYING)
def hold_or_queue_report_mails(report: dict, also: list[dict] | None = None) -> dict:
    """With `report.hold_hours` > 0: hold the report as a draft and mail the quality manager its link;
    else (or once its hold was released: a correction) queue it to the distribution list."""
    with unit_of_work() as uow:
        row = uow.session.get(GeneratedReport, report["id"])
        others = [uow.session.get(GeneratedReport, r["id"]) for r in also or []]
        out = hold_or_queue(uow.session, settings(), row, others, now=utcnow())
        uow.commit()
        return {"held_until": out["held_until"].isoformat() if out["held_until"] else None, "queued": out["queued"]}


@task(name="release-held-reports", **RETRYING)
def release_held_reports(period: str | None = None) -> list[dict]:
    """Mail every held report whose hold is over (with `period`: that month's at once), with the quality
    manager's analysis when one was entered."""
    with unit_of_work() as uow:
        released = release_held(uow.session, settings(), now=utcnow(), actor=uow.session.info.get("actor", "sqms"),
                                period=period)
        uow.commit()
        return released


def file_uri(path: str) -> str:
    return Path(path).resolve().as_uri()


@task(name="report-made-since", **RETRYING)
def report_made_since(period: str, since: datetime) -> dict | None:
    """The month's report if one was produced after `since` (by a run that overlapped this one)."""
    with unit_of_work() as uow:
        report = latest_report(uow.session, KIND, period)
        return _as_dict(report) if report is not None and report.created_at >= since else None
