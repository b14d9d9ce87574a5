"""What every `sqms` sub-command shares: settings, errors, the acting person, times typed by people."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:  # the configuration (pydantic-settings) is loaded by the commands that need it, not by --help
    from sqlalchemy.orm import Session

    from sqms.config import Settings


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    from sqms.config import ConfigError, get_settings

    try:
        return get_settings()
    except ConfigError as exc:
        fail(str(exc))


def database_or_exit(settings: Settings) -> None:
    """Stop with a clear message when the database is not at the code's schema (after an upgrade)."""
    from sqms.db import schema_revision

    try:
        current, head = schema_revision(settings.database_url)
    except Exception as exc:  # unreachable server, bad URL
        fail(f"cannot open the database {settings.database_url.split('@')[-1]}: {str(exc).splitlines()[0]}")
    if current != head:
        fail(f"the database is at schema {current or 'none'}, this version of SQMS needs {head}: run `sqms init` "
             "(it migrates; data is kept)")


@contextmanager
def command_session(actor: str | None = None, *, settings: Settings | None = None,
                    errors: type[Exception] | tuple[type[Exception], ...] = (), code: int = 2,
                    file: Path | None = None, schema: bool = True) -> Iterator[tuple[Settings, Session]]:
    """What every database command does around its own lines, in this order: the settings (or the
    ones given, after the command checked its options), the database at the code's schema (unless
    `schema=False`), the `file` it reads (exit 1 when missing), then one unit of work acting as
    `cli:<actor>` that commits when the block ends. A refusal of a kind in `errors` raised inside the
    block stops with `error: <message>` and exit `code`, and nothing is written.

        with command_session(actor, errors=ActionError) as (settings, session):
            action = open_action(session, settings, ...)
    """
    from sqms.db import UnitOfWork

    if settings is None:
        settings = settings_or_exit()
    if schema:
        database_or_exit(settings)
    if file is not None and not file.is_file():
        fail(f"{file}: file not found", 1)
    with UnitOfWork(settings.database_url, actor=cli_actor(actor)) as uow:
        try:
            yield settings, uow.session
        except errors as exc:
            fail(str(exc), code)
        uow.commit()


def cli_actor(person: str | None = None) -> str:
    """`cli:<who>`: the person named with --as, else $SQMS_ACTOR or the OS user."""
    from sqms.db import default_actor

    return f"cli:{person or default_actor()}"


def code_of(settings: Settings, kind: str, text: str | None, option: str) -> str | None:
    """The code for what was typed after `option`: a code or any configured name (`电话`, `客服部`)."""
    from sqms.codes import UnknownCode, resolve

    if text is None:
        return None
    try:
        return resolve(settings, kind, text)
    except UnknownCode as exc:
        fail(f"{option}: {exc}")


EARLIEST_YEAR = 2000


def period_of(text: str | None, settings: Settings | None = None, option: str = "--period") -> str | None:
    """A month `YYYY-MM` checked at the door: full-width digits are read as digits, the year lies
    in 2000..next year; anything else stops here with exit code 2 before a flow runs."""
    import unicodedata

    from sqms.calendar import parse_period, to_local, utcnow

    if text is None:
        return None
    period = unicodedata.normalize("NFKC", text).strip()
    try:
        year, month = parse_period(period)
    except ValueError:
        fail(f"{option}: {text!r} is not a month YYYY-MM, e.g. 2026-10")
    tz = settings.tz if settings is not None else None
    latest = (to_local(utcnow(), tz) if tz else utcnow()).year + 1
    if not EARLIEST_YEAR <= year <= latest:
        fail(f"{option}: {text!r} is outside the years SQMS can report on ({EARLIEST_YEAR}–{latest})")
    return f"{year:04d}-{month:02d}"


def parse_moment(text: str | None, settings: Settings, option: str) -> datetime:
    """`2026-10-09 14:30`, `2026/10/09 14:30`, ISO 8601 with or without offset (local time); empty = now."""
    from sqms.calendar import to_utc, utcnow

    if not text:
        return utcnow()
    try:
        moment = datetime.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date and time such as 2026-10-09 14:30", param_hint=option)
    return to_utc(moment, settings.tz)


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date such as 2026-10-09", param_hint=option) from None


def local(moment: datetime | None, settings: Settings, fmt: str = "%Y-%m-%d %H:%M") -> str:
    from sqms.calendar import to_local

    return "—" if moment is None else to_local(moment, settings.tz).strftime(fmt)


def deliver_now(settings: Settings, process: str) -> None:
    """Send what was just queued; when SMTP is down it stays pending for the outbox-delivery run."""
    from sqms.notify.service import deliver_pending

    report = deliver_pending(settings, process=process)
    if report.sent:
        typer.echo(f"mail: {report.sent} sent")
    for recipient, count in report.held.items():
        typer.echo(f"warning: {count} mail(s) to {recipient} held by the flood guard "
                   f"(sqms outbox release --recipient {recipient})", err=True)
    if not report.ok:
        typer.echo(f"warning: {report.failed} mail(s) not sent yet, kept pending: {'; '.join(report.errors[:3])}",
                   err=True)


def history_lines(session, settings: Settings, entity: str, entity_id) -> list[str]:
    """`history:` and one line per audit entry (local time, who, what, comment)."""
    from sqms.audit_trail import history

    lines = ["  history:"]
    for e in history(session, entity, entity_id):
        lines.append(f"    {local(e.at, settings)}  {e.actor:<24} {e.action:<24} {e.comment or ''}".rstrip())
    return lines


def run_due_steps(advance_due, process: str) -> None:
    """`sqms <process> run`: every open instance's due steps now, as the daily deployment takes them;
    `advance_due(session, settings)` returns (code, step[, count]) of each step taken."""
    with command_session() as (settings, session):
        done = advance_due(session, settings)
    for code, step, *count in done:
        typer.echo(f"{code}: {step}" + (f" ({count[0]})" if count else ""))
    if not done:
        typer.echo("nothing due")
    deliver_now(settings, process)
