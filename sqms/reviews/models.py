"""The annual management review (管理评审): the meeting, the departments' reports, its outputs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sqms.db import Base

# 计划 → 征集部门报告 → 输入材料已发 → 会议已开/输出已记录 → 报告已发
PLANNED, REQUESTED, PACK_SENT, OUTPUTS_RECORDED, REPORTED = (
    "planned", "requested", "pack_sent", "outputs_recorded", "reported")
REVIEW_STATES = (PLANNED, REQUESTED, PACK_SENT, OUTPUTS_RECORDED, REPORTED)
OUTPUT_KINDS = ("decision", "improvement", "resource", "objective_change")


class ManagementReview(Base):
    __tablename__ = "management_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)  # the year reviewed
    status: Mapped[str] = mapped_column(String(20), default=PLANNED, index=True)
    meeting_on: Mapped[date] = mapped_column(Date)
    reports_due_on: Mapped[date] = mapped_column(Date)
    participants: Mapped[list[Any]] = mapped_column(default=list)  # emails of those invited
    attendees: Mapped[list[Any] | None] = mapped_column(default=None)  # emails present; None: not recorded
    pack_report_id: Mapped[int | None] = mapped_column(Integer)
    report_id: Mapped[int | None] = mapped_column(Integer)
    minutes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))

    @property
    def code(self) -> str:
        return f"{self.year}-review"


class DepartmentReport(Base):
    __tablename__ = "review_department_reports"
    __table_args__ = (UniqueConstraint("review_id", "department", name="uq_review_department_reports"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("management_reviews.id"), index=True)
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    text: Mapped[str | None] = mapped_column(Text)
    file_path: Mapped[str | None] = mapped_column(String(500))  # kept under reports_dir
    submitted_by: Mapped[str] = mapped_column(String(100))
    submitted_at: Mapped[datetime]


class ReviewOutput(Base):
    __tablename__ = "review_outputs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("management_reviews.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # decision | improvement | resource | objective_change
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(254))
    due_on: Mapped[date | None] = mapped_column(Date)
    action_id: Mapped[int | None] = mapped_column(Integer)
    kpi: Mapped[str | None] = mapped_column(String(40))  # objective_change: which target
    department: Mapped[str | None] = mapped_column(String(16))  # None = organisation-wide
    old_target: Mapped[float | None] = mapped_column(Float)
    new_target: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime]
