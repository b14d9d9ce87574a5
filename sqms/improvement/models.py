"""PDCA improvement cycles (持续改进): plan → do → check → act → closed, or back to plan."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sqms.db import Base

PLAN, DO, CHECK, ACT, CLOSED = "plan", "do", "check", "act", "closed"
STATES = (PLAN, DO, CHECK, ACT, CLOSED)


class ImprovementCycle(Base):
    __tablename__ = "improvement_cycles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    kpi: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default=PLAN, index=True)
    iteration: Mapped[int] = mapped_column(Integer, default=1)
    owner: Mapped[str] = mapped_column(String(254))
    opened_period: Mapped[str] = mapped_column(String(7))  # the month whose miss opened it
    reason: Mapped[str] = mapped_column(String(200))  # which rule opened it, in words
    baseline: Mapped[float | None] = mapped_column(Float)  # the KPI when it opened
    target: Mapped[float | None] = mapped_column(Float)
    root_cause: Mapped[str | None] = mapped_column(Text)
    do_ended_period: Mapped[str | None] = mapped_column(String(7))  # the month its actions were all done
    check_period: Mapped[str | None] = mapped_column(String(7))  # the month whose KPI decides
    check_value: Mapped[float | None] = mapped_column(Float)
    check_met: Mapped[bool | None] = mapped_column(Boolean)
    history: Mapped[list[Any]] = mapped_column(default=list)  # earlier iterations: root cause, check result
    standard: Mapped[str | None] = mapped_column(Text)  # act: the standard or procedure changed
    standard_version: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    @property
    def ref(self) -> str:
        return f"PDCA-{self.id:05d}"
