"""The complaints input format (DESIGN.md §3); the deadline is derived on import.

A file only knows three steps of a complaint's life (received, first contact, resolved). What SQMS
itself did with a complaint wins over an older export: a step taken in SQMS is never undone by an
import, and a timestamp recorded in SQMS is kept when the file says otherwise (a conflict, audited).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Connection, func, select

from sqms.audit_trail import AuditEntry
from sqms.complaints.models import Complaint
from sqms.complaints.service import ACTIONS, advance_after_import, deadlines_for
from sqms.ingest import (
    LOOKUP_BATCH,
    Conflict,
    Context,
    FieldSpec,
    ImportSpec,
    service_item_field,
)
from sqms.kpi_catalog import CHANNELS, SEVERITIES
from sqms.monitoring.imports import staff_field

LIFECYCLE_COLUMNS = ("responded_at", "resolved_at")  # the steps a file can tell


def _with_deadlines(values: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    first_contact = pd.Timedelta(hours=ctx.settings.complaints.first_contact_hours)
    return values.assign(deadline_at=deadlines_for(values["received_at"], values["severity"], ctx.settings),
                         first_contact_due_at=values["received_at"] + first_contact)


def _timestamps(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True).dt.tz_localize(None).astype("datetime64[us]")


def _handled_in_sqms(conn: Connection, ids: list[str]) -> dict[str, Any]:
    """Complaint id -> time of its last reopen (or None) for those moved along their lifecycle in SQMS."""
    audit = AuditEntry.__table__
    steps = [f"transition:{name}" for name in ACTIONS]  # what the service records (an import records states)
    handled: dict[str, Any] = {}
    for start in range(0, len(ids), LOOKUP_BATCH):
        batch = ids[start:start + LOOKUP_BATCH]
        rows = conn.execute(select(audit.c.entity_id, func.max(audit.c.at).filter(
            audit.c.action == "transition:reopen")).where(
            audit.c.entity == "complaint", audit.c.entity_id.in_(batch), audit.c.action.in_(steps))
            .group_by(audit.c.entity_id))
        handled.update({ident: reopened for ident, reopened in rows})
    return handled


def import_conflicts(conn: Connection, stored: pd.DataFrame, incoming: pd.DataFrame) -> list[Conflict]:
    """The file's lifecycle timestamps that would move a complaint backwards or overwrite SQMS's own.

    - an empty cell where a time is known: the export is older (never applied; reported);
    - a different time for a complaint handled in SQMS: SQMS's is kept;
    - a resolution older than the complaint's reopening in SQMS: it stays reopened.
    """
    regress, differ, stale = {}, {}, {}
    for column in LIFECYCLE_COLUMNS:
        if column not in incoming:
            continue
        old, new = _timestamps(stored[column]), incoming[column].astype("datetime64[us]")
        regress[column] = (old.notna() & new.isna()).to_numpy()
        differ[column] = (old.notna() & new.notna() & (old != new)).to_numpy()
        stale[column] = (old.isna() & new.notna()).to_numpy() if column == "resolved_at" else None
    if not regress:
        return []
    candidates = sorted({incoming["complaint_id"].iat[i] for column in differ
                         for mask in (differ[column], stale[column]) if mask is not None
                         for i in mask.nonzero()[0]})
    handled = _handled_in_sqms(conn, candidates) if candidates else {}
    conflicts = []
    for column in regress:
        touched = regress[column] | differ[column] | (stale[column] if stale[column] is not None else False)
        for i in touched.nonzero()[0]:
            ident = incoming["complaint_id"].iat[i]
            old, new = stored[column].iat[i], incoming[column].iat[i]
            if regress[column][i]:
                reason = "the file has no such step: an older export does not move a complaint back"
            elif differ[column][i] and ident in handled:
                reason = "recorded in SQMS"
            elif stale[column] is not None and stale[column][i] and handled.get(ident) is not None and \
                    pd.Timestamp(new) <= _timestamps(pd.Series([handled[ident]])).iat[0]:
                reason = "reopened in SQMS after this resolution"
            else:
                continue
            conflicts.append(Conflict("complaint", ident, column, _python(old), _python(new), reason))
    return conflicts


def _python(value: Any) -> Any:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_localize("UTC").to_pydatetime() if pd.Timestamp(value).tzinfo is None \
        else pd.Timestamp(value).tz_convert("UTC").to_pydatetime()


COMPLAINTS = ImportSpec(
    kind="complaints",
    label="投诉 / complaints",
    table=Complaint.__table__,
    key="complaint_id",
    fields=[
        FieldSpec("complaint_id", "id", required=True),
        FieldSpec("received_at", "datetime", required=True),
        FieldSpec("department", "department", required=True),
        FieldSpec("channel", "choice", required=True, choices=CHANNELS),
        FieldSpec("severity", "choice", required=True, choices=SEVERITIES),
        FieldSpec("category", "text", required=True, max_length=64),
        FieldSpec("customer_id", "id"),
        FieldSpec("responded_at", "datetime", not_before="received_at"),
        FieldSpec("resolved_at", "datetime", not_before="received_at"),
        FieldSpec("description", "text"),
        staff_field(),  # optional: the person complained about
    ],
    dynamic_fields=service_item_field,
    derive=_with_deadlines,
    after_write=advance_after_import,
    conflicts=import_conflicts,
)
