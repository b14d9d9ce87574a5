"""State hooks shared by every SQMS flow."""

from __future__ import annotations

import logging

from sqms.config import get_settings
from sqms.db import UnitOfWork
from sqms.notify.alerts import queue_failure_alert, send_failure_alert_directly
from sqms.notify.service import deliver_pending
from tasks.common import run_url

log = logging.getLogger(__name__)


def notify_admins(flow, flow_run, state) -> None:
    """on_failure / on_crashed: mail the configured admins through the outbox, or — when the
    database itself is what failed — straight through the transport (never raises)."""
    queued = False
    try:
        settings = get_settings()
        alert = dict(flow_name=flow.name, run_name=flow_run.name, run_id=str(flow_run.id), state_name=state.name,
                     message=state.message or "", parameters=dict(flow_run.parameters or {}),
                     run_url=run_url(flow_run.id))
        with UnitOfWork(settings.database_url, actor="prefect:on_failure") as uow:
            queue_failure_alert(uow.session, settings, **alert)
            uow.commit()
        queued = True
        deliver_pending(settings, process="flow-failure")
    except Exception:  # an alert that fails must not hide the original failure
        log.exception("could not queue or send the failure alert for %s", flow_run.name)
        if not queued:
            try:
                sent = send_failure_alert_directly(settings, **alert)
                log.warning("the database is unavailable: %d alert(s) for %s sent directly", sent, flow_run.name)
            except Exception:
                log.exception("could not send the failure alert for %s directly either", flow_run.name)
