"""`sqms`: the command line (docs/DESIGN.md §5). Every command exits non-zero with a clear message on bad input.

Commands that run flows or serve deployments import Prefect lazily, so the
domain commands (init, import, kpi) stay fast and Prefect-free.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from sqms.actions.cli import app as action_app
from sqms.audits.cli import app as audit_app
from sqms.cli_common import cli_actor, code_of, command_session, fail, period_of, settings_or_exit
from sqms.complaints.cli import app as complaint_app
from sqms.improvement.cli import app as pdca_app
from sqms.meetings.cli import app as meeting_app
from sqms.monitoring.cli import compliment_app, error_app, grading_app, inspection_app
from sqms.monthly.cli import app as report_app
from sqms.reviews.cli import app as review_app
from sqms.standards.cli import app as standard_app
from sqms.suggestions.cli import app as suggestion_app
from sqms.surveys.cli import app as survey_app

if TYPE_CHECKING:  # loaded by the commands that need it: `sqms --help` stays fast
    from sqms.config import Settings

app = typer.Typer(
    name="sqms", help="SQMS — Service Quality Management System (服务质量管理体系).", no_args_is_help=True,
    add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
)
run_app = typer.Typer(help="Run a process now (the same flow the schedule runs).", no_args_is_help=True)
app.add_typer(run_app, name="run")
outbox_app = typer.Typer(help="The mail outbox: what is pending, and delivery.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
app.add_typer(complaint_app, name="complaint")
app.add_typer(action_app, name="action")
app.add_typer(survey_app, name="survey")
app.add_typer(audit_app, name="audit")
app.add_typer(pdca_app, name="pdca")
app.add_typer(review_app, name="review")
app.add_typer(meeting_app, name="meeting")
app.add_typer(standard_app, name="standard")
app.add_typer(suggestion_app, name="suggestion")
app.add_typer(inspection_app, name="inspection")
app.add_typer(grading_app, name="grading")
app.add_typer(compliment_app, name="compliment")
app.add_typer(error_app, name="service-error")
app.add_typer(report_app, name="report")


class ImportKind(str, Enum):
    service_records = "service-records"
    complaints = "complaints"
    survey_responses = "survey-responses"
    customers = "customers"
    staff = "staff"
    inspections = "inspections"
    compliments = "compliments"
    service_errors = "service-errors"


def _check_period(period: Optional[str]) -> Optional[str]:
    """Periods are checked (and full-width digits read) before anything runs; exit code 2."""
    return period_of(period)


@app.command()
def init(
    demo: bool = typer.Option(False, "--demo", help="Also load ~13 months of generated demo data (idempotent)."),
    seed: int = typer.Option(2026, help="Seed of the demo data generator."),
    end_period: Optional[str] = typer.Option(None, help="Last month of demo data (default: the previous month)."),
) -> None:
    """Migrate the database, load the organisation from config/, optionally demo data."""
    from sqms.org.service import sync_organisation

    settings = settings_or_exit()
    end_period = period_of(end_period, settings, "--end-period")
    _migrate_or_exit(settings)
    with command_session(settings=settings, schema=False) as (settings, session):
        changes = sync_organisation(session, settings)
    typer.echo(f"database ready ({_safe_url(settings.database_url)}); organisation: {changes} change(s)")
    if demo:
        from sqms.demo import load_demo
        from sqms.ingest import ImportFileError
        from sqms.standards.demo import seed_register

        try:
            results = load_demo(settings, seed=seed, end_period=end_period)
        except ImportFileError as exc:
            fail(str(exc), code=1)
        for result in results.values():
            _echo_outcome(result, prefix="demo ")
            typer.echo(f"demo {result.summary()}")
        with command_session(settings=settings, schema=False) as (settings, session):
            added = seed_register(session, settings)
        typer.echo(f"demo standards register: {added} document(s) added")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command("import")
def import_(
    kind: ImportKind = typer.Argument(..., help="What the file holds."),
    file: Path = typer.Argument(..., help="CSV (UTF-8, UTF-8 with BOM or GBK) or XLSX (first sheet); "
                                          "also .gz, or .zip holding one file."),
    mapping: Optional[Path] = typer.Option(None, "--mapping", help="Mapping YAML for a foreign file."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid",
                                      help="Import the valid rows; write the others to <file>.rejects.csv."),
) -> None:
    """Import a file (docs/DESIGN.md §3): validated whole; re-importing the same rows changes nothing."""
    from sqms.importers import spec_for
    from sqms.ingest import ImportFileError, import_file

    settings = settings_or_exit()
    _migrate_or_exit(settings)
    if kind is ImportKind.inspections:  # one row per item: grouped into inspections
        _import_inspections(settings, file, mapping)
        return
    try:
        result = import_file(settings, spec_for(kind.value), file, mapping=mapping, skip_invalid=skip_invalid,
                             actor=cli_actor())
    except ImportFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    for error in result.errors[:20]:
        typer.echo(f"rejected: {error}", err=True)
    if len(result.errors) > 20:
        typer.echo(f"rejected: ... and {len(result.errors) - 20} more in {result.rejects_file}", err=True)
    _echo_outcome(result)
    typer.echo(result.summary())


def _import_inspections(settings: Settings, file: Path, mapping: Optional[Path]) -> None:
    from sqms.config import ConfigError
    from sqms.ingest import ImportFileError
    from sqms.monitoring.inspections import import_inspections

    try:
        outcome = import_inspections(settings, file, mapping=mapping, actor=cli_actor())
    except (ImportFileError, ConfigError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1)
    typer.echo(outcome.summary())
    from sqms.cli_common import deliver_now

    deliver_now(settings, "inspections")


def _echo_outcome(result, prefix: str = "") -> None:
    """What an import kept and told: conflicts (audited) and notices queued."""
    for conflict in result.conflicts[:20]:
        typer.echo(f"{prefix}conflict: {conflict}", err=True)
    if len(result.conflicts) > 20:
        typer.echo(f"{prefix}conflict: ... and {len(result.conflicts) - 20} more (audit log, action import-conflict)",
                   err=True)
    for notice in result.notices:
        typer.echo(f"{prefix}mail: {notice}")


def _migrate_or_exit(settings: Settings) -> None:
    """Migrate, or one clear line when the database cannot be reached."""
    from sqms.db import migrate

    try:
        migrate(settings.database_url)
    except Exception as exc:
        from sqms.ingest import database_reason, is_database_error

        if not is_database_error(exc):
            raise
        fail(f"cannot open the database {_safe_url(settings.database_url)}: {database_reason(exc)}", code=1)


@app.command()
def kpi(
    period: str = typer.Option(..., "--period", help="Calendar month YYYY-MM (local time).", callback=_check_period),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON array of docs/DESIGN.md §4."),
    department: Optional[str] = typer.Option(None, help="Only this department (code or name); 'org' for the "
                                                        "whole."),
    by: str = typer.Option("department", "--by", help="department (stored KPIs) or service_item (the catalogue "
                                                       "of config service_items, against each item's targets)."),
) -> None:
    """Compute and store the KPIs of a month; print a table or JSON."""
    from sqms.db import migrate
    from sqms.records.service import compute_and_store, compute_by_service_item, load_period, results_of
    from sqms.records.targets import effective_settings

    settings = settings_or_exit()
    if by not in ("department", "service_item"):
        fail(f"--by {by!r}: expected department or service_item")
    if by == "service_item" and not settings.service_items:
        fail("--by service_item: no service catalogue configured (service_items in config/sqms.yaml)")
    if department and department != "org":
        department = code_of(settings, "department", department, "--department")
    migrate(settings.database_url)
    with command_session(settings=settings, schema=False) as (settings, session):
        computation = compute_and_store(session, settings, period)
        results = results_of(computation)
        if by == "service_item":
            year = effective_settings(session, settings, int(period[:4]))
            results = compute_by_service_item(load_period(session.connection(), period, year), year,
                                              computation.as_of)
    if department:
        results = [r for r in results if r.department == (None if department == "org" else department)]
    if as_json:
        typer.echo(json.dumps([r.as_json() for r in results], ensure_ascii=False, indent=2))
        return
    typer.echo(_kpi_table(results, settings))


def _kpi_table(results, settings: Settings) -> str:
    from sqms.kpi_catalog import KPI_BY_CODE
    from sqms.reporting.formatting import fmt_interval

    locale = settings.locale
    marks = {"met": "✓", "missed": "✗", "no_target": "·", "no_data": "–"}
    lines = []
    header = f"{'department':<12} {'kpi':<28} {'value':>10} {'target':>9} {'n':>7}  status"
    current = object()
    items = {i.code: i for i in settings.service_items}
    for r in results:
        item = getattr(r, "service_item", None)
        if (item or r.department) != current:
            current = item or r.department
            if item:
                name = f"{items[item].label(locale)} ({item}, {settings.department(r.department).label(locale)})"
            else:
                name = settings.department(r.department).label(locale) if r.department else settings.organisation.name
            lines += ["", f"== {name} ==", header]
        definition = KPI_BY_CODE[r.kpi]
        value = "—" if r.value is None else f"{r.value:.{definition.decimals}f}{definition.unit}"
        target = "" if r.target is None else f"{'≥' if definition.better == 'higher' else '≤'}{r.target:g}"
        flag = " (n<%d)" % settings.kpi.low_confidence_n if r.low_confidence else ""
        lines.append(f"{r.department or 'ORG':<12} {r.kpi:<28} {value:>10} {target:>9} {r.n:>7}  "
                     f"{marks[r.status]} {r.status}{flag}")
        interval = fmt_interval(r.kpi, r.extra, "en")
        if interval:
            lines[-1] += f"  {interval}"
    return "\n".join(lines).lstrip("\n")


def _flow_server() -> None:
    """Say where the flow runs: on the configured Prefect server (PREFECT_API_URL, checked to answer),
    or on a temporary one when none is configured. Stops with exit 1 when the configured one is down."""
    from flows.server import ServerUnreachable, server_for_cli_runs

    try:
        api = server_for_cli_runs()
    except ServerUnreachable as exc:
        fail(str(exc), 1)
    if api:
        typer.echo(f"running on the Prefect server {api} (the run shows in its UI)", err=True)
    else:
        typer.echo("PREFECT_API_URL is not set: a temporary Prefect server runs this flow and no UI shows it "
                   "(set PREFECT_API_URL=http://<host>:4200/api to run it on yours)", err=True)


@run_app.command("monthly-report")
def run_monthly_report(
    period: Optional[str] = typer.Option(None, "--period", help="YYYY-MM (default: the previous month)."),
) -> None:
    """服务质量月报: compute KPIs, render, publish, mail the distribution list."""
    settings = settings_or_exit()
    period = period_of(period, settings)
    _flow_server()
    from flows.monthly_report import monthly_service_quality_report

    result = monthly_service_quality_report(period=period)
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@run_app.command("report-release")
def run_report_release(
    period: Optional[str] = typer.Option(None, "--period", help="YYYY-MM: release that month's held report now "
                                                                "(default: every hold that is over)."),
) -> None:
    """审核发布: mail the reports held as drafts whose hold is over (report.hold_hours)."""
    settings = settings_or_exit()
    period = period_of(period, settings) if period else None
    _flow_server()
    from flows.monthly_report import report_release

    typer.echo(json.dumps(report_release(period=period), ensure_ascii=False, indent=2, default=str))


@run_app.command("inspections")
def run_inspections(period: Optional[str] = typer.Option(None, "--period", help="YYYY-MM (default: this month).")
                    ) -> None:
    """服务检查计划: plan the month's inspections and mail each inspector."""
    if period:
        _check_period(period)
    settings_or_exit()
    from flows.monitoring import inspections

    typer.echo(json.dumps(inspections(period=period), ensure_ascii=False, default=str))


