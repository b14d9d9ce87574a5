"""What the reminder engine has already told whom: one row per item, stage and recipient."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sqms.db import Base


class ReminderSent(Base):
    __tablename__ = "reminders_sent"
    __table_args__ = (UniqueConstraint("item_kind", "item_id", "stage", "recipient", name="uq_reminders_sent"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_kind: Mapped[str] = mapped_column(String(40))
    item_id: Mapped[str] = mapped_column(String(120))
    stage: Mapped[str] = mapped_column(String(40))  # due-in-2, due-today, overdue, escalated-1, ...
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    on_day: Mapped[date] = mapped_column(Date)  # the local working day of the digest
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
