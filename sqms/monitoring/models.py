"""Staff, inspections (internal, mystery shopper, third party), compliments, service errors, grades."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sqms.db import Base

SOURCES = ("internal", "mystery_shopper", "third_party")
ERROR_CATEGORIES = ("wrong_information", "missed_appointment", "lost_item", "wrong_fee", "rude_conduct", "other")
ERROR_SEVERITIES = ("minor", "major", "critical")
ERROR_ORIGINS = ("direct", "inspection", "complaint")


class Staff(Base):
    """One person of the staff register (front-line staff are graded and inspected)."""

    __tablename__ = "staff"

    staff_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    position: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    front_line: Mapped[bool | None] = mapped_column(Boolean)  # empty = yes
    active_from: Mapped[datetime | None]
    active_to: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]


class Inspection(Base):
    """An inspection or an evaluation by a mystery shopper / third party, scored 0–100 on its template."""

    __tablename__ = "inspections"
    __table_args__ = (Index("ix_inspections_when_dept", "inspected_at", "department"),)

    inspection_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    template: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(20))  # internal | mystery_shopper | third_party
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    staff_id: Mapped[str | None] = mapped_column(String(64), index=True)
    inspector: Mapped[str] = mapped_column(String(254))
    inspected_at: Mapped[datetime]
    score: Mapped[float] = mapped_column(Float)
    red_line_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    action_id: Mapped[int | None] = mapped_column(Integer)  # the corrective action it opened
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(100))
    items: Mapped[list["InspectionItem"]] = relationship(
        back_populates="inspection", cascade="all, delete-orphan", order_by="InspectionItem.id")


class InspectionItem(Base):
    __tablename__ = "inspection_items"
    __table_args__ = (UniqueConstraint("inspection_id", "item", name="uq_inspection_items"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inspection_id: Mapped[str] = mapped_column(ForeignKey("inspections.inspection_id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(64))
    points: Mapped[float | None] = mapped_column(Float)  # awarded; None = not applicable
    note: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[list[Any]] = mapped_column(default=list)  # file names
    inspection: Mapped[Inspection] = relationship(back_populates="items")


class Compliment(Base):
    """A compliment (表扬) from a customer."""

    __tablename__ = "compliments"
    __table_args__ = (Index("ix_compliments_received_dept", "received_at", "department"),)

    compliment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime]
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    staff_id: Mapped[str | None] = mapped_column(String(64), index=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None]


class ServiceError(Base):
    """A service error (服务差错): wrong information, missed appointment, lost item ..."""

    __tablename__ = "service_errors"
    __table_args__ = (Index("ix_service_errors_occurred_dept", "occurred_at", "department"),)

    error_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    occurred_at: Mapped[datetime]
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    staff_id: Mapped[str | None] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(10))
    origin: Mapped[str | None] = mapped_column(String(16))  # direct | inspection | complaint
    source_ref: Mapped[str | None] = mapped_column(String(64))  # the inspection or complaint id
    description: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None]


class StaffGrade(Base):
    """A person's grade for one quarter, with its components (kept: grades are dynamic)."""

    __tablename__ = "staff_grades"
    __table_args__ = (UniqueConstraint("quarter", "staff_id", name="uq_staff_grades"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    quarter: Mapped[str] = mapped_column(String(6), index=True)  # 2026Q3
    staff_id: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    grade: Mapped[str | None] = mapped_column(String(1))
    components: Mapped[dict[str, Any]] = mapped_column(default=dict)
    computed_at: Mapped[datetime]


class InspectionPlanSlot(Base):
    """One planned inspection of a month: who inspects whom (never their own department)."""

    __tablename__ = "inspection_plan"
    __table_args__ = (UniqueConstraint("period", "staff_id", name="uq_inspection_plan"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    department: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[str] = mapped_column(String(64))
    inspector: Mapped[str] = mapped_column(String(254))
    due_on: Mapped[date] = mapped_column(Date)
    template: Mapped[str] = mapped_column(String(64))


class InspectionEvidence(Base):
    """A file showing an inspection item's finding (photo, recording transcript ...): kept under
    `web.evidence_dir` by its SHA-256 (`sqms.evidence`), served only as a download to those who see the
    inspection."""

    __tablename__ = "inspection_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inspection_id: Mapped[str] = mapped_column(ForeignKey("inspections.inspection_id", ondelete="CASCADE"),
                                               index=True)
    item: Mapped[str | None] = mapped_column(String(64))  # the template item it shows; None: the whole visit
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100))
    uploaded_by: Mapped[str] = mapped_column(String(254))
    uploaded_at: Mapped[datetime]
