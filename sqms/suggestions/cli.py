"""`sqms suggestion ...`: suggestions from staff and customers (合理化建议)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sqms.cli_common import cli_actor, command_session, deliver_now, parse_day

app = typer.Typer(help="Suggestions (合理化建议): submit, import, evaluate (accepted → improvement action).",
                  no_args_is_help=True)


def _run(actor: str | None, work, deliver: bool = True):
    from sqms.actions.service import ActionError
    from sqms.statemachine import IllegalTransition
    from sqms.suggestions.service import PROCESS, SuggestionError

    with command_session(actor, errors=(SuggestionError, IllegalTransition, ActionError)) as (settings, session):
        out = work(session, settings)
    if deliver:
        deliver_now(settings, PROCESS)
    return out


@app.command("submit")
def submit_(
    text: str = typer.Argument(..., help="The suggestion."),
    source: str = typer.Option("staff", "--source", help="staff | customer"),
    name: Optional[str] = typer.Option(None, "--name"),
    email: Optional[str] = typer.Option(None, "--email", help="Told the outcome when given."),
    department: Optional[str] = typer.Option(None, "--department", help="What it is about (code or name)."),
    actor: Optional[str] = typer.Option(None, "--as"),
) -> None:
    """Record a suggestion; the quality manager evaluates it within N working days."""
    from sqms.suggestions.service import submit

    row = _run(actor, lambda s, st: submit(s, st, text=text, source=source, name=name, email=email,
                                           department=department, actor=cli_actor(actor)), deliver=False)
    typer.echo(f"{row.ref}: evaluation due {row.evaluation_due_on}")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="CSV or XLSX: suggestion_id, submitted_at, source, name, email, "
                                          "department, text."),
    actor: Optional[str] = typer.Option(None, "--as"),
) -> None:
    """Import suggestions (validated whole, idempotent by suggestion_id)."""
    from sqms.suggestions.service import import_file

    typer.echo(_run(actor, lambda s, st: import_file(s, st, file, actor=cli_actor(actor)), deliver=False).summary())


@app.command()
def evaluate(
    ref: str = typer.Argument(..., help="SG-00001"),
    decision: str = typer.Argument(..., help="accept | reject"),
    by: str = typer.Option(..., "--by", help="Who evaluates (the quality manager)."),
    reason: str = typer.Option(..., "--reason", help="Why (the submitter is told)."),
    department: Optional[str] = typer.Option(None, "--department", help="accept: the department that acts."),
    owner: Optional[str] = typer.Option(None, "--owner", help="accept: the action's owner (default: its manager)."),
    due: Optional[str] = typer.Option(None, "--due", help="accept: the action's due day."),
    title: Optional[str] = typer.Option(None, "--title", help="accept: the action's title."),
    actor: Optional[str] = typer.Option(None, "--as"),
) -> None:
    """Accept (→ an improvement action) or reject a suggestion; the submitter is told."""
    from sqms.suggestions.service import evaluate as evaluate_, get

    day = parse_day(due, "--due") if due else None

    def work(session, settings):
        row = evaluate_(session, settings, get(session, ref), decision, by=by, reason=reason, owner=owner,
                        department=department, due_on=day, title=title, actor=cli_actor(actor))
        return f"{row.ref}: {row.status}" + (f" → CAPA-{row.action_id:05d}" if row.action_id else "")

    typer.echo(_run(actor, work))


@app.command("list")
def list_(status: Optional[str] = typer.Option(None, help="submitted | accepted | rejected")) -> None:
    """Suggestions with their state and evaluation day."""
    from sqms.suggestions.service import listing

    with command_session() as (settings, session):
        for s in listing(session, status):
            typer.echo(f"{s.ref}  {s.status:<10} {s.source:<8} due {s.evaluation_due_on}  {s.text[:50]}")
