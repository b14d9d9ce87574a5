"""Tasks of the monthly quality-analysis meeting."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from sqms.meetings.minutes import MinutesError, parse_yaml
from sqms.meetings.service import MeetingError, get, record_minutes, schedule
from sqms.statemachine import IllegalTransition
from tasks.common import RETRYING, actor, settings, unit_of_work


def _worth_retrying(task, task_run, state) -> bool:
    """Input that does not validate does not get better by retrying: fail at once with the message."""
    return not isinstance(state.result(raise_on_failure=False), (MeetingError, MinutesError, IllegalTransition))


@task(name="schedule-quality-meeting", retry_condition_fn=_worth_retrying, **RETRYING)
def schedule_quality_meeting(period: str) -> dict:
    """Put the meeting on the month's report, build the agenda from the data now, invite everyone;
    publish the agenda as an artifact."""
    with unit_of_work() as uow:
        meeting, queued = schedule(uow.session, settings(), period, actor=actor())
        uow.commit()
        agenda = [(i["no"], i["title"], [r["line"] for r in i["rows"]]) for i in meeting.agenda]
        result = {"meeting": meeting.ref, "meeting_on": meeting.meeting_on.isoformat(), "sequence": meeting.sequence,
                  "invitations": queued, "agenda": {str(no): len(rows) for no, _, rows in agenda}}
    get_run_logger().info("%s on %s: %d invitations queued", result["meeting"], result["meeting_on"], queued)
    lines = [f"# {result['meeting']} — {result['meeting_on']}", ""]
    for no, title, rows in agenda:
        lines.append(f"{no}. **{title}**")
        lines += [f"   - {line}" for line in rows]
    create_markdown_artifact(key="quality-meeting-agenda", markdown="\n".join(lines),
                             description=f"quality-analysis meeting {period}")
    return result


@task(name="record-quality-meeting-minutes", retry_condition_fn=_worth_retrying, **RETRYING)
def record_quality_meeting_minutes(period: str, minutes: str) -> dict:
    """The minutes given as YAML in the run form (the shape of `sqms meeting minutes`)."""
    cfg = settings()
    with unit_of_work() as uow:
        meeting = get(uow.session, period)
        parsed = parse_yaml(cfg, minutes, {i["no"] for i in meeting.agenda})
        result = record_minutes(uow.session, cfg, meeting, parsed, actor=actor())
        uow.commit()
        return result
