"""`sqms report held|comment|release`: a monthly report held as a draft (`report.hold_hours`) for the
quality manager's written analysis."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sqms.cli_common import cli_actor, command_session, deliver_now, fail, local, period_of, settings_or_exit

app = typer.Typer(help="Reports held as drafts for the quality manager's analysis (report.hold_hours).",
                  no_args_is_help=True)
KIND = "monthly-report"


@app.command("held")
def held_() -> None:
    """The reports held now: period, draft version, when they go out, whether an analysis is in."""
    from sqms.reporting.hold import held
    from sqms.reporting.models import GeneratedReport

    with command_session() as (settings, session):
        rows = held(session)
        if not rows:
            typer.echo("no report is held")
        for hold in rows:
            draft = session.get(GeneratedReport, hold.report_id)
            typer.echo(f"{hold.kind} {hold.period} v{draft.version}  goes out {local(hold.until, settings)}  "
                       f"analysis: {'yes, by ' + (hold.commented_by or '?') if hold.commentary else 'none'}")


@app.command("comment")
def comment_(
    period: str = typer.Argument(..., help="YYYY-MM of the held monthly report."),
    text: Optional[str] = typer.Option(None, "--text", help="The analysis (paragraphs separated by new lines)."),
    file: Optional[Path] = typer.Option(None, "--file", exists=True, dir_okay=False, help="The analysis, UTF-8 text."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who writes it (default: $SQMS_ACTOR or the OS user)."),
) -> None:
    """Add (or replace) the quality manager's analysis of a held report; it is printed under
    存在问题与改进措施 of the version that goes out."""
    from sqms.calendar import utcnow
    from sqms.reporting.hold import HoldError, comment

    settings = settings_or_exit()
    period = period_of(period, settings, "PERIOD")
    if (text is None) == (file is None):
        fail("give the analysis with --text or --file (one of them)")
    body = text if text is not None else file.read_text(encoding="utf-8-sig")
    with command_session(actor, settings=settings, errors=HoldError) as (settings, session):
        hold = comment(session, KIND, period, body, actor=cli_actor(actor), now=utcnow())
    typer.echo(f"analysis kept ({len(hold.commentary)} characters); the report goes out "
               f"{local(hold.until, settings)} (or now: sqms report release {period})")


@app.command("release")
def release_(
    period: str = typer.Argument(..., help="YYYY-MM of the held monthly report."),
    actor: Optional[str] = typer.Option(None, "--as"),
) -> None:
    """Send a held report now, with the analysis entered so far (a new version that prints it)."""
    from sqms.calendar import utcnow
    from sqms.monthly.messaging import PROCESS, release_held
    from sqms.reporting.hold import HoldError

    settings = settings_or_exit()
    period = period_of(period, settings, "PERIOD")
    with command_session(actor, settings=settings, errors=HoldError) as (settings, session):
        [released] = release_held(session, settings, now=utcnow(), actor=cli_actor(actor), period=period)
    typer.echo(f"released {KIND} {period} v{released['version']}"
               f"{' with the analysis' if released['commentary'] else ''}: {released['queued']} mail(s) queued")
    deliver_now(settings, PROCESS)
