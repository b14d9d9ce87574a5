"""Every generated report is kept: period, version, files and their checksum; a held draft waits for
the quality manager's analysis (`ReportHold`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
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


class ReportHold(Base):
    """A report held as a draft (`report.hold_hours`) so that the quality manager can add a written
    analysis before it goes to its list; one per (kind, period). Released at `until` by the scheduled
    flow, or earlier by `sqms report release`."""

    __tablename__ = "report_holds"
    __table_args__ = (UniqueConstraint("kind", "period", name="uq_report_holds_kind_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(16))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))  # the draft (latest version while held)
    also: Mapped[list[Any]] = mapped_column(default=list)  # reports travelling with it (the complaint analysis)
    created_at: Mapped[datetime]
    until: Mapped[datetime]  # UTC: the end of the hold
    commentary: Mapped[str | None] = mapped_column(Text)
    commented_by: Mapped[str | None] = mapped_column(String(100))
    commented_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(100))
    released_report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
