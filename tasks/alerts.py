"""The alert a Prefect automation asks for when an SQMS run failed, crashed or is late."""

from __future__ import annotations

from prefect import task
from prefect.client.orchestration import get_client

from sqms.notify.alerts import queue_failure_alert
from tasks.common import RETRYING, run_url, settings, unit_of_work


@task(name="queue-run-alert", **RETRYING)
def queue_run_alert(flow_run_id: str, reason: str) -> int:
    """Mail the admins about that run (the same key as the run's own failure hook: one alert a day)."""
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        flow = client.read_flow(run.flow_id)
    state = "Late" if reason == "late" else (run.state.name if run.state else reason)
    message = (run.state.message or "") if run.state else ""
    if reason == "late":
        message = f"scheduled for {run.expected_start_time}, not started yet (is a worker running?)"
    with unit_of_work() as uow:
        queued = queue_failure_alert(uow.session, settings(), flow_name=flow.name, run_name=run.name,
                                     run_id=str(run.id), state_name=state, message=message,
                                     parameters=dict(run.parameters or {}), run_url=run_url(run.id))
        uow.commit()
    return queued
