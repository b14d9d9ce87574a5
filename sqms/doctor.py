"""`sqms doctor`: is this installation able to run unattended? Each check says what it found.

The checks of SQMS itself live here (configuration, database and schema, SMTP, the working-day
calendar); the Prefect checks (API, deployments and their schedules) are in
`flows.deployments.check_deployments`, since the core never imports Prefect.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

from sqms.calendar import declared_years, disagreements, is_covered, library_knows, source_of, to_local, utcnow
from sqms.config import ConfigError, Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False  # not fatal: works, but not as production should

    def line(self) -> str:
        mark = "warn" if self.warning else ("ok  " if self.ok else "FAIL")
        return f"[{mark}] {self.name:<22} {self.detail}"


def _guard(name: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except Exception as exc:  # a check that cannot even run is a failed check, not a crash
        return Check(name, False, f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def check_files(settings: Settings) -> Check:
    from sqms.audits.checklists import load_checklists
    from sqms.surveys.questionnaire import load_questionnaires

    try:
        questionnaires = load_questionnaires(settings.questionnaires_dir)
        checklists = load_checklists(settings.checklists_dir, [d.code for d in settings.departments])
    except ConfigError as exc:
        return Check("configuration", False, "; ".join(exc.problems))
    missing = [role for role in ("quality_manager", "general_manager", "admin", "internal_auditor")
               if not settings.people_with_role(role)]
    if missing:
        return Check("configuration", False, f"nobody has the role(s) {', '.join(missing)}")
    return Check("configuration", True, f"{len(settings.departments)} departments, {len(settings.people)} people, "
                 f"{len(questionnaires)} questionnaires, {len(checklists)} checklists")


def check_database(settings: Settings) -> Check:
    from sqlalchemy.engine import make_url

    from sqms.db import schema_revision

    where = make_url(settings.database_url).render_as_string(hide_password=True)
    current, head = schema_revision(settings.database_url)
    if current != head:
        return Check("database", False, f"{where}: schema {current or 'none'}, this version needs {head} "
                                        "(run `sqms init` before restarting workers)")
    return Check("database", True, f"{where}: reachable, schema {current} (latest)")


def check_smtp(settings: Settings) -> Check:
    smtp = settings.smtp
    if not smtp.host:
        return Check("smtp", False, f"no smtp.host: mails are written to {settings.outbox_dir}/*.eml", warning=True)
    context = ssl.create_default_context()
    cls = smtplib.SMTP_SSL if smtp.ssl else smtplib.SMTP
    kwargs = {"context": context} if smtp.ssl else {}
    with cls(smtp.host, smtp.port, timeout=min(smtp.timeout_seconds, 10), **kwargs) as server:
        server.ehlo()
        if smtp.starttls:
            server.starttls(context=context)
            server.ehlo()
        if smtp.user:
            if smtp.password is None:
                return Check("smtp", False, f"{smtp.host}:{smtp.port} wants user {smtp.user} but "
                                            "SQMS_SMTP__PASSWORD is not set")
            server.login(smtp.user, smtp.password.get_secret_value())
        server.noop()
    return Check("smtp", True, f"{smtp.host}:{smtp.port} answers" + (" (logged in)" if smtp.user else "")
                 + " — nothing was sent")


def check_calendar(settings: Settings, today: date | None = None) -> Check:
    """The official calendar must cover the days deadlines and plans are computed for now (the next
    30 days); from December, the coming year should be known too (the State Council publishes it
    in November or December)."""
    today = today or to_local(utcnow(), settings.tz).date()
    soon = sorted({d.year for d in (today, today + timedelta(days=30)) if not is_covered(d)})
    if soon:
        return Check("working-day calendar", False, f"neither chinesecalendar nor {settings.calendar_dir}/ knows "
                     f"{', '.join(map(str, soon))}: deadlines fall back to Monday–Friday; declare the year "
                     f"({settings.calendar_dir}/README.md) or upgrade chinesecalendar")
    if today.month == 12 and not is_covered(date(today.year + 1, 1, 1)):
        return Check("working-day calendar", False, f"{today.year + 1} is not known yet: declare it in "
                     f"{settings.calendar_dir}/{today.year + 1}.yaml once the State Council has published the "
                     "holidays (or upgrade chinesecalendar)", warning=True)
    years = sorted({today.year, (today + timedelta(days=30)).year})
    return Check("working-day calendar", True, "official calendar known for "
                 + ", ".join(f"{y} ({'declared' if source_of(y) == 'declared' else 'chinesecalendar'})" for y in years))


def check_calendar_files(settings: Settings) -> Check:
    """A declared year the library also knows must agree with it day by day."""
    declared = declared_years()
    if not declared:
        return Check("declared calendars", True, f"none in {settings.calendar_dir}/ (none needed while "
                     "chinesecalendar knows the years in use)")
    problems = []
    for year in sorted(declared):
        differ = disagreements(year)
        if differ:
            days = ", ".join(f"{d} ({'library: working' if lib else 'library: day off'}, file: "
                             f"{'working' if ours else 'day off'})" for d, lib, ours in differ[:5])
            problems.append(f"{year}.yaml disagrees with chinesecalendar on {len(differ)} day(s): {days}"
                            + (" …" if len(differ) > 5 else ""))
    if problems:
        return Check("declared calendars", False, "; ".join(problems) + " — the file is used; check it against the "
                     "State Council's notice")
    return Check("declared calendars", True, ", ".join(
        f"{y}.yaml ({len(d.holidays)} holiday days, {len(d.workdays)} make-up workdays"
        + (", agrees with chinesecalendar)" if library_knows(y) else ")") for y, d in sorted(declared.items())))


def check_open_deadlines(settings: Settings) -> Check:
    """Fails when an open item's deadline falls in a year no calendar knows (it was counted Monday–Friday)."""
    from sqms.db import UnitOfWork
    from sqms.processes import DEADLINES
    from sqms.reminders.service import unknown_calendar_years

    with UnitOfWork(settings.database_url) as uow:
        years = unknown_calendar_years(uow.session, settings, utcnow(), DEADLINES)
    years = {y: items for y, items in years.items() if items}
    if years:
        detail = "; ".join(f"{len(items)} open item(s) due in {year} ({', '.join(items[:3])}"
                           f"{' …' if len(items) > 3 else ''})" for year, items in sorted(years.items()))
        return Check("open deadlines", False, f"{detail}: no calendar knows that year, so those deadlines were "
                     f"counted Monday–Friday; declare it in {settings.calendar_dir}/<year>.yaml")
    return Check("open deadlines", True, "every open deadline falls in a year the calendar knows")


