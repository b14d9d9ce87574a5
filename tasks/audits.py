"""Tasks of the internal audit."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from sqms.audits.service import advance_due, open_cycle
from tasks.common import RETRYING, settings, unit_of_work


@task(name="open-audit-cycle", **RETRYING)
def open_audit_cycle() -> str:
    """This half-year's cycle with its plan (once)."""
    with unit_of_work() as uow:
        cycle, new = open_cycle(uow.session, settings())
        uow.commit()
        get_run_logger().info("%s audit cycle %s: %s .. %s", "opened" if new else "already open:", cycle.code,
                              cycle.first_day, cycle.last_day)
        return cycle.code


@task(name="advance-audit-cycles", **RETRYING)
def advance_audits() -> list[list[str]]:
    """Mail the plan, remind before each audit, start, issue the report, follow up, close — as due."""
    with unit_of_work() as uow:
        done = advance_due(uow.session, settings())
        uow.commit()
    for code, step in done:
        if step == "issue_report":
            from sqms.audits.rendering import audit_report_markdown
            from sqms.audits.report import build_audit_report
            from sqms.audits.service import get

            with unit_of_work() as uow:
                report = build_audit_report(uow.session, settings(), get(uow.session, code))
            create_markdown_artifact(key="audit-report", markdown=audit_report_markdown(report),
                                     description=f"internal audit {code}")
    return [list(step) for step in done]
