"""`sqms audit ...`: internal audit cycles from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from sqms.cli_common import cli_actor, code_of, command_session, fail, history_lines, run_due_steps, settings_or_exit

app = typer.Typer(help="Internal audits (内部审核): plan, checklists, findings, report.", no_args_is_help=True)


@app.command("open")
def open_(
    code: Optional[str] = typer.Option(None, help="Cycle code (default: this half-year, e.g. 2026-H2)."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who opens it."),
) -> None:
    """Open this half-year's audit cycle and plan it (the `internal-audit` deployment does this in June and
    December); the next run mails the plan."""
    from sqms.audits.service import AuditError, open_cycle, slots_of
    from sqms.config import ConfigError

    with command_session(actor, errors=(AuditError, ConfigError)) as (settings, session):
        cycle, new = open_cycle(session, settings, code=code)
        slots = slots_of(session, cycle)
    typer.echo(f"{'opened' if new else 'exists already'}: {cycle.code} [{cycle.status}], "
               f"{cycle.first_day} .. {cycle.last_day}")
    for slot in slots:
        typer.echo(f"  {slot.day}  {slot.department:<6} auditor {slot.auditor:<28} checklist {slot.checklist_code}"
                   + (f"  changed: {', '.join(slot.changed_items)}" if slot.changed_items else ""))


@app.command()
def checklist(
    code: str = typer.Argument(..., help="Cycle code."),
    departments: List[str] = typer.Argument(None, help="Department codes or names (default: all in the plan)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Workbook to write (default var/audits/<code>.xlsx)."),
) -> None:
    """Write the checklist workbook to fill in (one sheet per department)."""
    from sqms.audits.service import AuditError, get, slot_of, slots_of
    from sqms.audits.workbook import write_workbook

    with command_session(errors=AuditError, code=1) as (settings, session):
        departments = [code_of(settings, "department", d, "DEPARTMENTS") for d in departments or []]
        cycle = get(session, code)
        slots = [slot_of(session, cycle, d) for d in departments] if departments else slots_of(session, cycle)
        suffix = "-" + "-".join(departments) if departments else ""
        path = write_workbook(settings, cycle, slots, out or Path("var/audits") / f"audit-{code}{suffix}.xlsx")
    typer.echo(f"checklist workbook: {path}")


def _warn_if_early(slot, settings, force: bool) -> None:
    from sqms.calendar import to_local, utcnow

    if force and slot.day > to_local(utcnow(), settings.tz).date():
        typer.echo(f"warning: {slot.department}'s audit is scheduled for {slot.day}: findings recorded before it "
                   "(kept in the audit log)", err=True)


@app.command("import")
def import_(
    code: str = typer.Argument(..., help="Cycle code."),
    file: Path = typer.Argument(..., help="The filled-in checklist workbook."),
    actor: Optional[str] = typer.Option(None, "--as", help="Who audited (default: the slots' auditors)."),
    force: bool = typer.Option(False, "--force", help="Record findings of audits scheduled later (brought "
                                                      "forward); a warning is kept in the audit log."),
) -> None:
    """Record the findings of a filled-in workbook (all or nothing)."""
    from sqms.audits.service import AuditError, get, record_findings, slot_of, slots_of
    from sqms.audits.workbook import read_workbook

    with command_session(actor, errors=AuditError, file=file) as (settings, session):
        cycle = get(session, code)
        read = read_workbook(cycle, slots_of(session, cycle), file, settings)
        if read.errors:
            typer.echo(f"{file}: nothing was recorded:\n" + "\n".join(f"  {e}" for e in read.errors), err=True)
            raise typer.Exit(1)
        for department, findings in read.by_department.items():
            slot = slot_of(session, cycle, department)
            rows = record_findings(session, settings, cycle, slot, findings,
                                   actor=cli_actor(actor or slot.auditor), force=force)
            _warn_if_early(slot, settings, force)
            ncs = sum(1 for r in rows if r.result in ("major", "minor"))
            typer.echo(f"{department}: {len(rows)} results recorded, {ncs} nonconformities → corrective actions")


@app.command()
def finding(
    code: str = typer.Argument(..., help="Cycle code."),
    department: str = typer.Argument(..., help="Department code or name."),
    item: str = typer.Argument(..., help="Checklist item code."),
    result: str = typer.Option(..., help="conforming, major, minor, observation or improvement (or 符合, 严重不符合 …)."),
    evidence: Optional[str] = typer.Option(None, help="What was seen."),
    notes: Optional[str] = typer.Option(None),
    standard: Optional[str] = typer.Option(None, "--standard", help="The register's document it is against "
                                                                    "(default: the checklist item's)."),
    actor: Optional[str] = typer.Option(None, "--as", help="The auditor."),
    force: bool = typer.Option(False, "--force", help="Record it although the audit is scheduled later (brought "
                                                      "forward); a warning is kept in the audit log."),
) -> None:
    """Record one finding directly."""
    from sqms.audits.service import AuditError, FindingIn, get, record_findings, slot_of

    settings = settings_or_exit()
    department = code_of(settings, "department", department, "DEPARTMENT")
    result = code_of(settings, "finding_result", result, "--result")
    with command_session(actor, settings=settings, errors=AuditError) as (settings, session):
        cycle = get(session, code)
        slot = slot_of(session, cycle, department)
        [row] = record_findings(session, settings, cycle, slot, [FindingIn(item, result, evidence, notes, standard)],
                                actor=cli_actor(actor or slot.auditor), force=force)
        _warn_if_early(slot, settings, force)
    typer.echo(f"finding {row.id}: {department} {item} {row.result}"
               + (f" → CAPA-{row.action_id:05d}" if row.action_id else ""))


@app.command("carry-over")
def carry_over_(
    finding_id: int = typer.Argument(..., help="Finding number."),
    reason: str = typer.Option(..., help="Why it is carried over to the next cycle."),
    actor: Optional[str] = typer.Option(None, "--as"),
) -> None:
    """Carry an open nonconformity over to the next cycle (so that this one can close)."""
    from sqms.audits.models import AuditFinding
    from sqms.audits.service import AuditError, carry_over

    with command_session(actor, errors=AuditError) as (_, session):
        row = session.get(AuditFinding, finding_id)
        if row is None:
            fail(f"finding {finding_id} not found", 1)
        carry_over(session, row, reason, actor=cli_actor(actor))
    typer.echo(f"finding {finding_id} carried over")


@app.command()
def run() -> None:
    """Every open cycle's due steps now (what the daily deployment does)."""
    from sqms.audits.service import advance_due

    run_due_steps(advance_due, "internal-audit")


