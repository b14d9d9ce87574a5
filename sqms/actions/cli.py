"""`sqms action open|show|update|advance|list`: corrective and preventive actions (CAPA)."""

from __future__ import annotations

from typing import List, Optional

import typer

from sqms.cli_common import code_of, command_session, fail, history_lines, local, parse_day, settings_or_exit

app = typer.Typer(help="Corrective and preventive actions (CAPA, 纠正预防措施).", no_args_is_help=True)


@app.command("open")
def open_(
    title: str = typer.Option(..., help="What is to be done, in one line."),
    department: str = typer.Option(..., help="Department code or name, e.g. CS or 客服部."),
    type_: str = typer.Option("corrective", "--type", help="immediate, corrective, preventive or improvement (or 立即/纠正/预防/改进措施)."),
    source: str = typer.Option("manual", help="complaint, audit_finding, review_decision, improvement_cycle, "
                                              "kpi_miss, survey or manual."),
    problem: str = typer.Option("", help="The problem found."),
    owner: Optional[str] = typer.Option(None, help="Owner's email (default: the department manager)."),
    due: Optional[str] = typer.Option(None, help="Due date YYYY-MM-DD (default by type, in working days)."),
    link: List[str] = typer.Option([], help="entity:id it is about, e.g. complaint:CP-20261009-001 (repeatable)."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who opens it (for the audit log)."),
) -> None:
    """Open an action with an owner and a due date."""
    from sqms.actions.service import ActionError, NewAction, open_action

    settings = settings_or_exit()
    department = code_of(settings, "department", department, "--department")
    type_ = code_of(settings, "action_type", type_, "--type")
    with command_session(actor, settings=settings, errors=ActionError) as (settings, session):
        links = []
        for item in link:
            entity, _, ident = item.partition(":")
            if not entity or not ident:
                fail(f"--link {item!r}: write entity:id, e.g. complaint:CP-20261009-001")
            links.append((entity, ident))
        action = open_action(session, settings, NewAction(
            source=source, type=type_, title=title, department=department, problem=problem, owner=owner,
            due_on=parse_day(due, "--due") if due else None, links=links))
    typer.echo(f"opened {action.ref}: {action.type}, owner {action.owner}, due {action.due_on}")


@app.command()
def update(
    action_id: str = typer.Argument(..., help="Action number, e.g. 12 or CAPA-00012."),
    why: List[str] = typer.Option([], help="5-why: each answer to 'why?', in order (repeat up to 5 times)."),
    root_cause: Optional[str] = typer.Option(None, help="The root cause found."),
    measures: Optional[str] = typer.Option(None, help="What was (or will be) done."),
    owner: Optional[str] = typer.Option(None, help="Hand it to another owner (email)."),
    due: Optional[str] = typer.Option(None, help="New due date YYYY-MM-DD."),
    comment: Optional[str] = typer.Option(None, help="Kept in the audit log."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who records it."),
) -> None:
    """Record the root-cause analysis, the measures, a new owner or due date."""
    from sqms.actions.service import ActionError, Update, get, record

    with command_session(actor, errors=ActionError) as (settings, session):
        action = get(session, action_id)
        changed = record(session, settings, action, Update(
            whys=list(why) if why else None, root_cause=root_cause, measures=measures, owner=owner,
            due_on=parse_day(due, "--due") if due else None), comment=comment)
    typer.echo(f"{action.ref}: " + (", ".join(sorted(changed)) + " recorded" if changed else "nothing changed"))


@app.command()
def advance(
    action_id: str = typer.Argument(..., help="Action number."),
    move: str = typer.Argument(..., help="start, complete, verify (effective) or reject (not effective)."),
    by: Optional[str] = typer.Option(None, "--by", help="verify/reject: the verifier's email."),
    comment: Optional[str] = typer.Option(None, help="Kept in the audit log (required to reject)."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who does it."),
) -> None:
    """Move an action: open → in progress → done → verified (or back to in progress)."""
    from sqms.actions.service import ActionError, get
    from sqms.actions.service import advance as advance_action
    from sqms.statemachine import IllegalTransition

    with command_session(actor, errors=(ActionError, IllegalTransition)) as (settings, session):
        action = advance_action(session, settings, get(session, action_id), move, by=by, comment=comment)
    extra = f"; verification due {action.verification_due_on}" if action.status == "done" else ""
    typer.echo(f"{action.ref}: now {action.status}{extra}")


@app.command()
def show(action_id: str = typer.Argument(..., help="Action number.")) -> None:
    """The action, its analysis and its history."""
    from sqms.actions.service import LIFECYCLE, ActionError, get

    with command_session(errors=ActionError, code=1) as (settings, session):
        a = get(session, action_id)
        lines = [f"{a.ref}  [{a.status}]  {a.type}  {a.department}  {a.title}",
                 f"  source       {a.source}{' (' + a.source_ref + ')' if a.source_ref else ''}",
                 f"  owner        {a.owner}, due {a.due_on}",
                 f"  links        {', '.join(f'{l.entity}:{l.entity_id}' for l in a.links) or '—'}"]
        if a.problem:
            lines.append(f"  problem      {a.problem}")
        for i, answer in enumerate(a.whys or [], 1):
            lines.append(f"  why {i}        {answer}")
        for label, value in (("root cause", a.root_cause), ("measures", a.measures)):
            if value:
                lines.append(f"  {label:<12} {value}")
        if a.done_at:
            lines.append(f"  done         {local(a.done_at, settings)}, verification due {a.verification_due_on}")
        if a.verifier:
            lines.append(f"  verifier     {a.verifier} {local(a.verified_at, settings) if a.verified_at else ''} "
                         f"{a.verification_comment or ''}".rstrip())
        lines.append(f"  next steps   {', '.join(LIFECYCLE.allowed(a.status)) or '— (verified)'}")
        lines += history_lines(session, settings, "action", a.id)
    typer.echo("\n".join(lines))


@app.command("list")
def list_(
    status: Optional[str] = typer.Option(None, help="open, in_progress, done or verified (or 待实施, 实施中 …)."),
    department: Optional[str] = typer.Option(None, help="Only this department."),
    owner: Optional[str] = typer.Option(None, help="Only this owner (email)."),
    open_only: bool = typer.Option(False, "--open", help="Not yet verified."),
) -> None:
    """Actions by due date."""
    from sqms.actions.service import listing
    from sqms.calendar import to_local, utcnow

    with command_session() as (settings, session):
        status = code_of(settings, "action_state", status, "--status")
        department = code_of(settings, "department", department, "--department")
        today = to_local(utcnow(), settings.tz).date()
        rows = listing(session, status=status, department=department, owner=owner, open_only=open_only)
        typer.echo(f"{'action':<11} {'state':<12} {'type':<12} {'dept':<6} {'due':<10} {'owner':<26} title")
        for a in rows:
            late = "  OVERDUE" if a.status in ("open", "in_progress") and a.due_on < today else ""
            typer.echo(f"{a.ref:<11} {a.status:<12} {a.type:<12} {a.department:<6} {a.due_on!s:<10} "
                       f"{a.owner:<26} {a.title}{late}")
    if not rows:
        typer.echo("(none)")
