"""`sqms survey plan|advance|run|list|show|import`: satisfaction survey campaigns."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sqms.cli_common import cli_actor, command_session, deliver_now, fail, history_lines, local, parse_day, \
    run_due_steps

app = typer.Typer(help="Customer-satisfaction surveys (满意度调查): campaigns from plan to report.",
                  no_args_is_help=True)


@app.command()
def plan(
    kind: str = typer.Option("adhoc", help="quarterly, annual or adhoc."),
    code: Optional[str] = typer.Option(None, help="Campaign code (default: the previous quarter/year, e.g. 2026-Q3)."),
    start: Optional[str] = typer.Option(None, "--from", help="First day of the service period surveyed."),
    end: Optional[str] = typer.Option(None, "--to", help="Last day of the service period."),
    questionnaire: Optional[str] = typer.Option(None, help="Questionnaire code (default by kind)."),
    seed: Optional[int] = typer.Option(None, help="Sampling seed (default random, stored)."),
    sample: Optional[int] = typer.Option(None, help="How many customers to invite (default surveys.sample_total)."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who plans it."),
) -> None:
    """Plan a campaign; the next `sqms survey run` (or the daily deployment) samples and invites."""
    from sqms.calendar import to_local, utcnow
    from sqms.surveys.service import SurveyError, plan_campaign, previous_quarter, previous_year

    with command_session(actor, errors=SurveyError) as (settings, session):
        if kind not in ("quarterly", "annual", "adhoc"):
            fail(f"--kind {kind!r}: quarterly, annual or adhoc")
        today = to_local(utcnow(), settings.tz).date()
        default_code, default_start, default_end = (previous_year if kind == "annual" else previous_quarter)(today)
        period_start = parse_day(start, "--from") if start else default_start
        period_end = parse_day(end, "--to") if end else default_end
        if kind == "adhoc" and not code:
            code = f"{period_start:%Y%m%d}-{period_end:%Y%m%d}"
        campaign, new = plan_campaign(session, settings, kind=kind, code=code or default_code,
                                      period_start=period_start, period_end=period_end,
                                      questionnaire=questionnaire, seed=seed, sample_total=sample)
    typer.echo(f"{'planned' if new else 'exists already'}: {campaign.code} ({campaign.kind}, "
               f"{campaign.questionnaire}, {campaign.period_start}..{campaign.period_end}, seed {campaign.seed}, "
               f"sample {campaign.sample_total}) [{campaign.status}]")


@app.command()
def advance(
    code: str = typer.Argument(..., help="Campaign code."),
    step: str = typer.Argument(..., help="sample, invite, remind, close, analyse or report."),
) -> None:
    """Take one step now, whatever the schedule says (e.g. close early)."""
    from sqms.calendar import utcnow
    from sqms.statemachine import IllegalTransition
    from sqms.surveys.service import SurveyError, get, sampling_note
    from sqms.surveys.service import advance as advance_campaign

    with command_session(errors=(SurveyError, IllegalTransition)) as (settings, session):
        campaign = get(session, code)
        count = advance_campaign(session, settings, campaign, step, utcnow())
    typer.echo(f"{campaign.code}: {step} ({count}); now {campaign.status}")
    if step == "sample":
        typer.echo(f"  {sampling_note(campaign)}")
    deliver_now(settings, "surveys")


@app.command()
def run() -> None:
    """Every campaign's due steps now (what the daily deployment does)."""
    from sqms.surveys.service import advance_due

    run_due_steps(advance_due, "surveys")


def _shown(figures: dict, key: str, fmt: str, unit: str = "") -> str:
    """A stored figure rounded for the terminal; `—` when there is none (never a misleading 0)."""
    return "—" if figures.get(key) is None else format(figures[key], fmt) + unit


