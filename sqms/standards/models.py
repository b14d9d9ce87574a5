"""The standards and SOP register (制度/流程/规范/SOP): documents, their versions, reviews, trainings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint, event, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sqms.db import Base

# 草稿 → 审核中 → 已批准 → 已发布 → 已替代 / 已废止
DRAFT, IN_REVIEW, APPROVED, PUBLISHED, SUPERSEDED, WITHDRAWN = (
    "draft", "in_review", "approved", "published", "superseded", "withdrawn")
VERSION_STATES = (DRAFT, IN_REVIEW, APPROVED, PUBLISHED, SUPERSEDED, WITHDRAWN)
FROZEN_STATES = (PUBLISHED, SUPERSEDED, WITHDRAWN)  # what was published never changes
VERSION_STATE_LABELS = {DRAFT: ("草稿", "draft"), IN_REVIEW: ("审批中", "in review"), APPROVED: ("已批准", "approved"),
                        PUBLISHED: ("现行有效", "published"), SUPERSEDED: ("已替代", "superseded"),
                        WITHDRAWN: ("已废止", "withdrawn")}
KINDS = ("policy", "procedure", "standard", "sop")
KIND_LABELS = {"policy": ("制度", "policy"), "procedure": ("流程", "procedure"), "standard": ("标准", "standard"),
               "sop": ("作业规范", "SOP")}


class StandardDocument(Base):
    __tablename__ = "standard_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. SOP-CS-02
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))  # the owning department
    departments: Mapped[list[Any]] = mapped_column(default=list)  # whose people run it (trained on it)
    roles: Mapped[list[Any]] = mapped_column(default=list)  # only people with these roles; empty: everyone
    owner: Mapped[str] = mapped_column(String(254))
    next_review_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))

    versions: Mapped[list["StandardVersion"]] = relationship(back_populates="document", order_by="StandardVersion.id")


class StandardVersion(Base):
    __tablename__ = "standard_versions"
    __table_args__ = (UniqueConstraint("document_id", "version", name="uq_standard_versions"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("standard_documents.id"), index=True)
    version: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16), default=DRAFT, index=True)
    change_summary: Mapped[str] = mapped_column(Text, default="")
    file_path: Mapped[str | None] = mapped_column(String(500))  # kept under reports_dir/standards/
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    effective_on: Mapped[date | None] = mapped_column(Date)
    approvals: Mapped[list[Any]] = mapped_column(default=list)  # [{by, at, comment}] in the order given
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))

    document: Mapped[StandardDocument] = relationship(back_populates="versions")

    @property
    def ref(self) -> str:
        return f"{self.document.code} {self.version}"


_IMMUTABLE = ("version", "change_summary", "file_path", "file_sha256", "effective_on", "approvals", "document_id")


@event.listens_for(StandardVersion, "before_update")
def _published_is_immutable(mapper, connection, target: StandardVersion) -> None:
    """A published version is what people were trained on: its content never changes, whoever tries."""
    state = inspect(target)
    was = state.attrs.status.history
    before = (was.deleted or was.unchanged or [target.status])[0]
    if before in FROZEN_STATES:
        changed = [name for name in _IMMUTABLE if state.attrs[name].history.has_changes()]
        if changed:
            raise ValueError(f"{target.document.code} {target.version} is {before}: {', '.join(changed)} cannot "
                             "change (make a new version)")


class StandardReview(Base):
    """A periodic review of a document: 'reviewed, no change' extends its review date."""

    __tablename__ = "standard_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("standard_documents.id"), index=True)
    version_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))  # no_change | revise
    reviewed_by: Mapped[str] = mapped_column(String(254))
    comment: Mapped[str] = mapped_column(Text, default="")
    previous_review_on: Mapped[date | None] = mapped_column(Date)
    next_review_on: Mapped[date | None] = mapped_column(Date)
    reviewed_at: Mapped[datetime]


class TrainingRequirement(Base):
    """One person to be trained on (or to read and acknowledge) one published version."""

    __tablename__ = "training_requirements"
    __table_args__ = (UniqueConstraint("version_id", "person", name="uq_training_requirements"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("standard_versions.id"), index=True)
    person: Mapped[str] = mapped_column(String(254), index=True)
    department: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))  # acknowledge | trained
    due_on: Mapped[date] = mapped_column(Date)
    completed_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(String(100))  # trained: passed / score / certificate
    trainer: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime]

    version: Mapped[StandardVersion] = relationship()
