"""Return visits (回访) made by phone or on site, imported from a file the customer-service team keeps.

Columns: `complaint_id, visited_at, score` (1–5), optional `comment` and `channel`
(phone, onsite, email; default phone). The whole file is checked first; a row naming an
unknown complaint, or one not yet resolved, rejects the file with `row N, column C: why`.
A visit already recorded is left alone, so importing the same file twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqms.calendar import UTC
from sqms.complaints.models import RESOLVED, Complaint
from sqms.complaints.service import Step, advance
from sqms.config import Settings
from sqms.db import UnitOfWork
from sqms.ingest import FieldSpec, ImportValidationError, RowError, read_validated

FIELDS = [
    FieldSpec("complaint_id", "id", required=True),
    FieldSpec("visited_at", "datetime", required=True),
    FieldSpec("score", "number", required=True, low=1, high=5, integer=True),
    FieldSpec("comment", "text", header_optional=True),
    FieldSpec("channel", "choice", header_optional=True, choices=("phone", "onsite", "email")),
]


@dataclass
class VisitImport:
    rows: int = 0
    recorded: int = 0
    reopened: int = 0
    unchanged: int = 0

    def summary(self) -> str:
        return (f"return visits: {self.rows} rows read, {self.recorded} recorded ({self.reopened} reopened), "
                f"{self.unchanged} already recorded")


def import_visits(settings: Settings, path: str | Path, actor: str) -> VisitImport:
    values, errors = read_validated(settings, path, FIELDS)
    result = VisitImport(rows=len(values))
    bad_rows = {e.row for e in errors}
    with UnitOfWork(settings.database_url, actor=actor) as uow:
        plan = []
        for row in values.to_dict("records"):
            if row["__row__"] in bad_rows:
                continue
            complaint = uow.session.get(Complaint, row["complaint_id"])
            visited = row["visited_at"].to_pydatetime().replace(tzinfo=UTC)
            if complaint is None:
                errors.append(RowError(row["__row__"], "complaint_id", f"unknown complaint {row['complaint_id']!r}"))
            elif complaint.return_visit_at == visited and complaint.feedback_score == int(row["score"]):
                result.unchanged += 1
            elif complaint.status != RESOLVED:
                errors.append(RowError(row["__row__"], "complaint_id",
                                       f"{row['complaint_id']} is {complaint.status}; a return visit follows "
                                       "the resolution"))
            else:
                plan.append((complaint, row, visited))
        if errors:
            raise ImportValidationError(path, sorted(errors), result.rows)
        for complaint, row, visited in plan:
            made = advance(uow.session, settings, complaint, "return_visit", Step(
                score=int(row["score"]), feedback_comment=_text(row.get("comment")),
                feedback_channel=_text(row.get("channel")) or "phone"), comment=f"import {Path(path).name}", at=visited)
            result.recorded += 1
            result.reopened += int("reopen" in made)
        uow.commit()
    return result


def _text(value) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