@app.command()
def show(code: str = typer.Argument(..., help="Cycle code.")) -> None:
    """The plan, what is recorded, open nonconformities and the history."""
    from sqlalchemy import select

    from sqms.audits.models import AuditFinding
    from sqms.audits.service import AuditError, get, open_nonconformities, slots_of

    with command_session(errors=AuditError, code=1) as (settings, session):
        cycle = get(session, code)
        lines = [f"{cycle.code}  [{cycle.status}]  {cycle.first_day} .. {cycle.last_day}"]
        findings = list(session.scalars(select(AuditFinding).where(AuditFinding.cycle_id == cycle.id)))
        for slot in slots_of(session, cycle):
            mine = [f for f in findings if f.slot_id == slot.id]
            counts = {r: sum(1 for f in mine if f.result == r) for r in ("major", "minor", "observation")}
            lines.append(f"  {slot.day}  {slot.department:<6} {slot.auditor:<28} "
                         f"{'recorded' if slot.recorded_at else 'to record':<10} "
                         f"major {counts['major']}, minor {counts['minor']}, observations {counts['observation']}")
        for f in open_nonconformities(session, cycle):
            lines.append(f"  open: finding {f.id} {f.department} {f.item_code} {f.result}"
                         + (f" CAPA-{f.action_id:05d}" if f.action_id else ""))
        lines += history_lines(session, settings, "audit", cycle.code)
    typer.echo("\n".join(lines))
