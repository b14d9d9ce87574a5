"""`sqms import inspections FILE`: one row per item of an inspection (or of a mystery-shopper / third-party
evaluation, adapted with a mapping, e.g. `defaults: {source: mystery_shopper}`), validated whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from sqms.audit_trail import ImportRun
from sqms.calendar import utcnow
from sqms.config import Settings
from sqms.db import UnitOfWork
from sqms.ingest import (
    FieldSpec,
    ImportValidationError,
    Mapping,
    RowError,
    file_sha256,
    load_mapping,
    read_validated,
)
from sqms.monitoring.imports import staff_field
from sqms.monitoring.models import SOURCES, Staff
from sqms.monitoring.service import (
    InspectionError,
    ItemResult,
    NewInspection,
    parse_result,
    record_inspection,
)
from sqms.monitoring.templates import load_templates

FIELDS = [
    FieldSpec("inspection_id", "id", required=True),
    FieldSpec("template", "id", required=True),
    FieldSpec("source", "choice", choices=SOURCES, header_optional=True),
    FieldSpec("department", "department", required=True),
    staff_field(),
    FieldSpec("inspector", "text", required=True, max_length=254),
    FieldSpec("inspected_at", "datetime", required=True),
    FieldSpec("item", "id", required=True),
    FieldSpec("result", "text", required=True, max_length=20),
    FieldSpec("note", "text", header_optional=True),
    FieldSpec("evidence", "text", header_optional=True, max_length=2000),  # file names, `;` between
]
SHARED = ("template", "source", "department", "staff_id", "inspector", "inspected_at")  # same on every row


@dataclass
class InspectionImport:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    actions: list[int] = field(default_factory=list)

    def summary(self) -> str:
        return (f"inspections: {self.rows} rows read, {self.inserted} inserted, {self.updated} updated, "
                f"{self.unchanged} unchanged, {len(self.actions)} corrective action(s) opened")


def _text(value) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def import_inspections(settings: Settings, path: str | Path, *, mapping: Mapping | str | Path | None = None,
                       actor: str | None = None) -> InspectionImport:
    """Validate the whole file (every error as `row N, column C: reason`), then record each inspection."""
    path = Path(path)
    if isinstance(mapping, (str, Path)):
        mapping = load_mapping(mapping)
    templates = load_templates(settings)
    values, errors = read_validated(settings, path, FIELDS, mapping)
    if "source" not in values:
        values["source"] = None
    if "note" not in values:
        values["note"] = None
    if "evidence" not in values:
        values["evidence"] = None
    errors = list(errors)
    bad_rows = {e.row for e in errors}
    inspections: list[tuple[int, NewInspection]] = []
    for ident, group in values.groupby("inspection_id", sort=False, dropna=True):
        first = group.iloc[0]
        row_of = int(first["__row__"])
        for column in SHARED:
            if column in group and group[column].astype(str).nunique(dropna=False) > 1:
                for _, other in group.iterrows():
                    if str(other[column]) != str(first[column]):
                        errors.append(RowError(int(other["__row__"]), column, f"differs from row {row_of} of "
                                                                               f"inspection {ident}"))
        template = templates.get(first["template"]) if first["template"] is not None else None
        if first["template"] is not None and template is None:
            errors.append(RowError(row_of, "template", f"unknown template {first['template']!r} "
                                                       f"(known: {', '.join(sorted(templates))})"))
        items: list[ItemResult] = []
        seen: dict[str, int] = {}
        for _, line in group.iterrows():
            row = int(line["__row__"])
            if row in bad_rows or template is None:
                continue
            item = template.item(line["item"])
            if item is None:
                errors.append(RowError(row, "item", f"{line['item']!r} is not an item of {template.code}"))
                continue
            if line["item"] in seen:
                errors.append(RowError(row, "item", f"{line['item']!r} is already on row {seen[line['item']]}"))
                continue
            seen[line["item"]] = row
            try:
                points = parse_result(line["result"], item.points)
            except InspectionError as exc:
                errors.append(RowError(row, "result", str(exc)))
                continue
            evidence = [e.strip() for e in (_text(line["evidence"]) or "").split(";") if e.strip()]
            if item.evidence_required and points is not None and points < item.points and not evidence:
                errors.append(RowError(row, "evidence", f"{item.code} failed: evidence is required"))
                continue
            items.append(ItemResult(line["item"], points, _text(line["note"]), evidence))
        if template is not None and items and not any(i.points is not None for i in items):
            errors.append(RowError(row_of, "result", f"inspection {ident}: no applicable item"))
        inspections.append((row_of, NewInspection(
            inspection_id=ident, template=first["template"], source=first["source"] or "internal",
            department=first["department"], staff_id=_text(first["staff_id"]) if "staff_id" in group else None,
            inspector=first["inspector"], inspected_at=pd.Timestamp(first["inspected_at"]).tz_localize("UTC").to_pydatetime(),
            items=items, note=None)))
    if errors:
        raise ImportValidationError(path, sorted(set(errors)), len(values))
    outcome = InspectionImport(rows=len(values))
    started = utcnow()
    with UnitOfWork(settings.database_url, actor) as uow:
        known = set(uow.session.scalars(select(Staff.staff_id)))
        for _, new in inspections:
            if new.staff_id is not None and new.staff_id not in known:  # removed meanwhile
                raise ImportValidationError(path, [RowError(_, "staff_id", f"unknown staff_id {new.staff_id!r}")],
                                            len(values))
            row, what = record_inspection(uow.session, settings, new, templates=templates, actor=uow.actor)
            setattr(outcome, what, getattr(outcome, what) + 1)
            if what != "unchanged" and row.action_id is not None and row.action_id not in outcome.actions:
                outcome.actions.append(row.action_id)
        uow.session.add(ImportRun(
            kind="inspections", filename=str(path), sha256=file_sha256(path), started_at=started,
            finished_at=utcnow(), actor=uow.actor, status="ok",
            counts={"rows": outcome.rows, "inserted": outcome.inserted, "updated": outcome.updated,
                    "unchanged": outcome.unchanged, "rejected": 0}, error_count=0, errors=[]))
        uow.commit()
    return outcome
