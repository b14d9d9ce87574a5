"""Every generated report is kept: period, version, files and their checksum."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sqms.db import Base


class GeneratedReport(Base):
    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("kind", "period", "version", name="uq_reports_kind_period_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    locale: Mapped[str] = mapped_column(String(8))
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)  # format -> path
    checksum: Mapped[str] = mapped_column(String(64))  # sha256 over the files, in format order
    kpi_computation_id: Mapped[int | None] = mapped_column(ForeignKey("kpi_computations.id"))
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
