"""制度与作业规范 — the standards and SOP register.

The regulation: every core service process has its SOP; a revision approved by the leadership is
published and everyone who runs the process is trained on it; standards are reviewed at least once a
year. Every morning this flow publishes the approved versions whose effective day has come (the one
before superseded, the people of its processes asked to be trained); the reminder engine chases the
reviews (30 and 7 days before) and the trainings like any other item.
"""

from __future__ import annotations

from prefect import flow

from flows.hooks import notify_admins
from sqms.standards.service import PROCESS
from tasks.notify import deliver_outbox
from tasks.standards import publish_due_standards


@flow(name="standards-review", on_failure=[notify_admins], on_crashed=[notify_admins])
def standards_review() -> dict:
    """Publish approved versions on their effective day (trainings follow) and send what is queued."""
    published = publish_due_standards()
    delivery = deliver_outbox(PROCESS)
    return {"published": published, **delivery}
