"""Tasks that produce, publish and mail reports."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from sqms.records.messaging import queue_monthly_report_mails
from sqms.records.models import KpiComputation
from sqms.reporting.models import GeneratedReport
from sqms.reporting.monthly import produce_monthly_report
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


@task(name="publish-report-artifact", **RETRYING)
def publish_report_artifact(report: dict) -> None:
    """Markdown summary (key figures, summary, link) and the KPI table as Prefect artifacts."""
    with unit_of_work() as uow:
        row = uow.session.get(GeneratedReport, report["id"])
        summary = dict(row.summary)
    key = report["kind"]  # one key per process: the UI shows every version's artifact in one history
    create_markdown_artifact(key=key, markdown=summary["markdown"],
                             description=f"{report['kind']} {report['period']} v{report['version']}")
    create_table_artifact(key=f"{key}-kpis", table=summary["table"],
                          description=f"{report['kind']} {report['period']} v{report['version']}: KPIs")


@task(name="queue-report-mails", **RETRYING)
def queue_report_mails(report: dict) -> int:
    """One email per recipient of the distribution list, through the outbox (keyed, so never twice)."""
    with unit_of_work() as uow:
        row = uow.session.get(GeneratedReport, report["id"])
        queued = queue_monthly_report_mails(uow.session, settings(), row)
        uow.commit()
        return queued


def file_uri(path: str) -> str:
    return Path(path).resolve().as_uri()