@run_app.command("staff-grading")
def run_staff_grading(quarter: Optional[str] = typer.Option(
        None, "--quarter", help="e.g. 2026Q3 (default: only on the first working day after a quarter).")) -> None:
    """服务质量考核: grade the staff and mail the appraisal report."""
    settings_or_exit()
    from sqms.monitoring.grading import GradingError, parse_quarter

    if quarter:
        try:
            parse_quarter(quarter)
        except GradingError as exc:
            fail(str(exc))
    from flows.monitoring import staff_grading

    typer.echo(json.dumps(staff_grading(quarter=quarter), ensure_ascii=False, default=str))


@run_app.command("outbox-delivery")
def run_outbox_delivery() -> None:
    """Deliver every pending email now."""
    settings_or_exit()
    _flow_server()
    from flows.outbox import outbox_delivery

    typer.echo(json.dumps(outbox_delivery(), ensure_ascii=False))


@run_app.command("complaint-sla-watch")
def run_complaint_watch() -> None:
    """Special complaints to the general manager; repeated categories become corrective actions."""
    settings_or_exit()
    _flow_server()
    from flows.complaints import complaint_sla_watch

    typer.echo(json.dumps(complaint_sla_watch(), ensure_ascii=False, default=str))


def _today(value: Optional[str]):
    """The --today of a reminder run: a day, never one already past (see `check_day`)."""
    from sqms.calendar import utcnow
    from sqms.cli_common import parse_day
    from sqms.reminders.service import ReminderError, check_day

    if not value:
        return None
    day = parse_day(value, "--today")
    try:
        check_day(day, utcnow(), settings_or_exit())
    except ReminderError as exc:
        fail(str(exc))
    return day


