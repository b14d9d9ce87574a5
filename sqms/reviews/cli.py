"""`sqms review ...`: the annual management review (管理评审) from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sqms.cli_common import cli_actor, command_session, deliver_now, fail, history_lines, local, parse_day, \
    run_due_steps

app = typer.Typer(help="Management review (管理评审): annual reports, input pack, outputs, review report.",
                  no_args_is_help=True)

OUTPUTS_HELP = """Record the outputs of the meeting (评审输出) from YAML; all or nothing.

\b
year: 2025            # optional: refuses another review's file
minutes: |            # optional: the minutes (会议纪要)
  ...
attendees: [张伟, li.na@example.com]   # who was present (or: sqms review attendance)
decisions:            # 评审决议: owner and due required -> action
  - text: 建立客服话术季度复训制度
    owner: wang.fang@example.com   # email or name of a person
    due: 2026-03-31
    department: CS                 # optional: owner's by default
    type: improvement              # optional action type
improvements:         # 改进机会: with an owner -> action
  - {text: 优化在线客服排班, owner: 刘洋, due: 2026-04-30}
resources:            # 资源需求: with an owner -> action
  - {text: 增加2名坐席, owner: zhao.lei@example.com}
objective_changes:    # 目标调整 for next year: old -> new kept
  - {kpi: fcr_pct, department: null, target: 78}

A full example: config/review-outputs.example.yaml. Actions are chased by the reminders; target
changes go to <reports_dir>/management-review/<year>/target-changes.yaml. The next `sqms review run`
(or the daily deployment) issues the review report."""


def _errors():
    from sqms.actions.service import ActionError
    from sqms.reviews.service import ReviewError
    from sqms.statemachine import IllegalTransition

    return ReviewError, IllegalTransition, ActionError


@app.command("open")
def open_(
    year: Optional[int] = typer.Option(None, help="The year reviewed (default: the previous year)."),
    meeting_on: Optional[str] = typer.Option(None, "--meeting-on", help="Meeting day, a working day (default: "
                                             "review.meeting_after_working_days working days from today)."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who opens it."),
) -> None:
    """Open the management review (the `management-review` deployment does this on 10 January); the next
    run asks the department heads for their annual reports."""
    from sqms.reviews.service import open_review

    with command_session(actor, errors=_errors()) as (settings, session):
        day = parse_day(meeting_on, "--meeting-on") if meeting_on else None
        review, new = open_review(session, settings, year=year, meeting_on=day)
    typer.echo(f"{'opened' if new else 'exists already'}: {review.code} [{review.status}], "
               f"meeting {review.meeting_on}, "
               f"department reports due {review.reports_due_on}, {len(review.participants)} participants")


@app.command()
def submit(
    department: str = typer.Argument(..., help="Department code or name."),
    text: Optional[str] = typer.Option(None, "--text", help="The annual report as text."),
    file: Optional[Path] = typer.Option(None, "--file", help="The annual report as a file (kept with the review)."),
    year: Optional[int] = typer.Option(None, help="The year reviewed (default: the open review)."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who submits (default: you)."),
) -> None:
    """Submit a department's annual report (年度工作报告); submitting again replaces it."""
    from sqms.reviews.service import get, latest_open, submit_report

    with command_session(actor, errors=_errors()) as (settings, session):
        if text is None and file is None:
            fail("give the report with --text or --file")
        review = get(session, year) if year else latest_open(session)
        row = submit_report(session, settings, review, department, text=text, file=file,
                            actor=cli_actor(actor))
    typer.echo(f"{review.code}: {row.department} annual report recorded"
               + (f" ({row.file_path})" if row.file_path else ""))


