"""`sqms standard ...`: the standards and SOP register (制度、流程与作业规范) and the trainings on them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sqms.cli_common import cli_actor, command_session, deliver_now, parse_day

app = typer.Typer(help="Standards and SOP register: versions, approval, publication, reviews, training.",
                  no_args_is_help=True)


def _errors():
    from sqms.standards.service import StandardError
    from sqms.statemachine import IllegalTransition

    return StandardError, IllegalTransition, ValueError


def _run(actor: str | None, work, *, deliver: bool = True):
    """Open a unit of work, call `work(session, settings)`, commit; a refused step exits non-zero."""
    from sqms.standards.service import PROCESS

    with command_session(actor, errors=_errors()) as (settings, session):
        out = work(session, settings)
    if deliver:
        deliver_now(settings, PROCESS)
    return out


@app.command("add")
def add(
    code: str = typer.Argument(..., help="Document code, e.g. SOP-CS-02."),
    title: str = typer.Option(..., "--title"),
    kind: str = typer.Option("sop", "--kind", help="policy | procedure | standard | sop"),
    department: str = typer.Option(..., "--department", help="The owning department (code or name)."),
    covers: Optional[str] = typer.Option(None, "--covers", help="Departments whose people run it, comma-separated "
                                                                "(default: the owning department)."),
    roles: Optional[str] = typer.Option(None, "--roles", help="Only people with these roles are trained."),
    owner: Optional[str] = typer.Option(None, "--owner", help="Default: the department manager."),
    actor: Optional[str] = typer.Option(None, "--as"),
) -> None:
    """Put a document in the register (then `sqms standard version` adds its first version)."""
    from sqms.standards.service import register

    def work(session, settings):
        return register(session, settings, code=code, title=title, kind=kind, department=department, owner=owner,
                        departments=[c.strip() for c in covers.split(",")] if covers else None,
                        roles=[r.strip() for r in roles.split(",")] if roles else None, actor=cli_actor(actor)).code

    typer.echo(f"registered: {_run(actor, work, deliver=False)}")


@app.command("version")
def version_(
    code: str = typer.Argument(...),
    version: str = typer.Argument(..., help="e.g. V2.0"),
    summary: str = typer.Option("", "--summary", help="What changed (修订说明)."),
    file: Optional[Path] = typer.Option(None, "--file", help="PDF, DOCX or Markdown."),
    effective: Optional[str] = typer.Option(None, "--effective", help="Effective day (default: when published)."),
    actor: Optional[str] = typer.Option(None, "--as"),
) -> None:
    """A new draft version, or (for a draft) its file replaced."""
    from sqms.standards.service import add_version, attach_file, get

    day = parse_day(effective, "--effective") if effective else None

    def work(session, settings):
        document = get(session, code)
        existing = next((v for v in document.versions if v.version == version), None)
        if existing is not None and file is not None:
            return attach_file(session, settings, existing, file, actor=cli_actor(actor))
        return add_version(session, settings, document, version=version, change_summary=summary, file=file,
                           effective_on=day, actor=cli_actor(actor))

    row = _run(actor, work, deliver=False)
    typer.echo(f"{code.upper()} {version}: draft" + (f", sha256 {row.file_sha256}" if row.file_sha256 else ""))


def _step(name: str):
    def command(
        code: str = typer.Argument(...),
        version: Optional[str] = typer.Option(None, "--version", help="Default: the newest version."),
        by: Optional[str] = typer.Option(None, "--by", help="The approver (approve, reject) or reviewer (reviewed)."),
        comment: str = typer.Option("", "--comment"),
        actor: Optional[str] = typer.Option(None, "--as"),
    ) -> None:
        from sqms.standards import service

        def work(session, settings):
            document = service.get(session, code)
            if name == "reviewed":
                return f"reviewed, no change: next review {service.review_no_change(session, settings, document, by=by or '', comment=comment, actor=cli_actor(actor)).next_review_on}"
            if name == "withdraw":
                return f"withdrawn: {service.withdraw(session, settings, document, comment=comment, actor=cli_actor(actor)).ref}"
            v = service.version_of(session, document, version)
            if name == "submit":
                service.submit(session, settings, v, actor=cli_actor(actor))
            elif name == "approve":
                service.approve(session, settings, v, by=by or "", comment=comment, actor=cli_actor(actor))
            elif name == "reject":
                service.reject(session, settings, v, by=by or "", comment=comment, actor=cli_actor(actor))
            elif name == "publish":
                result = service.publish(session, settings, v, actor=cli_actor(actor))
                return (f"{v.ref}: published, {result['trainings']} trainings required, next review "
                        f"{result['next_review_on']}")
            return f"{v.ref}: {v.status}"

        typer.echo(_run(actor, work))

    command.__doc__ = {"submit": "Draft → in review: the approvers are asked.",
                       "approve": "Record an approval (--by); in order, only the next approver.",
                       "reject": "Back to draft (--by, --comment).",
                       "publish": "Approved → published now (the daily run publishes on the effective day).",
                       "withdraw": "Withdraw the version in force (--comment).",
                       "reviewed": "Periodic review: reviewed, no change (--by); extends the review date."}[name]
    return command


for _name in ("submit", "approve", "reject", "publish", "withdraw", "reviewed"):
    app.command(_name)(_step(_name))


@app.command("train")
def train(
    code: str = typer.Argument(...),
    person: str = typer.Option(..., "--person", help="Who (email or name)."),
    version: Optional[str] = typer.Option(None, "--version", help="Default: the version in force."),
    result: Optional[str] = typer.Option(None, "--result", help="Trained and checked: the result (e.g. 合格 92)."),
    trainer: Optional[str] = typer.Option(None, "--trainer"),
    actor: Optional[str] = typer.Option(None, "--as"),
) -> None:
    """Record that a person acknowledged, or was trained and checked on, a version."""
    from sqms.standards import service

    def work(session, settings):
        document = service.get(session, code)
        v = service.version_of(session, document, version) if version else service.current(document)
        if v is None:
            raise service.StandardError(f"{document.code} has no version in force")
        row = service.complete_training(session, settings, v, person, result=result, trainer=trainer,
                                        actor=cli_actor(actor))
        return f"{v.ref}: {row.person} done" + ("" if row.completed_at.date() <= row.due_on else " (late)")

    typer.echo(_run(actor, work, deliver=False))


@app.command("list")
def list_() -> None:
    """The register: code, title, version in force, next review, trainings outstanding."""
    from sqlalchemy import func, select

    from sqms.standards.models import TrainingRequirement
    from sqms.standards.service import current, listing

    with command_session() as (settings, session):
        for d in listing(session):
            v = current(d)
            open_ = session.scalar(select(func.count()).select_from(TrainingRequirement).where(
                TrainingRequirement.version_id == v.id, TrainingRequirement.completed_at.is_(None))) if v else 0
            newest = d.versions[-1] if d.versions else None
            typer.echo(f"{d.code:<12} {d.title:<16} in force {v.version if v else '—':<6} "
                       f"next review {d.next_review_on or '—'}  trainings open {open_}"
                       + (f"  [{newest.version} {newest.status}]" if newest and newest is not v else ""))


@app.command("show")
def show(code: str = typer.Argument(...)) -> None:
    """A document: its versions (status, sha256, approvals), reviews and trainings."""
    from sqlalchemy import select

    from sqms.standards.models import StandardReview, TrainingRequirement
    from sqms.standards.service import get

    with command_session(errors=_errors()) as (settings, session):
        d = get(session, code)
        typer.echo(f"{d.code} {d.title} ({d.kind}) owner {d.owner}, covers {', '.join(d.departments)}, "
                   f"next review {d.next_review_on or '—'}")
        for v in d.versions:
            typer.echo(f"  {v.version:<6} {v.status:<10} effective {v.effective_on or '—'} sha256 "
                       f"{(v.file_sha256 or '—')[:16]} {v.change_summary}")
            for a in v.approvals:
                typer.echo(f"         approved by {a['by']} at {a['at']}")
            for r in session.scalars(select(TrainingRequirement).where(TrainingRequirement.version_id == v.id)):
                typer.echo(f"         training {r.person:<28} due {r.due_on} "
                           f"{'done' if r.completed_at else 'open'}")
        for r in session.scalars(select(StandardReview).where(StandardReview.document_id == d.id)):
            typer.echo(f"  reviewed {r.reviewed_at:%Y-%m-%d} by {r.reviewed_by}: {r.outcome}, next {r.next_review_on}")
