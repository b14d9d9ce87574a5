"""Complaints: as received (DESIGN.md §3) and as handled (the lifecycle of the regulation)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sqms.db import Base

# 登记 → 联系 (first contact) → 调查 → 处理方案 → 审批 (special only) → 答复 → 回访 → 结案
REGISTERED, ACKNOWLEDGED, INVESTIGATING, PROPOSED, APPROVED, RESOLVED, VISITED, CLOSED = (
    "registered", "acknowledged", "investigating", "solution_proposed", "approved", "resolved",
    "return_visited", "closed")
STATES = (REGISTERED, ACKNOWLEDGED, INVESTIGATING, PROPOSED, APPROVED, RESOLVED, VISITED, CLOSED)
OPEN_STATES = (REGISTERED, ACKNOWLEDGED, INVESTIGATING, PROPOSED, APPROVED)  # not yet settled
STATE_LABELS: dict[str, tuple[str, str]] = {
    "registered": ("已登记", "registered"), "acknowledged": ("已联系客户", "acknowledged"),
    "investigating": ("调查中", "investigating"), "solution_proposed": ("已提出处理方案", "solution proposed"),
    "approved": ("方案已审批", "approved"), "resolved": ("已答复", "resolved"),
    "return_visited": ("已回访", "return visited"), "closed": ("已结案", "closed"),
}


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_received_dept", "received_at", "department"),)

    # -- as received (the import format) --
    complaint_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime]
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    channel: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    responded_at: Mapped[datetime | None]  # first contact with the complainant
    resolved_at: Mapped[datetime | None]  # answer given: settled
    description: Mapped[str | None] = mapped_column(Text)
    service_item: Mapped[str | None] = mapped_column(String(32))  # code of config service_items (optional)
    deadline_at: Mapped[datetime]  # settle by (working days)
    first_contact_due_at: Mapped[datetime | None]
    staff_id: Mapped[str | None] = mapped_column(String(64), index=True)  # the person complained about
    updated_at: Mapped[datetime | None]

    # -- as handled --
    status: Mapped[str] = mapped_column(String(24), default=REGISTERED, index=True)
    owner: Mapped[str | None] = mapped_column(String(254))  # handler; default the department manager
    solution: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(String(254))
    answer: Mapped[str | None] = mapped_column(Text)  # what the complainant was told
    return_visit_at: Mapped[datetime | None]
    feedback_score: Mapped[int | None] = mapped_column(Integer)  # 1–5
    feedback_comment: Mapped[str | None] = mapped_column(Text)
    feedback_channel: Mapped[str | None] = mapped_column(String(16))  # web | phone | email | onsite
    closed_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
