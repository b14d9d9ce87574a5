"""The service-records input format (DESIGN.md §3)."""

from sqms.ingest import FieldSpec, ImportSpec, service_item_field
from sqms.kpi_catalog import CHANNELS
from sqms.monitoring.imports import staff_field
from sqms.records.models import ServiceRecord

SERVICE_RECORDS = ImportSpec(
    kind="service-records",
    label="服务记录 / service records",
    table=ServiceRecord.__table__,
    key="record_id",
    fields=[
        FieldSpec("record_id", "id", required=True),
        FieldSpec("department", "department", required=True),
        FieldSpec("channel", "choice", required=True, choices=CHANNELS),
        FieldSpec("customer_id", "id"),
        FieldSpec("opened_at", "datetime", required=True),
        FieldSpec("first_response_at", "datetime", not_before="opened_at"),
        FieldSpec("resolved_at", "datetime", not_before="opened_at"),
        FieldSpec("first_contact_resolved", "bool"),
        staff_field(),  # optional: who served
    ],
    dynamic_fields=service_item_field,
)
