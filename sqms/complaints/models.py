"""Complaints as received; the deadline is computed from the working-day calendar."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sqms.db import Base


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_received_dept", "received_at", "department"),)

    complaint_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime]
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    channel: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    responded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    description: Mapped[str | None] = mapped_column(Text)
    deadline_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]
