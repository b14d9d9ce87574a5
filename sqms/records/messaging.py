"""The monthly report's emails: one per recipient of the distribution list, through the outbox."""

from __future__ import annotations

from typing import Sequence

from sqlalchemy.orm import Session

from sqms.config import Settings
from sqms.notify.compose import compose
from sqms.notify.service import enqueue
from sqms.reporting.models import GeneratedReport

PROCESS = "monthly-report"


def queue_monthly_report_mails(session: Session, settings: Settings, report: GeneratedReport,
                               also: Sequence[GeneratedReport] = ()) -> int:
    """Queue the report for everyone on `report.distribution`; returns how many rows were new or refreshed.

    `also`: reports of the same month that travel with it as further attachments (the complaint
    analysis), so the distribution list gets one mail with everything for the meeting, not several.
    The key is (monthly-report, report, period, recipient): a new version of the same month's
    report refreshes a mail still pending and never re-sends one already sent.
    """
    context = report.summary["email"]
    attachments = [r.files[fmt] for r in (report, *also) for fmt in ("html", "xlsx") if fmt in r.files]
    changed = 0
    for recipient in settings.resolve_recipients(settings.report.distribution):
        email = compose(settings, "monthly_report", recipient, report=context, version=report.version)
        email.attachments = attachments
        _, was_changed = enqueue(session, process=PROCESS, obj="report", period=report.period, email=email,
                                 sender_domain=settings.smtp.sender.partition("@")[2])
        changed += int(was_changed)
    return changed
