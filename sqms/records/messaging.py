"""The monthly report's emails: one per recipient of the distribution list, through the outbox."""

from __future__ import annotations

from typing import Sequence

from sqlalchemy.orm import Session

from sqms.config import Settings
from sqms.reporting.models import GeneratedReport
from sqms.reporting.service import mail_report

PROCESS = "monthly-report"


def queue_monthly_report_mails(session: Session, settings: Settings, report: GeneratedReport,
                               also: Sequence[GeneratedReport] = ()) -> int:
    """Queue the report for everyone on `report.distribution`; returns how many rows were new or refreshed.

    `also`: reports of the same month that travel with it as further attachments (the complaint
    analysis), so the distribution list gets one mail with everything for the meeting, not several.
    The key is (monthly-report, report, period, recipient): a new version of the same month's
    report refreshes a mail still pending and never re-sends one already sent.
    """
    return mail_report(session, settings, [report, *also], recipients=settings.report.distribution,
                       template="monthly_report", process=PROCESS, obj="report", period=report.period,
                       report=report.summary["email"], version=report.version)
