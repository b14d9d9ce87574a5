"""The customers input format (DESIGN.md §3)."""

from sqms.ingest import FieldSpec, ImportSpec
from sqms.org.models import Customer

CUSTOMERS = ImportSpec(
    kind="customers",
    label="客户 / customers",
    table=Customer.__table__,
    key="customer_id",
    fields=[
        FieldSpec("customer_id", "id", required=True),
        FieldSpec("name", "text", max_length=200),
        FieldSpec("email", "email"),
        FieldSpec("phone", "text", max_length=40),
        FieldSpec("department", "department"),
    ],
)
