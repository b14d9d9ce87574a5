"""The outbox (DESIGN.md §6): queue once per key, deliver pending rows, mark them sent.

A message is keyed by (process, object, period, recipient). Queuing the same key
again refreshes a message that is still pending (a rerun sends the newest
content) and never touches one already sent, so reruns and retries cannot send
an email twice. Delivery commits each message as it goes: an SMTP outage leaves
the rest pending for the next run.

Delivery is at least once, never twice for a known outcome: a message the server accepted
is marked sent at once; only when a delivery dies between the server's answer and that
commit is the outcome unknown, and the message is sent again with the same Message-ID.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sqms.calendar import utcnow
from sqms.config import Settings
from sqms.db import UnitOfWork
from sqms.notify.messages import AUDIENCE_HEADER, Email, build_mime, header_safe
from sqms.notify.models import FAILED, HELD, PENDING, SENDING, SENT, OutboxMessage
from sqms.notify.transports import Transport, transport_for
from sqms.sealing import Sealed

log = logging.getLogger(__name__)

# A delivery that claimed a message this long ago and never said how it went has died.
SENDING_TIMEOUT = timedelta(minutes=15)


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


def message_id_for(key: str, domain: str = "sqms.local") -> str:
    """The Message-ID of a key's mail: derived from the key alone, so every try — and the alert sent
    directly while the database is down — carries the same one."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}.sqms@{domain}>"


def enqueue(session: Session, *, process: str, obj: str, period: str, email: Email,
            sender_domain: str = "sqms.local") -> tuple[OutboxMessage, bool]:
    """Queue `email` under its key; returns (row, changed). A sent row is left as it is.

    A mail that carries a single-use link issued in this transaction (or says it is confidential)
    is stored sealed: the database holds no usable link (sqms.sealing)."""
    from sqms.tokens import issued_in

    key = outbox_key(process, obj, period, email.recipient)
    now = utcnow()
    body_text, body_html = email.body_text, email.body_html
    if email.confidential or any(t in body_text or t in body_html for t in issued_in(session)):
        body_text, body_html = Sealed(body_text), Sealed(body_html)
    values = dict(
        recipient=email.recipient.lower(), recipient_name=email.recipient_name, subject=header_safe(email.subject),
        body_text=body_text, body_html=body_html,
        attachments=[str(Path(a).resolve()) for a in email.attachments], extra_headers=dict(email.headers),
    )
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).first()
    if row is None:
        row = OutboxMessage(key=key, process=process, object=obj, period=period, status=PENDING, attempts=0,
                            created_at=now, updated_at=now, message_id=message_id_for(key, sender_domain),
                            **values)
        session.add(row)
        session.flush()
        return row, True
    if row.status in (SENT, SENDING):  # sent, or on its way: too late to change it
        return row, False
    changed = any(getattr(row, k) != v or type(getattr(row, k)) is not type(v) for k, v in values.items())
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
    held: dict[str, int] = field(default_factory=dict)  # recipient -> messages held by the flood guard
    released: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0


def pending_count(session: Session, process: str | None = None) -> int:
    stmt = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == PENDING)
    if process:
        stmt = stmt.where(OutboxMessage.process == process)
    return session.execute(stmt).scalar_one()


def deliver_pending(settings: Settings, *, process: str | None = None, transport: Transport | None = None,
                    limit: int | None = None, release_to: str | None = None) -> DeliveryReport:
    """Send pending messages (optionally of one process) one by one.

    No transaction is ever open while a message travels: each one is claimed in a short
    transaction (pending → sending), sent, and its outcome recorded in another, so a customer
    answering a form meanwhile is never kept waiting by the SMTP server. The claim is a
    conditional UPDATE: two deliveries running at once never send the same message.
    The flood guard holds what exceeds `outbox.max_per_recipient_per_run` for one recipient;
    `release_to` (an address) sends that recipient's held messages now, past the guard.
    """
    transport = transport or transport_for(settings)
    report = DeliveryReport()
    try:
        with UnitOfWork(settings.database_url, actor="outbox") as uow:
            release_interrupted(uow.session)
            if release_to:
                report.released = uow.session.execute(
                    update(OutboxMessage).where(OutboxMessage.status == HELD,
                                                OutboxMessage.recipient == release_to.strip().lower())
                    .values(status=PENDING, updated_at=utcnow())).rowcount
            stmt = select(OutboxMessage.id).where(OutboxMessage.status == PENDING).order_by(OutboxMessage.id)
            if process:
                stmt = stmt.where(OutboxMessage.process == process)
            if release_to:
                stmt = stmt.where(OutboxMessage.recipient == release_to.strip().lower())
            if limit:
                stmt = stmt.limit(limit)
            ids = list(uow.session.scalars(stmt))
            if not release_to:
                ids = _flood_guard(uow.session, settings, ids, report)
            uow.commit()
        for message_id in ids:
            if not _deliver_one(settings, message_id, transport, report):
                break  # the transport is down: keep the rest pending for the next run
    finally:
        transport.close()
    return report


FLOOD_PROCESS = "outbox"  # the flood guard's own summaries (never held themselves)