@run_app.command("reminders")
def run_reminders(today: Optional[str] = typer.Option(None, help="As if it were this day (YYYY-MM-DD).")) -> None:
    """Today's reminder digests and escalations (nothing on non-working days)."""
    settings_or_exit()
    _flow_server()
    from flows.reminders import reminders

    typer.echo(json.dumps(reminders(today=_today(today)), ensure_ascii=False, default=str))


@run_app.command("weekly-digest")
def run_weekly_digest(today: Optional[str] = typer.Option(None, help="As if it were this day.")) -> None:
    """The quality manager's weekly digest (once per week)."""
    settings_or_exit()
    _flow_server()
    from flows.reminders import weekly_digest

    typer.echo(json.dumps(weekly_digest(today=_today(today)), ensure_ascii=False, default=str))


@run_app.command("survey-campaigns")
def run_survey_campaigns(kind: Optional[str] = typer.Option(None, help="quarterly or annual: plan that campaign "
                                                                        "first.")) -> None:
    """Plan (with --kind) and advance the survey campaigns that are due."""
    settings_or_exit()
    if kind not in (None, "quarterly", "annual"):
        fail(f"--kind {kind!r}: quarterly or annual")
    _flow_server()
    from flows.surveys import survey_campaigns

    typer.echo(json.dumps(survey_campaigns(kind=kind), ensure_ascii=False, default=str))


