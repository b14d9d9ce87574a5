"""Messages: a rendered email before it is queued (`Email`), and the MIME message of an outbox row
(UTF-8 headers, text + HTML alternative, attachments)."""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Sequence

from sqms.calendar import utcnow
from sqms.config import Person
from sqms.notify.models import OutboxMessage
from sqms.sealing import readable

AUDIENCE_HEADER = "X-SQMS-Audience"  # "customer" on mails to customers (see notify.service.sender_name)

_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")


def header_safe(value: str) -> str:
    """A header value from data: CR/LF and other line breaks collapse to one space."""
    return _LINE_BREAKS.sub(" ", value or "").strip()


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
    confidential: bool = False  # stored sealed; also set by enqueue when the body carries a single-use link

    @classmethod
    def to(cls, person: Person | str, **kwargs: Any) -> "Email":
        if isinstance(person, str):
            return cls(recipient=person, **kwargs)
        return cls(recipient=person.email, recipient_name=person.name, **kwargs)


def _address(email: str, name: str = "") -> Address:
    local, _, domain = header_safe(email).partition("@")
    return Address(display_name=header_safe(name), username=local, domain=domain)


def build_mime(message: OutboxMessage, sender: str, sender_name: str = "SQMS") -> EmailMessage:
    """The email for one outbox row; the Message-ID derives from the outbox key (stable across retries)."""
    mime = EmailMessage()
    mime["Subject"] = header_safe(message.subject)
    mime["From"] = _address(sender, sender_name)
    mime["To"] = _address(message.recipient, message.recipient_name)
    mime["Date"] = format_datetime(utcnow())
    domain = sender.partition("@")[2] or "sqms.local"
    mime["Message-ID"] = message.message_id or make_msgid(idstring=f"sqms-{message.id}", domain=domain)
    mime["X-SQMS-Key"] = header_safe(message.key)
    for name, value in (message.extra_headers or {}).items():
        mime[header_safe(name)] = header_safe(str(value))
    mime.set_content(readable(message.body_text), subtype="plain", charset="utf-8")
    mime.add_alternative(readable(message.body_html), subtype="html", charset="utf-8")
    for attachment in message.attachments or []:
        path = Path(attachment)
        ctype, _ = mimetypes.guess_type(path.name)
        maintype, subtype = (ctype or "application/octet-stream").split("/", 1)
        # our text files (HTML reports, .ics invitations) are UTF-8: say so, or a client may guess wrong
        params = {"charset": "utf-8"} if maintype == "text" else {}
        if (maintype, subtype) == ("text", "calendar"):
            params["method"] = "REQUEST"  # calendars offer to accept the meeting
        mime.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name,
                            params=params)
    return mime
