"""投诉处理监督 — the hourly complaint watch.

The regulation: larger (special) complaints go to the general manager at once, and
complaints that keep coming back are fed into improvement. Every hour this flow
reports special complaints not yet settled to the general manager (each once), asks the
customers of resolved complaints for their feedback (the return visit, 回访) and opens a
corrective action for a department with repeated complaints of one category in a month; a category
rising against its own baseline (sqms.complaints.signals) is told to the department's manager once.
Deadlines themselves are chased by the daily reminders.
"""

from __future__ import annotations

from prefect import flow

from flows.hooks import notify_admins
from tasks.complaints import (
    ask_for_feedback,
    open_repeat_actions,
    queue_rise_notices_task,
    queue_special_notices_task,
)
from tasks.notify import deliver_outbox


@flow(name="complaint-sla-watch", on_failure=[notify_admins], on_crashed=[notify_admins])
def complaint_sla_watch() -> dict:
    """重大投诉立即上报总经理；办结后回访客户；同类投诉反复出现 → 纠正措施."""
    notices = queue_special_notices_task()
    feedback = ask_for_feedback()
    actions = open_repeat_actions()
    rises = queue_rise_notices_task()
    delivery = deliver_outbox()
    return {"special_notices": notices, "feedback_requests": feedback, "actions_opened": actions,
            "rise_notices": rises, **delivery}
