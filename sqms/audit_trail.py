"""The audit trail: who changed what, when, with the values before and after.

Every service that changes a record calls `record_change`; bulk imports write one
entry for the import itself (file, checksum, counts) plus one per updated row.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from sqms.calendar import utcnow
from sqms.db import Base


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(120))
    before: Mapped[dict[str, Any] | None] = mapped_column()
    after: Mapped[dict[str, Any] | None] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)


class ImportRun(Base):
    """One import of one file, whatever its outcome."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    actor: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rejects_file: Mapped[str | None] = mapped_column(String(500))
    # ok | partial (--skip-invalid left rows out) | rejected (invalid file, nothing written) | failed
    error_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    errors: Mapped[list[Any] | None] = mapped_column()  # the first errors (text), as the user saw them


def jsonable(value: Any) -> Any:
    """Values as the audit log stores them (ISO strings for dates)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def record_change(
    session: Session,
    *,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    comment: str | None = None,
    actor: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=utcnow(),
        actor=actor or session.info.get("actor", "unknown"),
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
        comment=comment,
    )
    session.add(entry)
    return entry


def history(session: Session, entity: str, entity_id: Any) -> list[AuditEntry]:
    """Every entry of one record, oldest first."""
    from sqlalchemy import select

    return list(session.scalars(select(AuditEntry).where(AuditEntry.entity == entity,
                                                         AuditEntry.entity_id == str(entity_id))
                                .order_by(AuditEntry.at, AuditEntry.id)))


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}
