"""State hooks shared by every SQMS flow."""

from __future__ import annotations

import logging

from sqms.config import get_settings
from sqms.db import UnitOfWork
from sqms.notify.alerts import queue_failure_alert
from sqms.notify.service import deliver_pending
from tasks.common import run_url

log = logging.getLogger(__name__)


def notify_admins(flow, flow_run, state) -> None:
    """on_failure / on_crashed: mail the configured admins through the outbox (never raises)."""
    try:
        settings = get_settings()
        with UnitOfWork(settings.database_url, actor="prefect:on_failure") as uow:
            queue_failure_alert(
                uow.session, settings, flow_name=flow.name, run_name=flow_run.name, run_id=str(flow_run.id),
                state_name=state.name, message=state.message or "", parameters=dict(flow_run.parameters or {}),
                run_url=run_url(flow_run.id),
            )
            uow.commit()
        deliver_pending(settings, process="flow-failure")
    except Exception:  # an alert that fails must not hide the original failure
        log.exception("could not queue or send the failure alert for %s", flow_run.name)
