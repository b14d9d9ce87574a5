"""Tasks of the reminder engine."""

from __future__ import annotations

from datetime import date

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from sqms.processes import DEADLINES
from sqms.reminders.service import send_reminders
from sqms.reminders.weekly import send_weekly_digest
from tasks.common import RETRYING, settings, unit_of_work


@task(name="queue-reminder-digests", **RETRYING)
def queue_reminder_digests(today: date | None = None) -> dict:
    """Plan today's reminders and queue one digest per person (with its ledger, in one transaction)."""
    with unit_of_work() as uow:
        result = send_reminders(uow.session, settings(), today=today, sources=DEADLINES)
        uow.commit()
    logger = get_run_logger()
    if result.skipped:
        logger.info("%s: %s, nothing sent", result.day, result.skipped)
    else:
        logger.info("%s: %d open items, %d reminders due, %d new in %d digests and %d own mails", result.day,
                    result.items, result.planned, result.new, result.digests, result.mails)
        if result.by_recipient:
            create_markdown_artifact(
                key="reminders", description=f"reminders {result.day}",
                markdown=f"# 待办提醒 / reminders {result.day}\n\n| 收件人 recipient | 新提醒 new |\n|---|---:|\n"
                + "\n".join(f"| {r} | {n} |" for r, n in sorted(result.by_recipient.items())) + "\n")
    return {"day": result.day.isoformat(), "skipped": result.skipped, "items": result.items,
            "new": result.new, "digests": result.digests, "mails": result.mails}


@task(name="queue-weekly-digest", **RETRYING)
def queue_weekly_digest(today: date | None = None) -> dict:
    with unit_of_work() as uow:
        result = send_weekly_digest(uow.session, settings(), today=today, sources=DEADLINES)
        uow.commit()
    return {"week": result.week, "skipped": result.skipped, "queued": result.queued}
