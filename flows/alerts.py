"""告警 — a second path from a failed, crashed or late run to a person.

Each SQMS flow mails the admins from its own on_failure/on_crashed hook; but a worker that is
killed or a run that never starts calls no hook. `sqms deploy` therefore creates Prefect
automations that run this flow when any SQMS run fails, crashes, or is late by more than an
hour; it mails the admins through the outbox (one alert per process, parameters and day, shared
with the hooks, so the two paths never mail twice).
"""

from __future__ import annotations

from prefect import flow

from tasks.alerts import queue_run_alert
from tasks.notify import deliver_outbox


@flow(name="flow-alert")
def flow_alert(flow_run_id: str, reason: str = "failed") -> dict:
    """Tell the admins about one run of another SQMS flow."""
    queued = queue_run_alert(flow_run_id, reason)
    return {"queued": queued, **deliver_outbox("flow-failure")}
