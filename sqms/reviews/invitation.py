"""The meeting invitation of a management review as an iCalendar file (RFC 5545, `METHOD:REQUEST`).

Calendar clients match an invitation to the event they already hold by its UID and take the one
with the higher SEQUENCE, so the UID depends only on the review (its year and the sender's
domain) and SEQUENCE counts the times the pack was sent: a pack sent again (late department
reports, a new meeting day) updates the participants' calendar entry instead of adding a second.
Times carry the organisation's timezone (TZID plus its VTIMEZONE), so the meeting shows at 09:30 in
Shanghai whatever the reader's own timezone.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from icalendar import Calendar, Event, vCalAddress, vText

from sqms.config import Person, Settings
from sqms.reporting.formatting import t
from sqms.reviews.models import ManagementReview

PRODID = "-//SQMS//Management review//ZH"


def invitation_uid(settings: Settings, review: ManagementReview) -> str:
    """Stable for the review: the same on every resend, different for every year."""
    domain = settings.smtp.sender.partition("@")[2] or "sqms.local"
    return f"management-review-{review.year}@{domain}"


def meeting_window(settings: Settings, review: ManagementReview) -> tuple[datetime, datetime]:
    """The meeting's start and end as aware local datetimes (configured time and length)."""
    hour, minute = (int(x) for x in settings.review.meeting_time.split(":"))
    start = datetime.combine(review.meeting_on, time(hour, minute), tzinfo=settings.tz)
    return start, start + timedelta(hours=settings.review.meeting_hours)


def meeting_title(settings: Settings, review: ManagementReview) -> str:
    return t(settings.locale, f"{review.year}年度管理评审会议", f"Management review {review.year}")


def _address(email: str, name: str | None = None, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = vText(name)
    for key, value in params.items():
        address.params[key] = value
    return address


def _organiser(settings: Settings) -> vCalAddress:
    """The general manager organises the review (the regulation); the sender when none is configured."""
    managers = settings.people_with_role("general_manager")
    if managers:
        return _address(managers[0].email, managers[0].name)
    return _address(settings.smtp.sender, "SQMS")


def invitation_ics(settings: Settings, review: ManagementReview, *, sequence: int, now: datetime,
                   description: str = "") -> bytes:
    """The invitation for every participant of `review` (they are all attendees of one event)."""
    start, end = meeting_window(settings, review)
    people = {p.email: p for p in settings.people}
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", invitation_uid(settings, review))
    event.add("sequence", sequence)
    event.add("dtstamp", now)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", meeting_title(settings, review))
    event.add("location", settings.review.meeting_place)
    event.add("description", description)
    event.add("status", "CONFIRMED")
    event.add("organizer", _organiser(settings), encode=False)
    for email in review.participants:
        person: Person | None = people.get(email)
        event.add("attendee", _address(email, person.name if person else None, ROLE="REQ-PARTICIPANT",
                                       PARTSTAT="NEEDS-ACTION", RSVP="TRUE", CUTYPE="INDIVIDUAL"), encode=False)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
