"""Every table, imported once so that `Base.metadata` (and Alembic) see them all."""

from sqms.audit_trail import AuditEntry, ImportRun
from sqms.complaints.models import Complaint
from sqms.notify.models import OutboxMessage
from sqms.org.models import Customer, Department, Person
from sqms.records.models import KpiComputation, KpiValue, ServiceRecord
from sqms.reporting.models import GeneratedReport
from sqms.surveys.models import SurveyResponse

__all__ = [
    "AuditEntry",
    "Complaint",
    "Customer",
    "Department",
    "GeneratedReport",
    "ImportRun",
    "KpiComputation",
    "KpiValue",
    "OutboxMessage",
    "Person",
    "ServiceRecord",
    "SurveyResponse",
]