@run_app.command("internal-audit")
def run_internal_audit(open_cycle: bool = typer.Option(False, "--open", help="Open this half-year's cycle first.")
                       ) -> None:
    """Open (with --open) and advance the internal audit cycles that are due."""
    settings_or_exit()
    _flow_server()
    from flows.audits import internal_audit

    typer.echo(json.dumps(internal_audit(open_cycle=open_cycle), ensure_ascii=False, default=str))


@run_app.command("quality-meeting")
def run_quality_meeting(
    period: Optional[str] = typer.Option(None, "--period", help="YYYY-MM (default: the previous month)."),
) -> None:
    """月度质量分析会: schedule the meeting on the month's report and invite the participants."""
    if period:
        _check_period(period)
    settings_or_exit()
    from flows.quality_meeting import quality_meeting

    typer.echo(json.dumps(quality_meeting(period=period), ensure_ascii=False, indent=2, default=str))


@run_app.command("standards-review")
def run_standards_review() -> None:
    """Standards register: publish approved versions whose effective day has come (trainings follow)."""
    settings_or_exit()
    from flows.standards import standards_review

    typer.echo(json.dumps(standards_review(), ensure_ascii=False, indent=2, default=str))


@run_app.command("management-review")
def run_management_review(open_review: bool = typer.Option(False, "--open", help="Open the previous year's "
                                                                                  "review first.")) -> None:
    """Open (with --open) and advance the management reviews that are due."""
    settings_or_exit()
    _flow_server()
    from flows.reviews import management_review

    typer.echo(json.dumps(management_review(open_review=open_review), ensure_ascii=False, default=str))


@app.command()
def web(
    host: Optional[str] = typer.Option(None, help="Interface (default web.host, 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (default web.port, 8000)."),
) -> None:
    """Serve the web forms customers answer (complaint feedback); put it behind your reverse proxy."""
    settings = settings_or_exit()
    from sqms.db import migrate
    from sqms.web.app import serve as serve_web

    migrate(settings.database_url)
    serve_web(host, port)


@app.command()
def serve() -> None:
    """Serve every deployment with its schedule (the embedded way; production uses prefect.yaml + workers)."""
    settings_or_exit()
    from flows.deployments import serve_all

    serve_all()


@outbox_app.command("list")
def outbox_list(status: str = typer.Option("pending", help="pending, sending, sent, failed, held or all.")) -> None:
    """Messages in the outbox."""
    from sqlalchemy import select

    from sqms.notify.models import OutboxMessage

    with command_session(schema=False) as (_, session):
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if status != "all":
            stmt = stmt.where(OutboxMessage.status == status)
        for m in session.scalars(stmt):
            typer.echo(f"{m.id:>6} {m.status:<8} {m.attempts:>2} {m.recipient:<32} {m.subject}"
                       + (f"  [{m.last_error}]" if m.last_error else ""))


@outbox_app.command("deliver")
def outbox_deliver() -> None:
    """Deliver pending messages now, without Prefect."""
    from sqms.notify.service import deliver_pending

    settings = settings_or_exit()
    report = deliver_pending(settings)
    typer.echo(f"sent {report.sent}, failed {report.failed}")
    for recipient, count in report.held.items():
        typer.echo(f"  held {count} mail(s) to {recipient} (flood guard; sqms outbox release --recipient "
                   f"{recipient})", err=True)
    for error in report.errors:
        typer.echo(f"  {error}", err=True)
    if not report.ok:
        raise typer.Exit(1)


