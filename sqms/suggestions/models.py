"""Suggestions (合理化建议) from staff and customers, and how they were evaluated."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sqms.db import Base

# 已提交 → 已采纳 / 未采纳
SUBMITTED, ACCEPTED, REJECTED = "submitted", "accepted", "rejected"
SUGGESTION_STATES = (SUBMITTED, ACCEPTED, REJECTED)
SOURCES = ("staff", "customer")


class Suggestion(Base):
    __tablename__ = "suggestions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # the id of an imported row
    received_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16))  # staff | customer
    name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))  # told the outcome when given
    department: Mapped[str | None] = mapped_column(String(16))  # what it is about, when known
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=SUBMITTED, index=True)
    evaluation_due_on: Mapped[date] = mapped_column(Date)
    evaluated_at: Mapped[datetime | None]
    evaluated_by: Mapped[str | None] = mapped_column(String(254))
    reason: Mapped[str | None] = mapped_column(Text)
    action_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(100))

    @property
    def ref(self) -> str:
        return f"SG-{self.id:05d}"
