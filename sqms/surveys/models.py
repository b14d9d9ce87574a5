"""Survey responses (one row per returned questionnaire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sqms.db import Base


class SurveyResponse(Base):
    __tablename__ = "survey_responses"
    __table_args__ = (Index("ix_survey_responses_submitted_dept", "submitted_at", "department"),)

    response_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    submitted_at: Mapped[datetime]
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    nps: Mapped[int | None] = mapped_column(Integer)
    csat: Mapped[float | None] = mapped_column(Float)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)  # item code -> score
    comment: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None]