@outbox_app.command("release")
def outbox_release(recipient: str = typer.Option(..., "--recipient", help="The address whose held mails to send.")
                   ) -> None:
    """Send the mails the flood guard held for one recipient, now (past the guard)."""
    from sqms.notify.service import deliver_pending

    settings = settings_or_exit()
    report = deliver_pending(settings, release_to=recipient)
    if not report.released:
        fail(f"no held mail for {recipient} (see: sqms outbox list --status held)", code=1)
    typer.echo(f"released {report.released}, sent {report.sent}, failed {report.failed}")
    for error in report.errors:
        typer.echo(f"  {error}", err=True)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def deploy(
    home: Optional[Path] = typer.Option(None, help="The checkout the workers run from (default $SQMS_HOME, "
                                                   "else this folder)."),
    pool: str = typer.Option("sqms", help="The process work pool."),
    late_after: int = typer.Option(60, help="Alert when a run is late by more than this many minutes.", min=1),
    lost_after: int = typer.Option(600, help="Mark a run Crashed (and alert) when its heartbeats stop for this "
                                             "many seconds; keep it several times PREFECT_FLOWS_HEARTBEAT_FREQUENCY "
                                             "of the workers.", min=60),
) -> None:
    """Create the work pool if missing, deploy every process to it with its configured schedule (against
    $PREFECT_API_URL) and the automations that alert the admins when a run fails, crashes or is late;
    then run `prefect worker start --pool sqms` on one or more machines."""
    settings = settings_or_exit()
    from flows.deployments import deploy_all, prefect_api_url

    if not prefect_api_url():
        fail("PREFECT_API_URL is not set: point it at your Prefect server, e.g. http://prefect-host:4200/api")

    root = (home or Path(os.environ.get("SQMS_HOME") or Path.cwd())).resolve()
    if not (root / "flows").is_dir():
        fail(f"{root} is not an SQMS checkout (no flows/ folder); pass --home or set SQMS_HOME")
    for name in deploy_all(settings, root, pool, late_after_seconds=60 * late_after,
                           lost_after_seconds=lost_after):
        typer.echo(f"deployed {name} (pool {pool}, from {root})")


@app.command()
def doctor(prefect: bool = typer.Option(True, help="Also check the Prefect API and the deployments.")) -> None:
    """Check this installation: configuration, database and schema, SMTP (nothing is sent), the
    working-day calendar of the coming year, the Prefect API and every deployment's schedule."""
    from sqms.doctor import Check, run_checks

    settings = settings_or_exit()
    checks = run_checks(settings)
    if prefect:
        from flows.deployments import check_deployments

        try:
            checks += check_deployments(settings)
        except Exception as exc:  # an unreachable API raises from the client
            checks.append(Check("prefect api", False, f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"))
    for check in checks:
        typer.echo(check.line())
    failed = [c for c in checks if not c.ok and not c.warning]
    typer.echo(f"\n{len(failed)} problem(s)" if failed else "\nall good")
    if failed:
        raise typer.Exit(1)


@app.command("check-config")
def check_config() -> None:
    """Validate config/sqms.yaml (or $SQMS_CONFIG) and the questionnaires; list every problem."""
    settings = settings_or_exit()
    from sqms.config import ConfigError
    from sqms.surveys.questionnaire import load_questionnaires

    try:
        questionnaires = load_questionnaires(settings.questionnaires_dir)
    except ConfigError as exc:
        fail(str(exc))
    from sqms.audits.checklists import load_checklists

    try:
        checklists = load_checklists(settings.checklists_dir, [d.code for d in settings.departments])
    except ConfigError as exc:
        fail(str(exc))
    from sqms.monitoring.templates import load_templates

    try:
        inspection_templates = load_templates(settings)
    except ConfigError as exc:
        fail(str(exc))
    if settings.monitoring.plan_template not in inspection_templates:
        fail(f"monitoring.plan_template: unknown inspection template {settings.monitoring.plan_template!r}")
    smtp_problem = settings.smtp.login_problem()
    if smtp_problem:
        fail(smtp_problem)
    typer.echo(f"ok: {len(settings.departments)} departments, {len(settings.people)} people, "
               f"{len(questionnaires)} questionnaire(s), {len(checklists)} checklist(s), "
               f"{len(inspection_templates)} inspection template(s)")


def main() -> None:
    # Without a PREFECT_API_URL a flow starts a temporary Prefect server; on a small
    # machine it needs longer than Prefect's 20 s default. No analytics: no network here.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
