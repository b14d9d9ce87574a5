"""A report held as a draft (`report.hold_hours`) so that the quality manager can write an analysis
before it goes out.

With `hold_hours` > 0 the run that makes the report does not mail its list: it records a hold
(`ReportHold`, one per kind and period) and mails `report.hold_to` (the quality manager) a link to
the draft. `comment` keeps the analysis (`sqms report comment`); at `until` the scheduled
`report-release` flow releases the hold (`sqms report release` does it at once): without an analysis
the draft itself is mailed; with one, a new version is made that prints the analysis, and that one
is mailed. The figures do not change: the new version is made from the same KPI computation.

A report made after its hold was released is not held again: it is a correction and goes at once.
The kind-specific steps (make a version, mail the list) are the caller's: `release` takes them as
functions, so every report that wants a hold shares this mechanism.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.audit_trail import record_change
from sqms.config import Settings
from sqms.rule_errors import RuleError
from sqms.reporting.models import GeneratedReport, ReportHold

PROCESS = "report-draft"  # the draft mails: not the report's own process, so a draft never counts as sent
MAX_COMMENTARY = 20_000


class HoldError(RuleError):
    """A hold that does not exist, one already released, or an analysis that cannot be kept."""


def hold_of(session: Session, kind: str, period: str) -> ReportHold | None:
    return session.scalars(select(ReportHold).where(ReportHold.kind == kind, ReportHold.period == period)).first()


def commentary_of(session: Session, kind: str, period: str) -> str | None:
    """The quality manager's analysis of (kind, period), printed by every version made after it."""
    hold = hold_of(session, kind, period)
    return hold.commentary if hold is not None and hold.commentary else None


def hold_report(session: Session, settings: Settings, report: GeneratedReport, also: Sequence[GeneratedReport],
                *, now: datetime, title: str) -> ReportHold | None:
    """Hold `report` as a draft when `report.hold_hours` > 0 and its period's hold is not released yet
    (a later version during the hold replaces the draft, the end of the hold stays); mail the draft link
    to `report.hold_to`. None: not held, mail the list now."""
    hours = settings.report.hold_hours
    if hours <= 0:
        return None
    hold = hold_of(session, report.kind, report.period)
    if hold is not None and hold.released_at is not None:
        return None  # the list has had it: this version is a correction, it goes at once
    if hold is None:
        hold = ReportHold(kind=report.kind, period=report.period, report_id=report.id, created_at=now,
                          until=now + timedelta(hours=hours), also=[r.id for r in also])
        session.add(hold)
    else:
        hold.report_id, hold.also = report.id, [r.id for r in also]
    session.flush()
    record_change(session, action="hold", entity="report", entity_id=f"{report.kind}:{report.period}",
                  after={"version": report.version, "until": hold.until})
    _mail_draft(session, settings, hold, report, title)
    return hold


def _mail_draft(session: Session, settings: Settings, hold: ReportHold, report: GeneratedReport, title: str) -> None:
    from sqms.reporting.service import mail_report
    from sqms.web.links import item_url

    mail_report(session, settings, [report], recipients=settings.report.hold_to, template="report_draft",
                process=PROCESS, obj=f"{report.kind}:v{report.version}", period=report.period, title=title,
                report_period=report.period,
                kind=report.kind, version=report.version, until=hold.until,
                link=item_url(settings, "report", "") + f"{report.id}/html",
                hold_link=item_url(settings, "report-hold", report.period),
                distribution=list(settings.report.distribution))


def comment(session: Session, kind: str, period: str, text: str, *, actor: str, now: datetime) -> ReportHold:
    """Keep the quality manager's analysis (replacing an earlier one) while the report is held."""
    text = (text or "").replace("\r\n", "\n").strip()  # a browser's textarea sends CRLF
    if not text:
        raise HoldError("the analysis is empty", code="required", field="analysis")
    if len(text) > MAX_COMMENTARY:
        raise HoldError(f"the analysis is longer than {MAX_COMMENTARY} characters", code="report.analysis_long",
                        n=MAX_COMMENTARY)
    hold = _open_hold(session, kind, period)
    before = {"commentary": hold.commentary}
    hold.commentary, hold.commented_by, hold.commented_at = text, actor, now
    record_change(session, action="comment", entity="report", entity_id=f"{kind}:{period}", before=before,
                  after={"commentary": text}, actor=actor)
    return hold


def _open_hold(session: Session, kind: str, period: str) -> ReportHold:
    hold = hold_of(session, kind, period)
    if hold is None:
        raise HoldError(f"no {kind} of {period} is held", code="report.not_held", period=period)
    if hold.released_at is not None:
        raise HoldError(f"the {kind} of {period} was released already", code="report.released", period=period)
    return hold


def due(session: Session, now: datetime) -> list[ReportHold]:
    """The holds whose time is up, oldest first."""
    return list(session.scalars(select(ReportHold).where(ReportHold.released_at.is_(None), ReportHold.until <= now)
                                .order_by(ReportHold.until, ReportHold.id)))


def held(session: Session) -> list[ReportHold]:
    """The holds not released yet."""
    return list(session.scalars(select(ReportHold).where(ReportHold.released_at.is_(None)).order_by(ReportHold.until)))


def release(session: Session, hold: ReportHold, *, actor: str, now: datetime,
            remake: Callable[[GeneratedReport], GeneratedReport],
            send: Callable[[GeneratedReport, list[GeneratedReport]], int]) -> tuple[GeneratedReport, int]:
    """Release a hold: with an analysis, `remake` the draft (a new version that prints it), else the
    draft itself; `send` it to the list with the reports that travel with it. Returns the report mailed
    and how many mails were queued."""
    if hold.released_at is not None:
        raise HoldError(f"the {hold.kind} of {hold.period} was released already", code="report.released",
                        period=hold.period)
    draft = session.get(GeneratedReport, hold.report_id)
    final = remake(draft) if hold.commentary else draft
    also = [r for r in (session.get(GeneratedReport, i) for i in hold.also or []) if r is not None]
    queued = send(final, also)
    hold.released_at, hold.released_by, hold.released_report_id = now, actor, final.id
    record_change(session, action="release", entity="report", entity_id=f"{hold.kind}:{hold.period}",
                  after={"version": final.version, "commentary": bool(hold.commentary)}, actor=actor)
    return final, queued
