"""督办提醒 — reminders and escalation, and the quality manager's weekly digest.

Every item with an owner and a due date (complaints, corrective actions, and the items of
every process registered in `sqms.processes`) is chased on working days at 09:00: its owner is reminded before
the due day, on it and once it is late; an item late by 1 working day is escalated to
the owner's department manager, by 3 to the quality manager. Nothing is sent on
non-working days, and nobody gets the same reminder twice. Auditors and auditees get their
notices 14 and 7 days before each audit the same way, each as its own mail.
"""

from __future__ import annotations

from datetime import date

from prefect import flow

from flows.hooks import notify_admins
from tasks.notify import deliver_outbox
from tasks.reminders import queue_reminder_digests, queue_weekly_digest


@flow(name="reminders", on_failure=[notify_admins], on_crashed=[notify_admins])
def reminders(today: date | None = None) -> dict:
    """One digest per person with what is due soon, due today, late, or escalated to them."""
    result = queue_reminder_digests(today)
    delivery = deliver_outbox("reminders")
    return {**result, **delivery}


@flow(name="weekly-digest", on_failure=[notify_admins], on_crashed=[notify_admins])
def weekly_digest(today: date | None = None) -> dict:
    """On the first working day of each week: counts, ageing and the worst offenders to the quality manager."""
    result = queue_weekly_digest(today)
    delivery = deliver_outbox("weekly-digest")
    return {**result, **delivery}