def check_pdf_font() -> Check:
    """The PDFs of the reports need WeasyPrint (with pango) and a CJK font for the Chinese text."""
    from sqms.reporting.pdf import CJK_FONT, cjk_font

    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        return Check("pdf font", False, f"WeasyPrint cannot run ({exc}): install the pango libraries")
    path = cjk_font()
    if path is None:
        return Check("pdf font", False, f"no CJK font for {CJK_FONT!r}: PDFs would show boxes for Chinese "
                     "(apt-get install fonts-noto-cjk, or `make install` as root)")
    from weasyprint.text.ffi import harfbuzz_subset

    # without libharfbuzz-subset WeasyPrint subsets the CJK font with fontTools: same PDF, 3-4x slower
    subsetter = "HarfBuzz" if harfbuzz_subset else "fontTools, slow: apt-get install libharfbuzz-subset0"
    return Check("pdf font", True, f"{path} (WeasyPrint {weasyprint.__version__}, font subsetting by {subsetter})",
                 warning=not harfbuzz_subset)


def run_checks(settings: Settings, today: date | None = None) -> list[Check]:
    return [
        _guard("configuration", lambda: check_files(settings)),
        _guard("database", lambda: check_database(settings)),
        _guard("smtp", lambda: check_smtp(settings)),
        _guard("working-day calendar", lambda: check_calendar(settings, today)),
        _guard("declared calendars", lambda: check_calendar_files(settings)),
        _guard("open deadlines", lambda: check_open_deadlines(settings)),
        _guard("pdf font", check_pdf_font),
    ]