def _flood_guard(session: Session, settings: Settings, ids: list[int], report: DeliveryReport) -> list[int]:
    """The ids to send this run: at most `outbox.max_per_recipient_per_run` per recipient (oldest first).

    The rest become `held` (kept, listed by `sqms outbox list --status held`, sent by
    `sqms outbox release --recipient R`), and the recipient and the admins get one mail a day
    per recipient saying how many and which, so that nothing is dropped silently."""
    cap = settings.outbox.max_per_recipient_per_run
    if len(ids) <= cap:
        return ids
    rows = session.execute(select(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.process)
                           .where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)).all()
    kept: list[int] = []
    excess: dict[str, list[int]] = {}
    seen: dict[str, int] = {}
    for ident, recipient, process in rows:
        if process == FLOOD_PROCESS:
            kept.append(ident)
            continue
        seen[recipient] = seen.get(recipient, 0) + 1
        (kept.append(ident) if seen[recipient] <= cap else excess.setdefault(recipient, []).append(ident))
    if not excess:
        return ids
    from sqms.calendar import to_local
    from sqms.notify.compose import compose

    day = to_local(utcnow(), settings.tz).date().isoformat()
    for recipient, held in excess.items():
        for start in range(0, len(held), 1000):
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(held[start:start + 1000]))
                            .values(status=HELD, updated_at=utcnow(),
                                    last_error=f"held by the flood guard (more than {cap} in one run)"))
        report.held[recipient] = len(held)
        log.warning("flood guard: held %d mail(s) to %s (more than %d in one run)", len(held), recipient, cap)
        subjects = list(session.scalars(select(OutboxMessage.subject).where(OutboxMessage.id.in_(held[:10]))
                                        .order_by(OutboxMessage.id)))
        told = {recipient: None, **{a.email: a for a in settings.admins()}}
        for address, person in told.items():
            email = compose(settings, "outbox_held", person or address, held_for=recipient, count=len(held),
                            cap=cap, subjects=subjects)
            row, _ = enqueue(session, process=FLOOD_PROCESS, obj=f"flood-guard:{recipient}", period=day, email=email)
            if row.status == PENDING and row.id not in kept:
                kept.append(row.id)
    return kept


def release_interrupted(session: Session, now: datetime | None = None) -> int:
    """Messages left `sending` by a delivery that died mid-send go back to pending.

    Whether such a message reached the server is unknown: it is sent again (at least once), with
    the same Message-ID, so that the recipient's mail client can tell it is the same message."""
    cutoff = (now or utcnow()) - SENDING_TIMEOUT
    return session.execute(
        update(OutboxMessage).where(OutboxMessage.status == SENDING, OutboxMessage.updated_at < cutoff)
        .values(status=PENDING, last_error="delivery interrupted, outcome unknown: sending again")).rowcount


def _deliver_one(settings: Settings, message_id: int, transport: Transport, report: DeliveryReport) -> bool:
    """Claim, send and mark one message; False when the transport itself is down."""
    with UnitOfWork(settings.database_url, actor="outbox") as uow:
        claimed = uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == PENDING)
            .values(status=SENDING, attempts=OutboxMessage.attempts + 1, updated_at=utcnow())
        ).rowcount
        if not claimed:
            return True  # another delivery took it
        message = uow.session.get(OutboxMessage, message_id)
        key, recipient = message.key, message.recipient
        sealed = isinstance(message.body_text, Sealed)
        try:
            mime = build_mime(message, settings.smtp.sender, sender_name(settings, message))
        except Exception as exc:  # an attachment gone, a body that cannot be opened: this message only
            message.status = PENDING
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            uow.commit()
            report.failed += 1
            report.errors.append(f"{recipient}: {message.last_error}")
            log.warning("could not prepare %s: %s", key, message.last_error)
            return True
        uow.commit()  # the claim is visible to everyone; no lock is held while sending
    try:
        transport.send(mime)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        # a refused address will not get better by retrying; anything else is tried again
        _record(settings, message_id, status=FAILED if _is_permanent(exc) else PENDING, last_error=error)
        report.failed += 1
        report.errors.append(f"{recipient}: {error}")
        log.warning("could not send %s: %s", key, error)
        return not _transport_down(exc)
    # committed right after the server said yes: the window in which a crash leaves the
    # outcome unknown (and the message is sent again) is as short as it can be
    # a sealed body is emptied once sent: its link now lives only in the recipient's mailbox
    purged = {"body_text": "", "body_html": ""} if sealed else {}
    _record(settings, message_id, status=SENT, sent_at=utcnow(), transport=transport.name, last_error=None, **purged)
    report.sent += 1
    return True


def _record(settings: Settings, message_id: int, **values: Any) -> None:
    """The outcome of our send. A success is always recorded; a failure only while the message is
    still ours (not handed to another delivery after SENDING_TIMEOUT)."""
    ours = OutboxMessage.status != SENT if values.get("status") == SENT else OutboxMessage.status == SENDING
    with UnitOfWork(settings.database_url, actor="outbox") as uow:
        uow.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id, ours)
                            .values(updated_at=utcnow(), **values))
        uow.commit()


def _transport_down(exc: Exception) -> bool:
    """The server is unreachable (as opposed to refusing this one message)."""
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def _is_permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500
