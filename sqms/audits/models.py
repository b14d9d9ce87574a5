"""Internal audit cycles (内部审核): the plan (one slot per department), findings, and their state."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sqms.db import Base

# 计划 → 通知 → 实施 → 记录发现 → 发布报告 → 跟踪整改 → 关闭
PLANNED, NOTIFIED, IN_PROGRESS, FINDINGS_RECORDED, REPORT_ISSUED, FOLLOW_UP, CLOSED = (
    "planned", "notified", "in_progress", "findings_recorded", "report_issued", "follow_up", "closed")
CYCLE_STATES = (PLANNED, NOTIFIED, IN_PROGRESS, FINDINGS_RECORDED, REPORT_ISSUED, FOLLOW_UP, CLOSED)
RESULTS = ("conforming", "major", "minor", "observation", "improvement")  # 符合/严重不符合/一般不符合/观察项/改进机会
NONCONFORMITIES = ("major", "minor")


class AuditCycle(Base):
    __tablename__ = "audit_cycles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)  # 2026-H1, 2026-H2
    status: Mapped[str] = mapped_column(String(20), default=PLANNED, index=True)
    opened_at: Mapped[datetime]
    first_day: Mapped[date | None] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)
    report_id: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(100))


class AuditSlot(Base):
    """One department's audit: the day, the auditor (never from that department), the checklist."""

    __tablename__ = "audit_slots"
    __table_args__ = (UniqueConstraint("cycle_id", "department", name="uq_audit_slots"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("audit_cycles.id"), index=True)
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    auditor: Mapped[str] = mapped_column(String(254))
    day: Mapped[date] = mapped_column(Date)
    checklist_code: Mapped[str] = mapped_column(String(40))
    items: Mapped[list[Any]] = mapped_column(default=list)  # the checklist as used: dicts with fingerprint
    changed_items: Mapped[list[Any]] = mapped_column(default=list)  # codes new or edited since the last cycle
    recorded_at: Mapped[datetime | None]  # when its findings came in


class AuditFinding(Base):
    __tablename__ = "audit_findings"
    __table_args__ = (UniqueConstraint("slot_id", "item_code", name="uq_audit_findings"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("audit_cycles.id"), index=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("audit_slots.id"), index=True)
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    item_code: Mapped[str] = mapped_column(String(24))
    area: Mapped[str | None] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    standard_code: Mapped[str | None] = mapped_column(String(40))  # the register's document it is against
    action_id: Mapped[int | None] = mapped_column(Integer)
    carried_over: Mapped[bool] = mapped_column(Boolean, default=False)
    carry_over_reason: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime]
