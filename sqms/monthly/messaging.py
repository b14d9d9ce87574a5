"""The monthly report's emails: one per recipient of the distribution list, through the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.config import Settings
from sqms.notify.models import OutboxMessage
from sqms.reporting.models import GeneratedReport
from sqms.reporting.service import mail_report

PROCESS = "monthly-report"


def queue_monthly_report_mails(session: Session, settings: Settings, report: GeneratedReport,
                               also: Sequence[GeneratedReport] = ()) -> int:
    """Queue the report for everyone on `report.distribution`; returns how many rows were new or refreshed.

    `also`: reports of the same month that travel with it as further attachments (the complaint
    analysis), so the distribution list gets one mail with everything for the meeting, not several.
    The key is (monthly-report, report, period, recipient): a new version of the same month's
    report refreshes a mail still pending. Once a version has gone out, a later version whose figures
    differ is mailed once more to the same list (key `correction:v<version>`), marked as a correction,
    saying what changed; a rerun with the same figures sends nothing.
    """
    context = mail_context(report, also)
    previous = _already_sent(session, report)
    changes = what_changed(previous.summary, report.summary) if previous is not None else []
    if changes:  # the list has an earlier version whose figures changed: this one goes once, as a correction
        correction = {"of": previous.version, "changes": changes}
        return mail_report(session, settings, [report, *also], recipients=settings.report.distribution,
                           template="monthly_report", process=PROCESS, obj=f"correction:v{report.version}",
                           period=report.period, report=context, version=report.version,
                           correction=correction)
    return mail_report(session, settings, [report, *also], recipients=settings.report.distribution,
                       template="monthly_report", process=PROCESS, obj="report", period=report.period,
                       report=context, version=report.version, correction=None)


def mail_context(report: GeneratedReport, also: Sequence[GeneratedReport] = ()) -> dict[str, Any]:
    """The mail's `report`: the stored email summary, with the names the files really have (their
    version is in them) and those of the complaint analysis travelling with it (None without one)."""
    def names(row: GeneratedReport) -> dict[str, str]:
        return {fmt: Path(path).name for fmt, path in row.files.items()}

    complaint = next((r for r in also if r.kind == "complaint-report"), None)
    return {**report.summary["email"], "files": names(report),
            "complaint_files": names(complaint) if complaint is not None else None}


def _already_sent(session: Session, report: GeneratedReport) -> GeneratedReport | None:
    """The latest earlier version of the month whose mail went out, or None (first mail, or none sent)."""
    if report.version <= 1:
        return None
    sent = session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.process == PROCESS, OutboxMessage.period == report.period,
        OutboxMessage.status == "sent").limit(1)).first()
    if sent is None:
        return None
    return session.scalars(select(GeneratedReport).where(
        GeneratedReport.kind == report.kind, GeneratedReport.period == report.period,
        GeneratedReport.version < report.version).order_by(GeneratedReport.version.desc()).limit(1)).first()


def what_changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The organisation-wide KPIs whose value or status differs between two versions, in words
    (`label: value (status) → value (status)`), and the counts of the data read."""
    old = {r["label"]: r for r in before.get("table", [])}
    out = []
    for row in after.get("table", []):
        was = old.get(row["label"])
        if was is not None and (was["value"], was["status_label"]) != (row["value"], row["status_label"]):
            out.append(f"{row['label']}: {was['value']} ({was['status_label']}) → {row['value']} ({row['status_label']})")
    counts_before, counts_after = before.get("input_counts", {}), after.get("input_counts", {})
    for key in sorted(set(counts_before) | set(counts_after)):
        if counts_before.get(key) != counts_after.get(key):
            out.append(f"{key}: {counts_before.get(key, 0)} → {counts_after.get(key, 0)}")
    return out


# -- the draft hold (report.hold_hours) --------------------------------------------------------------


def hold_or_queue(session: Session, settings: Settings, report: GeneratedReport,
                  also: Sequence[GeneratedReport] = (), *, now: datetime) -> dict[str, Any]:
    """Hold the report as a draft for the quality manager's analysis (`report.hold_hours` > 0, hold not
    released yet), or queue it to the list at once. `{"held_until": ..., "queued": n}`."""
    from sqms.reporting.hold import hold_report

    hold = hold_report(session, settings, report, also, now=now, title=report.summary["email"]["title"])
    if hold is not None:
        return {"held_until": hold.until, "queued": 0}
    return {"held_until": None, "queued": queue_monthly_report_mails(session, settings, report, also)}


def release_monthly(session: Session, settings: Settings, hold: Any, *, actor: str,
                    now: datetime) -> tuple[GeneratedReport, int]:
    """Release a held monthly report: with the quality manager's analysis a new version (same KPI
    computation, so the same figures) that prints it, else the draft; mailed to the list."""
    from sqms.records.models import KpiComputation
    from sqms.reporting.hold import release
    from sqms.monthly.rendering import produce_monthly_report

    def remake(draft: GeneratedReport) -> GeneratedReport:
        computation = session.get(KpiComputation, draft.kpi_computation_id)
        return produce_monthly_report(session, settings, computation, locale=draft.locale)

    return release(session, hold, actor=actor, now=now, remake=remake,
                   send=lambda final, also: queue_monthly_report_mails(session, settings, final, also))


RELEASERS = {PROCESS: release_monthly}  # report kind -> how a held report of that kind goes out


def release_held(session: Session, settings: Settings, *, now: datetime, actor: str,
                 period: str | None = None) -> list[dict[str, Any]]:
    """Release every hold whose time is up (or, with `period`, that period's hold at once)."""
    from sqms.reporting.hold import HoldError, due, hold_of

    if period is not None:
        hold = hold_of(session, PROCESS, period)
        if hold is None:
            raise HoldError(f"no monthly report of {period} is held", code="report.not_held", period=period)
        if hold.released_at is not None:
            raise HoldError(f"the monthly report of {period} was released already", code="report.released",
                            period=period)
        holds = [hold]
    else:
        holds = [h for h in due(session, now) if h.kind in RELEASERS]
    out = []
    for hold in holds:
        final, queued = RELEASERS[hold.kind](session, settings, hold, actor=actor, now=now)
        out.append({"kind": hold.kind, "period": hold.period, "version": final.version,
                    "commentary": bool(hold.commentary), "queued": queued})
    return out
