"""The outbox (DESIGN.md §6): queue once per key, deliver pending rows, mark them sent.

A message is keyed by (process, object, period, recipient). Queuing the same key
again refreshes a message that is still pending (a rerun sends the newest
content) and never touches one already sent, so reruns and retries cannot send
an email twice. Delivery commits each message as it goes: an SMTP outage leaves
the rest pending for the next run.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
from dataclasses import dataclass, field
from email.utils import make_msgid
from pathlib import Path
from typing import Any, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sqms.calendar import utcnow
from sqms.config import Person, Settings
from sqms.db import UnitOfWork
from sqms.notify.messages import build_mime, header_safe
from sqms.notify.models import FAILED, PENDING, SENT, OutboxMessage
from sqms.notify.transports import Transport, transport_for

log = logging.getLogger(__name__)


AUDIENCE_HEADER = "X-SQMS-Audience"  # "customer" on mails to customers (see sender_name)


def sender_name(settings: Settings, message: OutboxMessage) -> str:
    """The From display name: the organisation's name (`smtp.customer_sender_name`, default the
    organisation's name in the mail language) for customer mails, `smtp.sender_name` (SQMS) for staff."""
    if (message.extra_headers or {}).get(AUDIENCE_HEADER) == "customer":
        org = settings.organisation
        return settings.smtp.customer_sender_name or (
            org.name_en if settings.locale == "en" and org.name_en else org.name)
    return settings.smtp.sender_name


def outbox_key(process: str, obj: str, period: str, recipient: str) -> str:
    return ":".join(header_safe(part) for part in (process, obj, period, recipient.lower()))


@dataclass
class Email:
    """A rendered email for one recipient, before it is queued."""

    recipient: str
    subject: str
    body_text: str
    body_html: str
    recipient_name: str = ""
    attachments: Sequence[str | Path] = ()
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def to(cls, person: Person | str, **kwargs: Any) -> "Email":
        if isinstance(person, str):
            return cls(recipient=person, **kwargs)
        return cls(recipient=person.email, recipient_name=person.name, **kwargs)


def enqueue(session: Session, *, process: str, obj: str, period: str, email: Email,
            sender_domain: str = "sqms.local") -> tuple[OutboxMessage, bool]:
    """Queue `email` under its key; returns (row, changed). A sent row is left as it is."""
    key = outbox_key(process, obj, period, email.recipient)
    now = utcnow()
    values = dict(
        recipient=email.recipient.lower(), recipient_name=email.recipient_name, subject=header_safe(email.subject),
        body_text=email.body_text, body_html=email.body_html,
        attachments=[str(Path(a).resolve()) for a in email.attachments], extra_headers=dict(email.headers),
    )
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).first()
    if row is None:
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        row = OutboxMessage(key=key, process=process, object=obj, period=period, status=PENDING, attempts=0,
                            created_at=now, updated_at=now, message_id=make_msgid(idstring=digest,
                                                                                   domain=sender_domain),
                            **values)
        session.add(row)
        session.flush()
        return row, True
    if row.status == SENT:
        return row, False
    changed = any(getattr(row, k) != v for k, v in values.items())
    if changed:
        for k, v in values.items():
            setattr(row, k, v)
        row.updated_at = now
    return row, changed


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0


def pending_count(session: Session, process: str | None = None) -> int:
    stmt = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == PENDING)
    if process:
        stmt = stmt.where(OutboxMessage.process == process)
    return session.execute(stmt).scalar_one()


def deliver_pending(settings: Settings, *, process: str | None = None, transport: Transport | None = None,
                    limit: int | None = None) -> DeliveryReport:
    """Send pending messages (optionally of one process) one by one, committing each.

    On PostgreSQL rows are claimed with SKIP LOCKED, so two deliveries running at once
    never send the same message; SQLite serialises writers, which gives the same.
    """
    transport = transport or transport_for(settings)
    report = DeliveryReport()
    try:
        with UnitOfWork(settings.database_url, actor="outbox") as uow:
            stmt = select(OutboxMessage.id).where(OutboxMessage.status == PENDING).order_by(OutboxMessage.id)
            if process:
                stmt = stmt.where(OutboxMessage.process == process)
            if limit:
                stmt = stmt.limit(limit)
            ids = list(uow.session.scalars(stmt))
        for message_id in ids:
            if not _deliver_one(settings, message_id, transport, report):
                break  # the transport is down: keep the rest pending for the next run
    finally:
        transport.close()
    return report


def _deliver_one(settings: Settings, message_id: int, transport: Transport, report: DeliveryReport) -> bool:
    """Claim, send and mark one message; False when the transport itself is down."""
    with UnitOfWork(settings.database_url, actor="outbox") as uow:
        # Claiming by UPDATE takes the row (PostgreSQL) or database (SQLite) write lock until
        # commit, so a concurrent delivery waits and then finds the message no longer pending.
        claimed = uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == PENDING)
            .values(attempts=OutboxMessage.attempts + 1, updated_at=utcnow())
        ).rowcount
        if not claimed:
            return True
        message = uow.session.get(OutboxMessage, message_id)
        try:
            transport.send(build_mime(message, settings.smtp.sender, sender_name(settings, message)))
        except Exception as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if _is_permanent(exc):
                message.status = FAILED  # a refused address will not get better by retrying
            uow.commit()
            report.failed += 1
            report.errors.append(f"{message.recipient}: {message.last_error}")
            log.warning("could not send %s: %s", message.key, message.last_error)
            return not _transport_down(exc)
        message.status = SENT
        message.sent_at = utcnow()
        message.transport = transport.name
        message.last_error = None
        uow.commit()
        report.sent += 1
        return True


def _transport_down(exc: Exception) -> bool:
    """The server is unreachable (as opposed to refusing this one message)."""
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def _is_permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500
