"""The outbox: every email is a row before it is a message."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sqms.db import Base
from sqms.sealing import SealedText

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"  # failed: refused for good, needs a person
HELD = "held"  # stopped by the flood guard: kept, sent only when a person releases it


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)  # process:object:period:recipient
    process: Mapped[str] = mapped_column(String(60), index=True)
    object: Mapped[str] = mapped_column(String(120))
    period: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(254))
    recipient_name: Mapped[str] = mapped_column(String(100), default="")
    subject: Mapped[str] = mapped_column(String(400))
    # sealed (encrypted) when the mail carries a single-use link, and emptied once it is sent
    body_text: Mapped[str] = mapped_column(SealedText)
    body_html: Mapped[str] = mapped_column(SealedText)
    attachments: Mapped[list[Any]] = mapped_column(default=list)  # file paths
    extra_headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(10), default=PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    transport: Mapped[str | None] = mapped_column(String(10))
    message_id: Mapped[str | None] = mapped_column(String(200))
