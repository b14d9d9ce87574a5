"""The monthly quality-analysis meeting as Prefect runs it: the session's Prefect test harness, a real
aiosmtpd server, SQLite and PostgreSQL. The invitations arrive with the ICS (`text/calendar;
method=REQUEST`) and the month's report; the minutes given in the run form become actions whose
owners get one mail each, and the minutes go to the participants."""

from __future__ import annotations

from datetime import datetime

import pytest
from icalendar import Calendar
from sqlalchemy import select

from sqms.calendar import add_working_days, previous_period, to_local, utcnow
from sqms.db import UnitOfWork
from tests.test_meetings import PARTICIPANTS, monthly_report

pytestmark = pytest.mark.prefect


def _attachments(message) -> dict[str, object]:
    return {part.get_filename(): part for part in message.iter_attachments()}


def test_quality_meeting_flow(prefect_harness, db_url, sqms_env, smtp_server):
    from flows.quality_meeting import quality_meeting
    from sqms.actions.models import Action
    from sqms.meetings.models import QualityMeeting
    from sqms.meetings.service import MeetingError
    from sqms.org.service import sync_organisation

    settings = sqms_env(db_url, **smtp_server.env())
    today = to_local(utcnow(), settings.tz).date()
    period = previous_period(utcnow(), settings.tz)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.commit()

    missing = quality_meeting(period=period, return_state=True)  # before the month's report: a clear failure
    assert missing.is_failed()
    with pytest.raises(MeetingError, match=f"no monthly report of {period}"):
        missing.result()
    smtp_server.clear()  # (the admins were told)

    with UnitOfWork(settings.database_url, actor="test") as uow:
        monthly_report(uow.session, settings, period, today)
        uow.commit()
    state = quality_meeting(period=period, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    meeting_on = add_working_days(today, settings.meeting.after_report_working_days)
    assert result["scheduled"]["meeting_on"] == meeting_on.isoformat() and result["sent"] == len(PARTICIPANTS)
    mails = smtp_server.messages
    assert {m["To"].addresses[0].addr_spec for m in mails} == PARTICIPANTS
    parts = _attachments(mails[0])
    assert set(parts) == {f"quality-meeting-{period}-s0.ics", f"monthly-report-{period}-v1.html",
                          f"monthly-report-{period}-v1.xlsx"}
    ics = parts[f"quality-meeting-{period}-s0.ics"]
    assert ics.get_content_type() == "text/calendar" and ics.get_param("method") == "REQUEST"
    calendar = Calendar.from_ical(ics.get_payload(decode=True))
    [event] = calendar.walk("VEVENT")
    assert calendar["method"] == "REQUEST" and event["dtstart"].params["TZID"] == "Asia/Shanghai"
    assert event.decoded("dtstart") == datetime.combine(meeting_on, datetime.min.time().replace(hour=14),
                                                        tzinfo=settings.tz)
    assert {str(a).removeprefix("mailto:") for a in event.get("attendee")} == PARTICIPANTS
    assert quality_meeting(period=period, return_state=True).result()["sent"] == 0  # a rerun: nothing twice

    # the meeting is held (brought forward to today for the test); the minutes come in the run form
    with UnitOfWork(settings.database_url, actor="test") as uow:
        uow.session.scalars(select(QualityMeeting)).one().meeting_on = today
        uow.commit()
    smtp_server.clear()
    minutes = ("attendees: [张伟, 李娜, wang.fang@example.com]\n"
               "items:\n  - {item: 3, discussion: 一次解决率下降, decision: 复训}\n"
               "actions:\n  - {title: 话术复训, owner: 王芳, due: 2099-01-15, item: 3}\n")
    recorded = quality_meeting(period=period, minutes=minutes, return_state=True)
    assert recorded.is_completed(), recorded.message
    by_recipient: dict[str, list[str]] = {}
    for m in smtp_server.messages:
        by_recipient.setdefault(m["To"].addresses[0].addr_spec, []).append(str(m["Subject"]))
    assert set(by_recipient) == PARTICIPANTS
    assert len(by_recipient["wang.fang@example.com"]) == 2  # the minutes and the action assigned to her
    assert all(len(subjects) == 1 for email, subjects in by_recipient.items() if email != "wang.fang@example.com")
    with UnitOfWork(settings.database_url, actor="test") as uow:
        [action] = uow.session.scalars(select(Action).where(Action.source == "quality_meeting")).all()
        assert action.title == "话术复训" and action.owner == "wang.fang@example.com"
    smtp_server.clear()
    again = quality_meeting(period=period, minutes=minutes, return_state=True)
    assert again.is_completed() and again.result()["sent"] == 0 and smtp_server.messages == []
