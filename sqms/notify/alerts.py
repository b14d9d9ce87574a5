"""Alerts to the admins when a scheduled process fails.

The usual way is the outbox. When the failure is the database itself, the outbox cannot take
the alert: `send_failure_alert_directly` hands the same mail (same key, same Message-ID) to the
transport at once — SMTP, or an .eml file in the outbox folder — and remembers it in a marker
file, so that the admins still get one alert per process, parameters and day.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy.orm import Session

from sqms.calendar import to_local, utcnow
from sqms.config import Settings
from sqms.notify.compose import compose
from sqms.notify.service import Email, enqueue, message_id_for, outbox_key

PROCESS = "flow-failure"


def _alerts(settings: Settings, *, flow_name: str, run_name: str, run_id: str, state_name: str, message: str,
            parameters: dict[str, Any], run_url: str | None) -> Iterator[tuple[str, str, Email]]:
    """(object, period, email) of the alert to each admin."""
    day = to_local(utcnow(), settings.tz).date().isoformat()
    params = json.dumps(parameters, sort_keys=True, default=str, ensure_ascii=False)
    obj = f"{flow_name}#{hashlib.sha1(params.encode()).hexdigest()[:8]}"
    for admin in settings.admins():
        email = compose(settings, "flow_failed", admin, flow_name=flow_name, run_name=run_name, run_id=run_id,
                        state_name=state_name, message=message, parameters=params, run_url=run_url,
                        at=to_local(utcnow(), settings.tz))
        yield obj, day, email


def queue_failure_alert(session: Session, settings: Settings, *, flow_name: str, run_name: str, run_id: str,
                        state_name: str, message: str, parameters: dict[str, Any],
                        run_url: str | None = None) -> int:
    """One alert per admin per process, parameters and local day: a process failing every
    15 minutes during an outage does not bury the admins in mail. Returns #queued."""
    queued = 0
    for obj, day, email in _alerts(settings, flow_name=flow_name, run_name=run_name, run_id=run_id,
                                   state_name=state_name, message=message, parameters=parameters, run_url=run_url):
        if _marker(settings, outbox_key(PROCESS, obj, day, email.recipient)).exists():
            continue  # already told today, directly, while the database was down
        _, changed = enqueue(session, process=PROCESS, obj=obj, period=day, email=email)
        queued += int(changed)
    return queued


def send_failure_alert_directly(settings: Settings, *, flow_name: str, run_name: str, run_id: str,
                                state_name: str, message: str, parameters: dict[str, Any],
                                run_url: str | None = None) -> int:
    """The alert without the database: straight to the transport. Returns #sent."""
    from sqms.notify.messages import build_mime
    from sqms.notify.models import OutboxMessage
    from sqms.notify.transports import transport_for

    transport = transport_for(settings)
    sent = 0
    try:
        for obj, day, email in _alerts(settings, flow_name=flow_name, run_name=run_name, run_id=run_id,
                                       state_name=state_name, message=message, parameters=parameters,
                                       run_url=run_url):
            key = outbox_key(PROCESS, obj, day, email.recipient)
            marker = _marker(settings, key)
            if marker.exists():
                continue
            row = OutboxMessage(key=key, recipient=email.recipient.lower(), recipient_name=email.recipient_name,
                                subject=email.subject, body_text=email.body_text, body_html=email.body_html,
                                attachments=[], extra_headers={}, message_id=message_id_for(key))
            transport.send(build_mime(row, settings.smtp.sender))
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(key + "\n", encoding="utf-8")
            sent += 1
    finally:
        transport.close()
    return sent


def _marker(settings: Settings, key: str) -> Path:
    return Path(settings.outbox_dir) / ".sent-directly" / hashlib.sha256(key.encode()).hexdigest()[:32]
