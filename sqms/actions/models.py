"""Corrective and preventive actions (CAPA): the one place every process puts a problem to fix."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sqms.db import Base

SOURCES = ("complaint", "audit_finding", "review_decision", "improvement_cycle", "kpi_miss", "survey", "quality_meeting",
           "suggestion", "manual", "inspection")
TYPES = ("immediate", "corrective", "preventive", "improvement")
OPEN, IN_PROGRESS, DONE, VERIFIED = "open", "in_progress", "done", "verified"
STATES = (OPEN, IN_PROGRESS, DONE, VERIFIED)
ACTION_STATE_LABELS: dict[str, tuple[str, str]] = {  # zh_CN, en
    OPEN: ("待实施", "open"), IN_PROGRESS: ("实施中", "in progress"),
    DONE: ("已完成待验证", "done, to be verified"), VERIFIED: ("已验证关闭", "verified"),
}


class Action(Base):
    __tablename__ = "actions"
    # one action per origin when the origin says so (e.g. a repeated complaint category in a month)
    __table_args__ = (UniqueConstraint("source", "source_ref", name="uq_actions_source_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(24))
    source_ref: Mapped[str | None] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    problem: Mapped[str] = mapped_column(Text, default="")
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    owner: Mapped[str] = mapped_column(String(254), index=True)
    due_on: Mapped[date] = mapped_column(Date)  # the end of this local day
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)
    whys: Mapped[list[Any]] = mapped_column(default=list)  # 5-why: each answer to "why?"
    root_cause: Mapped[str | None] = mapped_column(Text)
    measures: Mapped[str | None] = mapped_column(Text)  # what was done
    done_at: Mapped[datetime | None]
    verification_due_on: Mapped[date | None] = mapped_column(Date)
    verifier: Mapped[str | None] = mapped_column(String(254))
    verified_at: Mapped[datetime | None]
    verification_comment: Mapped[str | None] = mapped_column(Text)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime | None]

    links: Mapped[list["ActionLink"]] = relationship(back_populates="action", cascade="all, delete-orphan",
                                                     order_by="ActionLink.id")

    @property
    def ref(self) -> str:
        return f"CAPA-{self.id:05d}"


class ActionLink(Base):
    """What an action is about: complaints, audit findings, review decisions, ..."""

    __tablename__ = "action_links"
    __table_args__ = (UniqueConstraint("action_id", "entity", "entity_id", name="uq_action_links"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(120))

    action: Mapped[Action] = relationship(back_populates="links")


class ActionEvidence(Base):
    """A file showing what was done: stored under `web.evidence_dir` by its SHA-256, never served raw."""

    __tablename__ = "action_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))  # as uploaded (shown, and offered on download)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100))
    uploaded_by: Mapped[str] = mapped_column(String(254))
    uploaded_at: Mapped[datetime]