@app.command(help=OUTPUTS_HELP)
def outputs(
    year: int = typer.Argument(..., help="The year reviewed."),
    file: Path = typer.Argument(..., help="The outputs as YAML (see below)."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who records them (e.g. the quality manager)."),
) -> None:
    from sqms.reviews.service import get, record_outputs

    with command_session(actor, errors=_errors(), file=file) as (settings, session):
        review = get(session, year)
        added = record_outputs(session, settings, review, file, actor=cli_actor(actor))
    for o in added:
        typer.echo(f"  {o.kind:<16} {o.text[:60]}" + (f" → CAPA-{o.action_id:05d}" if o.action_id else ""))
    typer.echo(f"{review.code}: {len(added)} outputs recorded; `sqms review run` issues the review report")


@app.command()
def attendance(
    year: int = typer.Argument(..., help="The year reviewed."),
    present: str = typer.Option(..., "--present", help="Who attended, comma-separated emails or names "
                                                       "(e.g. zhang.wei@example.com,李娜)."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who records it."),
) -> None:
    """Record who actually attended the meeting (from the meeting day on); the report lists them."""
    from sqms.reviews.service import get, record_attendance

    with command_session(actor, errors=_errors()) as (settings, session):
        names = [p.strip() for p in present.replace("，", ",").split(",") if p.strip()]
        review = get(session, year)
        emails = record_attendance(session, settings, review, names, actor=cli_actor(actor))
    absent = [e for e in review.participants if e not in emails]
    typer.echo(f"{review.code}: {len(emails)} present" + (f", absent: {', '.join(absent)}" if absent else ""))


@app.command()
def pack(
    year: int = typer.Argument(..., help="The year reviewed."),
) -> None:
    """Send the input pack and the invitation now, or again (late reports, a new meeting day): a resent
    invitation updates the calendar entry."""
    from sqms.calendar import utcnow
    from sqms.reviews.models import PLANNED
    from sqms.reviews.service import get, request_reports, send_pack

    with command_session(errors=_errors()) as (settings, session):
        review = get(session, year)
        if review.status == PLANNED:
            request_reports(session, settings, review, utcnow())
        count = send_pack(session, settings, review, utcnow(), resend=True)
    typer.echo(f"{review.code}: input pack queued for {count} participants")
    deliver_now(settings, "management-review")


@app.command()
def run() -> None:
    """Every open review's due steps now (what the daily deployment does)."""
    from sqms.reviews.service import advance_due

    run_due_steps(advance_due, "management-review")


@app.command("list")
def list_() -> None:
    """Reviews, newest first."""
    from sqms.reviews.service import listing, outputs_of, reports_of

    with command_session() as (settings, session):
        rows = listing(session)
        typer.echo(f"{'review':<14} {'state':<18} {'meeting':<11} {'reports due':<11} reports outputs")
        for r in rows:
            typer.echo(f"{r.code:<14} {r.status:<18} {r.meeting_on!s:<11} {r.reports_due_on!s:<11} "
                       f"{len(reports_of(session, r)):>3}/{len(settings.departments):<3} "
                       f"{len(outputs_of(session, r))}")
    if not rows:
        typer.echo("(none)")


@app.command()
def show(year: int = typer.Argument(..., help="The year reviewed.")) -> None:
    """A review: meeting, department reports, outputs with their actions, history."""
    from sqms.reviews.service import LIFECYCLE, get, outputs_of, pack_due_on, reports_of

    with command_session(errors=_errors(), code=1) as (settings, session):
        review = get(session, year)
        reports = {r.department: r for r in reports_of(session, review)}
        lines = [f"{review.code}  [{review.status}]  meeting {review.meeting_on} {settings.review.meeting_time} "
                 f"{settings.review.meeting_place}",
                 f"  reports due {review.reports_due_on}; pack due {pack_due_on(settings, review)}; "
                 f"invited {', '.join(review.participants)}",
                 "  attended: " + (', '.join(review.attendees) if review.attendees is not None else "not recorded "
                                   f"(sqms review attendance {review.year} --present ...)"), "  department reports:"]
        for d in settings.departments:
            r = reports.get(d.code)
            state = (f"submitted {local(r.submitted_at, settings)}" + (f" ({Path(r.file_path).name})" if r.file_path
                                                                      else "")) if r else "missing"
            lines.append(f"    {d.code:<6} {state}")
        outputs = outputs_of(session, review)
        if outputs:
            lines.append("  outputs:")
        for o in outputs:
            extra = (f" {o.kpi} ({o.department or 'org'}): {o.old_target} → {o.new_target}" if o.kind ==
                     "objective_change" else f" {o.owner or '—'} by {o.due_on or '—'}"
                     + (f" CAPA-{o.action_id:05d}" if o.action_id else ""))
            lines.append(f"    {o.kind:<16} {o.text[:50]}{extra}")
        lines += history_lines(session, settings, LIFECYCLE.entity, review.code)
    typer.echo("\n".join(lines))
