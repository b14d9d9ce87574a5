"""月度质量分析会 — the monthly quality-analysis meeting.

The regulation: each month, after the service-quality report, management's representative, the
quality-management department and the heads of the main service departments meet to analyse it:
the KPIs that missed and why, major events and complaints, the running improvements and their
effect, new improvement projects; the minutes record the action items with owners and deadlines.
On the 1st, after the monthly report, this flow puts the meeting on a working day a few days later
and invites everyone with the report and an agenda drawn from the data; the minutes, given here in
the run form or with `sqms meeting minutes`, become actions and go to the participants.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from prefect.runtime import flow_run
from pydantic import Field

from flows.hooks import notify_admins
from sqms.calendar import previous_period, utcnow
from sqms.config import get_settings
from sqms.meetings.service import PROCESS
from tasks.meetings import record_quality_meeting_minutes, schedule_quality_meeting
from tasks.notify import deliver_outbox

Period = Annotated[str | None, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM; empty = last month")]


def _run_name() -> str:
    return f"quality-meeting-{flow_run.parameters.get('period') or 'last-month'}"


@flow(name="quality-meeting", flow_run_name=_run_name, on_failure=[notify_admins], on_crashed=[notify_admins])
def quality_meeting(period: Period = None, minutes: str | None = None) -> dict:
    """月度质量分析会: schedule the meeting on the month's report and invite the participants (agenda,
    calendar invitation, the report); with `minutes` (YAML), record them and mail the minutes."""
    period = period or previous_period(utcnow(), get_settings().tz)
    scheduled = schedule_quality_meeting(period)                                  # 通知: day, agenda, report
    recorded = record_quality_meeting_minutes(period, minutes) if minutes else None   # 纪要: actions, minutes
    delivery = deliver_outbox(PROCESS)
    return {"period": period, "scheduled": scheduled, "minutes": recorded, **delivery}
