"""The monthly quality-analysis meeting (月度质量分析会): its day, participants, agenda and minutes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sqms.db import Base

# 已安排（邀请已发）→ 纪要已记录
SCHEDULED, MINUTED = "scheduled", "minuted"
MEETING_STATES = (SCHEDULED, MINUTED)


class QualityMeeting(Base):
    __tablename__ = "quality_meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7), unique=True)  # the month whose report it analyses
    status: Mapped[str] = mapped_column(String(16), default=SCHEDULED, index=True)
    meeting_on: Mapped[date] = mapped_column(Date)
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # the invitation's SEQUENCE: +1 per reschedule
    participants: Mapped[list[Any]] = mapped_column(default=list)  # emails of those invited
    attendees: Mapped[list[Any] | None] = mapped_column(default=None)  # emails present; None: not recorded
    agenda: Mapped[list[Any]] = mapped_column(default=list)  # the items as sent with the invitation
    notes: Mapped[list[Any]] = mapped_column(default=list)  # per agenda item: discussion and decision
    report_id: Mapped[int | None] = mapped_column(Integer)  # the monthly report analysed
    minutes_report_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    minuted_at: Mapped[datetime | None]

    @property
    def ref(self) -> str:
        return f"QM-{self.period}"
