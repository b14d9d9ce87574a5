"""The complaints input format (DESIGN.md §3); the deadline is derived on import."""

from __future__ import annotations

import pandas as pd

from sqms.complaints.models import Complaint
from sqms.complaints.service import advance_after_import, deadlines_for
from sqms.ingest import Context, FieldSpec, ImportSpec
from sqms.kpi_catalog import CHANNELS, SEVERITIES


def _with_deadlines(values: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    first_contact = pd.Timedelta(hours=ctx.settings.complaints.first_contact_hours)
    return values.assign(deadline_at=deadlines_for(values["received_at"], values["severity"], ctx.settings),
                         first_contact_due_at=values["received_at"] + first_contact)


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
    ],
    derive=_with_deadlines,
    after_write=advance_after_import,
)