@app.command("list")
def list_() -> None:
    """Campaigns, newest first."""
    from sqlalchemy import select

    from sqms.surveys.models import SurveyCampaign

    with command_session() as (settings, session):
        rows = list(session.scalars(select(SurveyCampaign).order_by(SurveyCampaign.id.desc())))
        typer.echo(f"{'campaign':<20} {'kind':<10} {'state':<10} {'period':<23} {'remind':<10} {'close':<10} result")
        for c in rows:
            a = c.analysis or {}
            result = (f"rate {_shown(a, 'response_rate', '.1f', '%')}, CSAT {_shown(a, 'csat_mean', '.2f')}, "
                      f"NPS {_shown(a, 'nps', '.1f')}") if a else ""
            typer.echo(f"{c.code:<20} {c.kind:<10} {c.status:<10} {c.period_start}..{c.period_end} "
                       f"{c.remind_on or '—'!s:<10} {c.close_on or '—'!s:<10} {result}")
    if not rows:
        typer.echo("(none)")


@app.command()
def show(code: str = typer.Argument(..., help="Campaign code.")) -> None:
    """A campaign: sample per department, answers so far, key figures, history."""
    from sqms.reporting.formatting import figure
    from sqms.surveys.service import SurveyError, answer_counts, get, sampling_note

    with command_session(errors=SurveyError, code=1) as (settings, session):
        c = get(session, code)
        counts = answer_counts(session, c)
        rate = "—" if counts["rate"] is None else f"{counts['rate']:.1f}%"
        lines = [f"{c.code}  [{c.status}]  {c.kind}  questionnaire {c.questionnaire}",
                 f"  service period  {c.period_start} .. {c.period_end}; seed {c.seed}; sample {c.sample_total} "
                 f"(min {c.min_per_stratum} per department)",
                 f"  invited {local(c.invited_at, settings)}, reminder {c.remind_on or '—'}, close {c.close_on or '—'}; "
                 f"answers {counts['answers']}",
                 f"  invited {counts['invited']}, of whom answered {counts['answered']}: response rate {rate}"]
        for dept, s in (c.sampling or {}).items():
            lines.append(f"  {dept:<8} population {s['population']:>6}  sample {s['sample']:>5}")
        if c.sampling:
            lines.append(f"  {sampling_note(c)}")
        for key, value in (c.analysis or {}).items():
            if key not in ("dimensions", "changes"):
                lines.append(f"  {key:<16} {figure(value, key)}")
        for key, value in ((c.analysis or {}).get("dimensions") or {}).items():
            lines.append(f"  {'gap ' + key:<16} {figure(value, 'gap')}")
        lines += history_lines(session, settings, "survey", c.code)
    typer.echo("\n".join(lines))


@app.command("import")
def import_(
    code: str = typer.Argument(..., help="The campaign the answers belong to."),
    file: Path = typer.Argument(..., help="CSV/XLSX in the survey-responses format (docs/DESIGN.md §3)."),
    mapping: Optional[Path] = typer.Option(None, "--mapping", help="Mapping YAML for a foreign file."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid"),
) -> None:
    """Import answers collected elsewhere (paper, phone, another tool) into a campaign."""
    from sqms.importers import spec_for
    from sqms.ingest import ImportFileError, import_file, load_mapping
    from sqms.surveys.service import SurveyError, answer_counts, get, link_responses

    with command_session(errors=SurveyError, code=1) as (settings, session):
        campaign_id = get(session, code).id
    try:
        result = import_file(settings, spec_for("survey-responses"), file,
                             mapping=load_mapping(mapping) if mapping else None, skip_invalid=skip_invalid,
                             actor=cli_actor(), constants={"campaign_id": campaign_id})
    except ImportFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(result.summary())
    with command_session(settings=settings, schema=False) as (settings, session):
        campaign = get(session, code)
        linked = link_responses(session, campaign)
        counts = answer_counts(session, campaign)
    rate = "—" if counts["rate"] is None else f"{counts['rate']:.1f}%"
    typer.echo(f"{code}: {linked} answers matched to invitations; {counts['answered']} of {counts['invited']} "
               f"invitees answered ({rate}); {counts['answers']} answers in all")
