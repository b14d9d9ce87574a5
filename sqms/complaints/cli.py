"""`sqms complaint register|show|advance|list`: the complaint lifecycle from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sqms.cli_common import (
    cli_actor,
    code_of,
    command_session,
    database_or_exit,
    deliver_now,
    history_lines,
    local,
    parse_moment,
    settings_or_exit,
)

app = typer.Typer(help="Complaints (投诉): register, show, advance along the lifecycle, list.",
                  no_args_is_help=True)


@app.command()
def register(
    department: str = typer.Option(..., help="Department code or name, e.g. CS or 客服部."),
    channel: str = typer.Option(..., help="phone, online, email or onsite, or a name: 电话, 在线, 电子邮件, 现场."),
    severity: str = typer.Option("normal", help="normal/一般 (2 working days) or special/重大 (5, the GM is told at once)."),
    category: str = typer.Option(..., help="Category, e.g. 服务态度."),
    description: Optional[str] = typer.Option(None, help="What the customer complains about."),
    customer: Optional[str] = typer.Option(None, "--customer", help="Customer id."),
    received_at: Optional[str] = typer.Option(None, help="When it was received (local time; default now)."),
    owner: Optional[str] = typer.Option(None, help="Handler's email (default: the department manager)."),
    complaint_id: Optional[str] = typer.Option(None, "--id", help="Id (default CP-<date>-<n>)."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who registers it (for the audit log)."),
) -> None:
    """Register a complaint received on any channel."""
    from sqms.complaints.service import ComplaintError, owner_of
    from sqms.complaints.service import register as register_complaint

    settings = settings_or_exit()
    code = code_of(settings, "department", department, "--department")
    channel = code_of(settings, "channel", channel, "--channel")
    severity = code_of(settings, "severity", severity, "--severity")
    with command_session(actor, settings=settings, errors=ComplaintError) as (settings, session):
        received = parse_moment(received_at, settings, "--received-at")
        complaint = register_complaint(
            session, settings, received_at=received, department=code, channel=channel, severity=severity,
            category=category, customer_id=customer, description=description, owner=owner,
            complaint_id=complaint_id)
    typer.echo(f"registered {complaint.complaint_id}: {complaint.severity}, {code}, handler "
               f"{owner_of(complaint, settings) or '—'}; first contact by "
               f"{local(complaint.first_contact_due_at, settings)}, settle by {local(complaint.deadline_at, settings)}")
    deliver_now(settings, "complaints")


@app.command()
def advance(
    complaint_id: str = typer.Argument(..., help="The complaint."),
    action: str = typer.Argument(..., help="acknowledge, investigate, propose, approve, send_back, resolve, "
                                           "return_visit, close or reopen."),
    comment: Optional[str] = typer.Option(None, help="Kept in the audit log."),
    solution: Optional[str] = typer.Option(None, help="propose: the solution."),
    answer: Optional[str] = typer.Option(None, help="resolve: the answer given to the complainant."),
    by: Optional[str] = typer.Option(None, "--by", help="approve, send_back: the approving manager's email."),
    score: Optional[int] = typer.Option(None, help="return_visit: the customer's score 1-5."),
    feedback: Optional[str] = typer.Option(None, help="return_visit: what the customer said."),
    at: Optional[str] = typer.Option(None, help="When it happened (local time; default now)."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who does it (for the audit log)."),
) -> None:
    """Move a complaint one step along the lifecycle."""
    from sqms.complaints.service import ComplaintError, Step, get, queue_feedback_request
    from sqms.complaints.service import advance as advance_complaint
    from sqms.statemachine import IllegalTransition

    with command_session(actor, errors=(ComplaintError, IllegalTransition)) as (settings, session):
        moment = parse_moment(at, settings, "--at")
        complaint = get(session, complaint_id)
        made = advance_complaint(session, settings, complaint, action, Step(
            solution=solution, answer=answer, approver=by, score=score, feedback_comment=feedback,
            feedback_channel="phone" if score is not None else None), comment=comment, at=moment)
        asked = action == "resolve" and queue_feedback_request(session, settings, complaint)
    typer.echo(f"{complaint.complaint_id}: {' → '.join(made)}; now {complaint.status}")
    if asked:
        typer.echo("the customer is asked for feedback (return visit) by mail")
        deliver_now(settings, "complaints")


@app.command()
def show(complaint_id: str = typer.Argument(..., help="The complaint.")) -> None:
    """The complaint, its deadlines, and every step with who and when."""
    from sqms.complaints.service import LIFECYCLE, ComplaintError, get, owner_of

    with command_session(errors=ComplaintError, code=1) as (settings, session):
        c = get(session, complaint_id)
        lines = [
            f"{c.complaint_id}  [{c.status}]  {c.severity}  {c.department}  {c.channel}  {c.category}",
            f"  received     {local(c.received_at, settings)}   customer {c.customer_id or '—'}",
            f"  handler      {owner_of(c, settings) or '—'}",
            f"  first contact due {local(c.first_contact_due_at, settings)}, made {local(c.responded_at, settings)}",
            f"  settle by    {local(c.deadline_at, settings)}, resolved {local(c.resolved_at, settings)}",
        ]
        for label, value in (("description", c.description), ("solution", c.solution),
                             ("approved by", c.approved_by), ("answer", c.answer)):
            if value:
                lines.append(f"  {label:<12} {value}")
        if c.feedback_score is not None:
            lines.append(f"  return visit {local(c.return_visit_at, settings)}: score {c.feedback_score} "
                         f"({c.feedback_channel}) {c.feedback_comment or ''}".rstrip())
        lines.append(f"  next steps   {', '.join(LIFECYCLE.allowed(c.status)) or '— (closed)'}")
        lines += history_lines(session, settings, "complaint", c.complaint_id)
    typer.echo("\n".join(lines))


@app.command("list")
def list_(
    status: Optional[str] = typer.Option(None, help="Only this state (e.g. investigating or 调查中)."),
    department: Optional[str] = typer.Option(None, help="Only this department (code or name)."),
    open_only: bool = typer.Option(False, "--open", help="Only complaints not yet settled."),
    limit: int = typer.Option(50, help="At most this many, newest first."),
) -> None:
    """Complaints, newest first, with their deadlines."""
    from sqms.calendar import utcnow
    from sqms.complaints.service import listing

    with command_session() as (settings, session):
        status = code_of(settings, "complaint_state", status, "--status")
        department = code_of(settings, "department", department, "--department")
        now = utcnow()
        rows = listing(session, status=status, department=department, open_only=open_only, limit=limit)
        typer.echo(f"{'complaint':<22} {'state':<18} {'sev':<8} {'dept':<6} {'received':<16} {'settle by':<16} "
                   f"category")
        for c in rows:
            late = "  LATE" if c.resolved_at is None and c.deadline_at < now else ""
            typer.echo(f"{c.complaint_id:<22} {c.status:<18} {c.severity:<8} {c.department:<6} "
                       f"{local(c.received_at, settings):<16} {local(c.deadline_at, settings):<16} {c.category}{late}")
    if not rows:
        typer.echo("(none)")


@app.command("import-visits")
def import_visits(
    file: Path = typer.Argument(..., help="CSV or XLSX: complaint_id, visited_at, score[, comment, channel]."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who made the visits (for the audit log)."),
) -> None:
    """Record return visits made by phone or on site (a score at or below the threshold reopens)."""
    from sqms.complaints.visits import import_visits as run_import
    from sqms.ingest import ImportFileError

    settings = settings_or_exit()
    database_or_exit(settings)
    try:
        result = run_import(settings, file, cli_actor(actor))
    except ImportFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1)
    typer.echo(result.summary())
