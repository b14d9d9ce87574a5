"""`sqms pdca list|show|plan|start|standardise`: PDCA improvement cycles."""

from __future__ import annotations

from typing import Optional

import typer

from sqms.cli_common import command_session, history_lines, parse_day

app = typer.Typer(help="PDCA improvement cycles (持续改进), opened by KPI misses.", no_args_is_help=True)


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.2f}"


@app.command("list")
def list_(all_: bool = typer.Option(False, "--all", help="Closed cycles too.")) -> None:
    """The status board: every open cycle (with --all, closed ones too)."""
    from sqms.improvement.service import board

    with command_session() as (settings, session):
        rows = [r for r in board(session, settings) if all_ or r["status"] != "closed"]
    typer.echo(f"{'cycle':<11} {'state':<7} {'it':>2} {'department':<12} {'kpi':<28} {'baseline':>8} {'target':>8} "
               f"{'check':>16} actions")
    for r in rows:
        check = f"{r['check_period']} {_fmt(r['check_value'])}" if r["check_period"] else "—"
        typer.echo(f"{r['ref']:<11} {r['status']:<7} {r['iteration']:>2} {r['department']:<12} {r['kpi']:<28} "
                   f"{_fmt(r['baseline']):>8} {_fmt(r['target']):>8} {check:>16} {r['actions_done']}/{r['actions']}")
    if not rows:
        typer.echo("(none)")


@app.command()
def show(ref: str = typer.Argument(..., help="Cycle, e.g. PDCA-00003 or 3.")) -> None:
    """One cycle: the miss, root cause, actions, check, standardisation, history."""
    from sqms.improvement.service import LIFECYCLE, ImprovementError, actions_of, get

    with command_session(errors=ImprovementError, code=1) as (settings, session):
        c = get(session, ref)
        lines = [f"{c.ref}  [{c.status}]  iteration {c.iteration}  {c.department}  {c.kpi}",
                 f"  opened       {c.opened_period}: {c.reason}; baseline {_fmt(c.baseline)}, target {_fmt(c.target)}",
                 f"  owner        {c.owner}",
                 f"  root cause   {c.root_cause or '—'}"]
        for a in actions_of(session, c):
            lines.append(f"  action       {a.ref} [{a.status}] due {a.due_on} {a.title}")
        if c.check_period:
            lines.append(f"  check        {c.check_period}: {_fmt(c.check_value)} "
                         + ("met" if c.check_met else "not met" if c.check_met is False else "(waiting)"))
        for h in c.history:
            lines.append(f"  iteration {h['iteration']}: root cause {h['root_cause']}, check {h['check_period']} "
                         f"{_fmt(h['check_value'])}, actions {', '.join(h['actions'])}")
        if c.standard:
            lines.append(f"  standard     {c.standard} ({c.standard_version})")
        lines.append(f"  next steps   {', '.join(LIFECYCLE.allowed(c.status)) or '— (closed)'}")
        lines += history_lines(session, settings, "improvement_cycle", c.ref)
    typer.echo("\n".join(lines))


@app.command()
def plan(
    ref: str = typer.Argument(..., help="Cycle."),
    root_cause: Optional[str] = typer.Option(None, help="The root cause found."),
    action: Optional[str] = typer.Option(None, help="An improvement action to add (its title)."),
    owner: Optional[str] = typer.Option(None, help="The action's owner (default: the cycle's owner)."),
    due: Optional[str] = typer.Option(None, help="The action's due date YYYY-MM-DD."),
    actor: Optional[str] = typer.Option(None, "--as"),
) -> None:
    """Plan: record the root cause and add actions."""
    from sqms.actions.service import ActionError
    from sqms.improvement.service import ImprovementError, get
    from sqms.improvement.service import plan as plan_cycle

    with command_session(actor, errors=(ImprovementError, ActionError)) as (settings, session):
        cycle = get(session, ref)
        added = plan_cycle(session, settings, cycle, root_cause=root_cause, action_title=action,
                           action_owner=owner, due_on=parse_day(due, "--due") if due else None)
    typer.echo(f"{cycle.ref}: " + ", ".join(x for x in (
        "root cause recorded" if root_cause else "", f"action {added.ref} due {added.due_on}" if added else "") if x))


@app.command()
def start(ref: str = typer.Argument(...), actor: Optional[str] = typer.Option(None, "--as")) -> None:
    """Plan → do (needs the root cause and at least one action)."""
    from sqms.improvement.service import ImprovementError, get
    from sqms.improvement.service import start as start_cycle
    from sqms.statemachine import IllegalTransition

    with command_session(actor, errors=(ImprovementError, IllegalTransition)) as (settings, session):
        cycle = get(session, ref)
        start_cycle(session, settings, cycle)
    typer.echo(f"{cycle.ref}: now {cycle.status}; the check follows once its actions are done")


@app.command()
def standardise(
    ref: str = typer.Argument(...),
    standard: str = typer.Option(..., help="The standard or procedure changed, e.g. 客服话术规范 SOP-CS-03."),
    version: str = typer.Option(..., help="Its new version, e.g. V2.1."),
    actor: Optional[str] = typer.Option(None, "--as"),
) -> None:
    """Act (target met): record the standardisation; the cycle closes."""
    from sqms.improvement.service import ImprovementError, get
    from sqms.improvement.service import standardise as standardise_cycle
    from sqms.statemachine import IllegalTransition

    with command_session(actor, errors=(ImprovementError, IllegalTransition)) as (settings, session):
        cycle = get(session, ref)
        standardise_cycle(session, settings, cycle, standard=standard, version=version)
    typer.echo(f"{cycle.ref}: closed ({standard} {version})")
