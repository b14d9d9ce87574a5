"""Alerts to the admins when a scheduled process fails."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.orm import Session

from sqms.calendar import to_local, utcnow
from sqms.config import Settings
from sqms.notify.compose import compose
from sqms.notify.service import enqueue


def queue_failure_alert(session: Session, settings: Settings, *, flow_name: str, run_name: str, run_id: str,
                        state_name: str, message: str, parameters: dict[str, Any],
                        run_url: str | None = None) -> int:
    """One alert per admin per process, parameters and local day: a process failing every
    15 minutes during an outage does not bury the admins in mail. Returns #queued."""
    day = to_local(utcnow(), settings.tz).date().isoformat()
    params = json.dumps(parameters, sort_keys=True, default=str, ensure_ascii=False)
    obj = f"{flow_name}#{hashlib.sha1(params.encode()).hexdigest()[:8]}"
    queued = 0
    for admin in settings.admins():
        email = compose(settings, "flow_failed", admin, flow_name=flow_name, run_name=run_name, run_id=run_id,
                        state_name=state_name, message=message, parameters=params, run_url=run_url,
                        at=to_local(utcnow(), settings.tz))
        _, changed = enqueue(session, process="flow-failure", obj=obj, period=day, email=email)
        queued += int(changed)
    return queued
