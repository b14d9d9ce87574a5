"""Meeting invitations as iCalendar files (RFC 5545, `METHOD:REQUEST`), for every process that holds
a meeting (the management review, the monthly quality-analysis meeting).

Calendar clients match an invitation to the event they already hold by its UID and take the one
with the higher SEQUENCE, so a caller gives a UID that depends only on the meeting (never on its
date) and a SEQUENCE that grows with every resend: a rescheduled or resent meeting updates the
participants' calendar entry instead of adding a second. Times carry the organisation's timezone
(TZID plus its VTIMEZONE), so the meeting shows at its local time whatever the reader's own timezone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Iterable

from icalendar import Calendar, Event, vCalAddress, vText

from sqms.config import Settings


@dataclass(frozen=True)
class Meeting:
    """What an invitation says: `uid` stable for the meeting, `start`/`end` aware local datetimes."""

    uid: str
    start: datetime
    end: datetime
    summary: str
    location: str
    description: str = ""


def uid_for(settings: Settings, name: str) -> str:
    """`<name>@<the sender's domain>`: stable for the meeting, the same on every resend."""
    domain = settings.smtp.sender.partition("@")[2] or "sqms.local"
    return f"{name}@{domain}"


def window(settings: Settings, day: date, at: str, hours: float) -> tuple[datetime, datetime]:
    """Start and end of a meeting on `day` at `at` (HH:MM local time) lasting `hours`."""
    hour, minute = (int(x) for x in at.split(":"))
    start = datetime.combine(day, time(hour, minute), tzinfo=settings.tz)
    return start, start + timedelta(hours=hours)


def _address(email: str, name: str | None = None, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = vText(name)
    for key, value in params.items():
        address.params[key] = value
    return address


def organiser(settings: Settings) -> tuple[str, str]:
    """The general manager organises meetings (the regulation); the sender when none is configured."""
    managers = settings.people_with_role("general_manager")
    if managers:
        return managers[0].email, managers[0].name
    return settings.smtp.sender, "SQMS"


def invitation_ics(settings: Settings, meeting: Meeting, attendees: Iterable[str], *, sequence: int, now: datetime,
                   prodid: str = "-//SQMS//Meeting//ZH") -> bytes:
    """The invitation for every attendee (emails; names from `people:`) of one event."""
    people = {p.email: p for p in settings.people}
    calendar = Calendar()
    calendar.add("prodid", prodid)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", meeting.uid)
    event.add("sequence", sequence)
    event.add("dtstamp", now)
    event.add("dtstart", meeting.start)
    event.add("dtend", meeting.end)
    event.add("summary", meeting.summary)
    event.add("location", meeting.location)
    event.add("description", meeting.description)
    event.add("status", "CONFIRMED")
    event.add("organizer", _address(*organiser(settings)), encode=False)
    for email in attendees:
        person = people.get(email)
        event.add("attendee", _address(email, person.name if person else None, ROLE="REQ-PARTICIPANT",
                                       PARTSTAT="NEEDS-ACTION", RSVP="TRUE", CUTYPE="INDIVIDUAL"), encode=False)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
