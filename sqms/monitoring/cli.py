"""`sqms inspection record|show|list` and `sqms grading run`: service monitoring from the command line."""

from __future__ import annotations

import json
from typing import List, Optional

import typer

from sqms.cli_common import (
    cli_actor,
    command_session,
    deliver_now,
    fail,
    local,
    parse_moment,
)

inspection_app = typer.Typer(help="Service inspections and mystery-shopper evaluations (服务检查).",
                             no_args_is_help=True)
compliment_app = typer.Typer(help="Compliments (表扬) entered by hand; files: sqms import compliments.",
                             no_args_is_help=True)
error_app = typer.Typer(help="Service errors (服务差错) entered by hand; files: sqms import service-errors.",
                        no_args_is_help=True)
grading_app = typer.Typer(help="Staff service-quality grading a / b / c (服务质量等级).", no_args_is_help=True)


@inspection_app.command("record")
def record(
    inspection_id: str = typer.Option(..., "--id", help="The inspection's id, e.g. INS-20261009-01."),
    template: str = typer.Option(..., help="Template code (config/inspections/*.yaml)."),
    department: str = typer.Option(..., help="Department code."),
    inspector: str = typer.Option(..., help="Who inspected (email or name)."),
    item: List[str] = typer.Option(..., help="CODE=pass|fail|na|points[:note] (repeatable)."),
    staff: Optional[str] = typer.Option(None, "--staff", help="staff_id of the person inspected."),
    source: str = typer.Option("internal", help="internal, mystery_shopper or third_party."),
    at: Optional[str] = typer.Option(None, "--at", help="When (local time, default now)."),
    evidence: List[str] = typer.Option([], help="CODE=FILE: evidence of an item (repeatable)."),
    note: Optional[str] = typer.Option(None, help="A note on the whole inspection."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who records it (for the audit log)."),
) -> None:
    """Record an inspection; a failed red line or a low score opens a corrective action, mailed at once."""
    from sqms.monitoring.service import (
        InspectionError,
        ItemResult,
        NewInspection,
        parse_result,
        record_inspection,
    )
    from sqms.monitoring.templates import load_templates

    with command_session(actor, errors=InspectionError) as (settings, session):
        templates = load_templates(settings)
        if template not in templates:
            fail(f"--template: unknown template {template!r} (known: {', '.join(sorted(templates))})")
        files: dict[str, list[str]] = {}
        for entry in evidence:
            code, _, name = entry.partition("=")
            if not name:
                fail(f"--evidence {entry!r}: write CODE=FILE")
            files.setdefault(code, []).append(name)
        results = []
        for entry in item:
            code, _, rest = entry.partition("=")
            value, _, text = rest.partition(":")
            definition = templates[template].item(code)
            if definition is None:
                fail(f"--item {entry!r}: {code!r} is not an item of {template}")
            try:
                points = parse_result(value, definition.points)
            except InspectionError as exc:
                fail(f"--item {entry!r}: {exc}")
            results.append(ItemResult(code, points, text or None, files.get(code, [])))
        new = NewInspection(inspection_id=inspection_id, template=template, department=department,
                            inspector=inspector, inspected_at=parse_moment(at, settings, "--at"), items=results,
                            source=source, staff_id=staff, note=note)
        row, outcome = record_inspection(session, settings, new, templates=templates, actor=cli_actor(actor))
    typer.echo(f"{row.inspection_id}: {outcome}, score {row.score:g}"
               + (" (red line failed)" if row.red_line_failed else "")
               + (f"; corrective action #{row.action_id}" if row.action_id else ""))
    deliver_now(settings, "inspections")


@inspection_app.command("list")
def list_(
    department: Optional[str] = typer.Option(None, help="Only this department."),
) -> None:
    """The inspections recorded, newest first."""
    from sqlalchemy import select

    from sqms.monitoring.models import Inspection

    with command_session() as (settings, session):
        query = select(Inspection).order_by(Inspection.inspected_at.desc()).limit(200)
        if department:
            query = query.where(Inspection.department == department)
        for row in session.scalars(query):
            typer.echo(f"{row.inspection_id:<24} {local(row.inspected_at, settings)}  {row.department:<6} "
                       f"{row.staff_id or '—':<8} {row.source:<15} {row.score:6.1f}"
                       + ("  红线" if row.red_line_failed else ""))


@grading_app.command("run")
def run(
    quarter: str = typer.Option(..., "--quarter", help="The quarter, e.g. 2026Q3."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON list of grades."),
) -> None:
    """Grade every active front-line person for the quarter (kept; the change from last quarter shown)."""
    from sqms.monitoring.grading import GradingError, grade_quarter

    with command_session(errors=GradingError) as (settings, session):
        grades = grade_quarter(session, settings, quarter)
    if as_json:
        typer.echo(json.dumps([g.as_json() for g in grades], ensure_ascii=False, indent=2))
        return
    for g in grades:
        score = "—" if g.score is None else f"{g.score:.1f}"
        typer.echo(f"{g.staff_id:<10} {g.name:<8} {g.department:<6} {score:>6}  {g.grade or '—'}"
                   f"  (上季度 {g.previous_grade or '—'})")


@compliment_app.command("add")
def compliment_add(
    compliment_id: str = typer.Option(..., "--id", help="The compliment's id."),
    department: str = typer.Option(..., help="Department code."),
    staff: Optional[str] = typer.Option(None, "--staff", help="staff_id of the person praised."),
    at: Optional[str] = typer.Option(None, "--at", help="When received (local time, default now)."),
    channel: Optional[str] = typer.Option(None, help="phone, online, email or onsite."),
    customer: Optional[str] = typer.Option(None, help="customer_id."),
    description: Optional[str] = typer.Option(None, help="What the customer said."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who enters it (for the audit log)."),
) -> None:
    """Record a compliment."""
    from sqms.monitoring.service import InspectionError, add_compliment

    with command_session(actor, errors=InspectionError) as (settings, session):
        add_compliment(session, settings, compliment_id=compliment_id, department=department,
                       received_at=parse_moment(at, settings, "--at"), staff_id=staff, channel=channel,
                       customer_id=customer, description=description, actor=cli_actor(actor))
    typer.echo(f"{compliment_id}: recorded")


@error_app.command("add")
def error_add(
    error_id: str = typer.Option(..., "--id", help="The service error's id."),
    category: str = typer.Option(..., help="wrong_information, missed_appointment, lost_item, wrong_fee, "
                                           "rude_conduct or other."),
    severity: str = typer.Option("minor", help="minor, major or critical."),
    department: Optional[str] = typer.Option(None, help="Department code (default: the complaint's/inspection's)."),
    staff: Optional[str] = typer.Option(None, "--staff", help="staff_id of the person responsible."),
    complaint: Optional[str] = typer.Option(None, help="A complaint found valid that revealed it."),
    inspection: Optional[str] = typer.Option(None, help="The inspection that found it."),
    at: Optional[str] = typer.Option(None, "--at", help="When it happened (local time)."),
    description: Optional[str] = typer.Option(None, help="What went wrong."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who enters it (for the audit log)."),
) -> None:
    """Record a service error, directly or from a valid complaint or an inspection."""
    from sqms.monitoring.service import InspectionError, add_service_error

    with command_session(actor, errors=InspectionError) as (settings, session):
        row = add_service_error(session, settings, error_id=error_id, category=category, severity=severity,
                                occurred_at=parse_moment(at, settings, "--at") if at else None,
                                department=department, staff_id=staff, complaint_id=complaint,
                                inspection_id=inspection, description=description, actor=cli_actor(actor))
    typer.echo(f"{error_id}: recorded ({row.department}, {row.origin})")
