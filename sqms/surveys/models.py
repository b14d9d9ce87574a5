"""Survey responses (one row per returned questionnaire) and the campaigns that collect them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sqms.db import Base

# 计划 → 抽样 → 邀请 → 提醒 → 截止 → 分析 → 报告
PLANNED, SAMPLED, INVITED, REMINDED, CLOSED, ANALYSED, REPORTED = (
    "planned", "sampled", "invited", "reminded", "closed", "analysed", "reported")
CAMPAIGN_STATES = (PLANNED, SAMPLED, INVITED, REMINDED, CLOSED, ANALYSED, REPORTED)


class SurveyError(ValueError):
    """Bad input for a survey operation; the message says what to fix."""


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
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_campaigns.id", name="fk_survey_responses_campaign_id"), index=True)


class SurveyCampaign(Base):
    """One survey: who is asked (a reproducible stratified sample), when, and how far it got."""

    __tablename__ = "survey_campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. 2026-Q3, 2026-annual
    kind: Mapped[str] = mapped_column(String(16))  # quarterly | annual | adhoc
    questionnaire: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[date] = mapped_column(Date)  # the service period surveyed (local days)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    status: Mapped[str] = mapped_column(String(16), default=PLANNED, index=True)
    seed: Mapped[int] = mapped_column(Integer)
    sample_total: Mapped[int] = mapped_column(Integer)
    min_per_stratum: Mapped[int] = mapped_column(Integer)
    sampling: Mapped[dict[str, Any]] = mapped_column(default=dict)  # population and sample per stratum
    invited_at: Mapped[datetime | None]
    remind_on: Mapped[date | None] = mapped_column(Date)
    close_on: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None]
    analysis: Mapped[dict[str, Any]] = mapped_column(default=dict)  # key figures kept for the review
    report_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))


class SurveyInvitation(Base):
    __tablename__ = "survey_invitations"
    __table_args__ = (UniqueConstraint("campaign_id", "customer_id", name="uq_survey_invitations"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("survey_campaigns.id"), index=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))  # the stratum
    email: Mapped[str | None] = mapped_column(String(254))
    token_id: Mapped[int | None] = mapped_column(Integer)
    invited_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]
    response_id: Mapped[str | None] = mapped_column(String(64))
