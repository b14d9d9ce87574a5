"""Delivering the outbox."""

from __future__ import annotations

from prefect import get_run_logger, task

from sqms.notify.service import deliver_pending
from tasks.common import RETRYING, settings


class DeliveryFailed(RuntimeError):
    """Some messages could not be sent; they stay pending for the next run."""


@task(name="deliver-outbox", **RETRYING)
def deliver_outbox(process: str | None = None) -> dict:
    """Send pending mails (of one process, or all); raise so that retries and failure alerts happen."""
    report = deliver_pending(settings(), process=process)
    logger = get_run_logger()
    logger.info("outbox: %d sent, %d failed", report.sent, report.failed)
    if not report.ok:
        raise DeliveryFailed(f"{report.failed} message(s) not sent, kept pending: " + "; ".join(report.errors[:5]))
    return {"sent": report.sent, "failed": report.failed}
