"""Outbox delivery: sends whatever is pending (e.g. after an SMTP outage), every 15 minutes."""

from __future__ import annotations

from prefect import flow

from flows.hooks import notify_admins
from tasks.notify import deliver_outbox


@flow(name="outbox-delivery", on_failure=[notify_admins], on_crashed=[notify_admins])
def outbox_delivery() -> dict:
    """Deliver every pending email exactly once."""
    return deliver_outbox()
