"""Service records and the KPI snapshots computed from them each month."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sqms.db import Base


class ServiceRecord(Base):
    __tablename__ = "service_records"
    __table_args__ = (Index("ix_service_records_opened_dept", "opened_at", "department"),)

    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    channel: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    opened_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    first_contact_resolved: Mapped[bool | None] = mapped_column(Boolean)
    staff_id: Mapped[str | None] = mapped_column(String(64), index=True)  # who served (staff register)
    service_item: Mapped[str | None] = mapped_column(String(32))  # code of config service_items (optional)
    updated_at: Mapped[datetime | None]


class KpiComputation(Base):
    """One computation of a month's KPIs, kept with the counts of what it read."""

    __tablename__ = "kpi_computations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    as_of: Mapped[datetime]
    computed_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    input_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    values: Mapped[list["KpiValue"]] = relationship(
        back_populates="computation", cascade="all, delete-orphan", order_by="KpiValue.id"
    )


class KpiValue(Base):
    __tablename__ = "kpi_values"
    __table_args__ = (Index("ix_kpi_values_computation_kpi", "computation_id", "kpi", "department"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    computation_id: Mapped[int] = mapped_column(ForeignKey("kpi_computations.id", ondelete="CASCADE"))
    kpi: Mapped[str] = mapped_column(String(40))
    department: Mapped[str | None] = mapped_column(String(16))  # None: the whole organisation
    value: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10))
    n: Mapped[int] = mapped_column(Integer)
    low_confidence: Mapped[bool] = mapped_column(Boolean)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # e.g. confidence interval
    computation: Mapped[KpiComputation] = relationship(back_populates="values")


class KpiTarget(Base):
    """A target decided for one year (by the management review), over the configuration's default.

    `scope` is a department code, or `*` for the organisation-wide target."""

    __tablename__ = "kpi_targets"
    __table_args__ = (UniqueConstraint("year", "kpi", "scope", name="uq_kpi_targets"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    kpi: Mapped[str] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(16))
    target: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(120))  # e.g. management review 2025-review
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime]
