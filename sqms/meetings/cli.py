"""`sqms meeting ...`: the monthly quality-analysis meeting (月度质量分析会) from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sqms.cli_common import cli_actor, command_session, deliver_now, parse_day

app = typer.Typer(help="Monthly quality-analysis meeting (月度质量分析会): schedule, agenda, minutes.",
                  no_args_is_help=True)

MINUTES_HELP = """Record the minutes from YAML or from the workbook of `sqms meeting workbook`; all or nothing.

\b
attendees: [张伟, li.na@example.com]      # who was present (emails or names)
items:                                   # per agenda item (numbers as in the invitation)
  - {item: 3, discussion: 客服部接通率连续三月下降, decision: 高峰时段增加坐席}
actions:                                 # action items -> corrective/preventive actions
  - title: 高峰时段排班优化
    owner: wang.fang@example.com         # email or name; mailed at once, once
    due: 2026-11-30
    department: CS                       # optional: the owner's
    type: corrective                     # optional: immediate|corrective|preventive|improvement
    item: 3                              # optional: the agenda item it comes from

Recording again corrects the minutes (audited, a new version of the minutes report); an action
item already opened is not opened twice."""


def _errors():
    from sqms.actions.service import ActionError
    from sqms.meetings.minutes import MinutesError
    from sqms.meetings.service import MeetingError
    from sqms.statemachine import IllegalTransition

    return MeetingError, MinutesError, IllegalTransition, ActionError


def _period(text: str) -> str:
    from sqms.calendar import parse_period

    text = text.upper().removeprefix("QM-")
    try:
        parse_period(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="PERIOD")
    return text


@app.command("schedule")
def schedule_(
    period: str = typer.Argument(..., help="The month whose report the meeting analyses (YYYY-MM)."),
    on: Optional[str] = typer.Option(None, "--on", help="The meeting day, a working day (default: "
                                                        "meeting.after_report_working_days after the report)."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who schedules it."),
) -> None:
    """Schedule the meeting (as `sqms run quality-meeting` does) or move it with --on: the invitation goes
    again and calendars update the same event."""
    from sqms.meetings.service import PROCESS, schedule

    with command_session(actor, errors=_errors()) as (settings, session):
        day = parse_day(on, "--on") if on else None
        meeting, queued = schedule(session, settings, _period(period), meeting_on=day, actor=cli_actor(actor))
    typer.echo(f"{meeting.ref}: {meeting.meeting_on} {settings.meeting.meeting_time}, "
               f"{len(meeting.participants)} participants, invitation #{meeting.sequence}, {queued} mails queued")
    deliver_now(settings, PROCESS)


@app.command(help=MINUTES_HELP)
def minutes(
    period: str = typer.Argument(..., help="The meeting's month (YYYY-MM)."),
    file: Path = typer.Argument(..., help="The minutes: YAML, or the filled-in XLSX workbook."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who records them (e.g. the quality manager)."),
) -> None:
    from sqms.meetings.minutes import parse_file
    from sqms.meetings.service import PROCESS, get, record_minutes

    with command_session(actor, errors=_errors()) as (settings, session):
        meeting = get(session, _period(period))
        parsed = parse_file(settings, file, {i["no"] for i in meeting.agenda})
        result = record_minutes(session, settings, meeting, parsed, actor=cli_actor(actor))
    for ref in result["actions"]:
        typer.echo(f"  action opened: {ref}")
    typer.echo(f"{result['meeting']}: minutes recorded"
               + (f", minutes report v{result['minutes_version']}" if result["minutes_version"] else ", unchanged"))
    deliver_now(settings, PROCESS)


@app.command()
def workbook(
    period: str = typer.Argument(..., help="The meeting's month (YYYY-MM)."),
    out: Path = typer.Argument(..., help="Where to write the XLSX to fill in."),
) -> None:
    """The minutes workbook: attendance, the agenda (discussion, decision), action items."""
    from sqms.meetings.minutes import write_workbook
    from sqms.meetings.service import get

    with command_session(errors=_errors()) as (settings, session):
        meeting = get(session, _period(period))
        write_workbook(out, settings, meeting)
    typer.echo(f"written: {out}")


@app.command()
def show(period: str = typer.Argument(..., help="The meeting's month (YYYY-MM).")) -> None:
    """The meeting: day, participants, agenda, minutes and its actions."""
    from sqms.meetings.service import actions_of, get

    with command_session(errors=_errors()) as (settings, session):
        meeting = get(session, _period(period))
        typer.echo(f"{meeting.ref} [{meeting.status}] {meeting.meeting_on} {settings.meeting.meeting_time} "
                   f"{settings.meeting.meeting_place} (invitation #{meeting.sequence})")
        typer.echo(f"participants: {', '.join(meeting.participants)}")
        if meeting.attendees is not None:
            typer.echo(f"present: {', '.join(meeting.attendees)}")
        notes = {n["no"]: n for n in meeting.notes or []}
        for item in meeting.agenda:
            typer.echo(f"{item['no']}. {item['title']}")
            for row in item["rows"]:
                typer.echo(f"   - {row['line']}")
            if item["no"] in notes:
                typer.echo(f"   discussion: {notes[item['no']]['discussion'] or '—'}")
                typer.echo(f"   decision: {notes[item['no']]['decision'] or '—'}")
        for a in actions_of(session, meeting):
            typer.echo(f"action {a.ref} [{a.status}] {a.title} — {a.owner}, due {a.due_on}")


@app.command("list")
def list_() -> None:
    """Every meeting, newest first."""
    from sqms.meetings.service import listing

    with command_session() as (settings, session):
        for m in listing(session):
            typer.echo(f"{m.ref}  {m.status:<10} {m.meeting_on}  invitation #{m.sequence}")
