"""The meeting invitation of a management review as an iCalendar file (`sqms.notify.ics`).

The UID depends only on the review (its year and the sender's domain) and SEQUENCE counts the times
the pack was sent: a pack sent again (late department reports, a new meeting day) updates the
participants' calendar entry instead of adding a second.
"""

from __future__ import annotations

from datetime import datetime

from sqms.config import Settings
from sqms.notify import ics
from sqms.reporting.formatting import t
from sqms.reviews.models import ManagementReview

PRODID = "-//SQMS//Management review//ZH"


def invitation_uid(settings: Settings, review: ManagementReview) -> str:
    """Stable for the review: the same on every resend, different for every year."""
    return ics.uid_for(settings, f"management-review-{review.year}")


def meeting_window(settings: Settings, review: ManagementReview) -> tuple[datetime, datetime]:
    """The meeting's start and end as aware local datetimes (configured time and length)."""
    return ics.window(settings, review.meeting_on, settings.review.meeting_time, settings.review.meeting_hours)


def meeting_title(settings: Settings, review: ManagementReview) -> str:
    return t(settings.locale, f"{review.year}年度管理评审会议", f"Management review {review.year}")


def invitation_ics(settings: Settings, review: ManagementReview, *, sequence: int, now: datetime,
                   description: str = "") -> bytes:
    """The invitation for every participant of `review` (they are all attendees of one event)."""
    start, end = meeting_window(settings, review)
    meeting = ics.Meeting(uid=invitation_uid(settings, review), start=start, end=end,
                          summary=meeting_title(settings, review), location=settings.review.meeting_place,
                          description=description)
    return ics.invitation_ics(settings, meeting, review.participants, sequence=sequence, now=now, prodid=PRODID)
