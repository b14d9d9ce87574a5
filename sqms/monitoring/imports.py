"""Input formats of the staff register, compliments and service errors (inspections: `inspections.py`)."""

from __future__ import annotations

from sqlalchemy import select

from sqms.db import get_engine
from sqms.ingest import Context, FieldSpec, ImportSpec
from sqms.kpi_catalog import CHANNELS
from sqms.monitoring.models import (
    ERROR_CATEGORIES,
    ERROR_ORIGINS,
    ERROR_SEVERITIES,
    Compliment,
    ServiceError,
    Staff,
)


def staff_ids(ctx: Context) -> frozenset[str]:
    """Every id of the staff register, read once per import (before it writes anything)."""
    cached = getattr(ctx, "_staff_ids", None)
    if cached is None:
        with get_engine(ctx.settings.database_url).connect() as conn:
            cached = frozenset(conn.scalars(select(Staff.staff_id)))
        ctx._staff_ids = cached  # type: ignore[attr-defined]
    return cached


def staff_field() -> FieldSpec:
    """The optional `staff_id` column of records, complaints, compliments ...: a registered person."""
    return FieldSpec("staff_id", "id", header_optional=True, known=staff_ids)


STAFF = ImportSpec(
    kind="staff",
    label="员工 / staff",
    table=Staff.__table__,
    key="staff_id",
    fields=[
        FieldSpec("staff_id", "id", required=True),
        FieldSpec("name", "text", required=True, max_length=100),
        FieldSpec("department", "department", required=True),
        FieldSpec("position", "text", max_length=100, header_optional=True),
        FieldSpec("email", "email", header_optional=True),
        FieldSpec("front_line", "bool", header_optional=True),
        FieldSpec("active_from", "datetime", header_optional=True),
        FieldSpec("active_to", "datetime", header_optional=True, not_before="active_from"),
    ],
)

COMPLIMENTS = ImportSpec(
    kind="compliments",
    label="表扬 / compliments",
    table=Compliment.__table__,
    key="compliment_id",
    fields=[
        FieldSpec("compliment_id", "id", required=True),
        FieldSpec("received_at", "datetime", required=True),
        FieldSpec("department", "department", required=True),
        staff_field(),
        FieldSpec("channel", "choice", choices=CHANNELS, header_optional=True),
        FieldSpec("customer_id", "id", header_optional=True),
        FieldSpec("description", "text", header_optional=True),
    ],
)

SERVICE_ERRORS = ImportSpec(
    kind="service-errors",
    label="服务差错 / service errors",
    table=ServiceError.__table__,
    key="error_id",
    fields=[
        FieldSpec("error_id", "id", required=True),
        FieldSpec("occurred_at", "datetime", required=True),
        FieldSpec("department", "department", required=True),
        staff_field(),
        FieldSpec("category", "choice", required=True, choices=ERROR_CATEGORIES),
        FieldSpec("severity", "choice", required=True, choices=ERROR_SEVERITIES),
        FieldSpec("origin", "choice", choices=ERROR_ORIGINS, header_optional=True),
        FieldSpec("source_ref", "id", header_optional=True),
        FieldSpec("description", "text", header_optional=True),
    ],
)
