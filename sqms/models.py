"""Every table, imported once so that `Base.metadata` (and Alembic) see them all."""

from sqms.actions.models import Action, ActionEvidence, ActionLink
from sqms.audit_trail import AuditEntry, ImportRun
from sqms.audits.models import AuditCycle, AuditFinding, AuditSlot
from sqms.auth.models import SignInAttempt
from sqms.complaints.models import Complaint
from sqms.improvement.models import ImprovementCycle
from sqms.locks import ProcessLock
from sqms.monitoring.models import (
    Compliment,
    Inspection,
    InspectionItem,
    InspectionPlanSlot,
    ServiceError,
    Staff,
    StaffGrade,
)
from sqms.notify.models import OutboxMessage
from sqms.org.models import Customer, Department, Person
from sqms.records.models import KpiComputation, KpiTarget, KpiValue, ServiceRecord
from sqms.reminders.models import ReminderSent
from sqms.reporting.models import GeneratedReport
from sqms.reviews.models import DepartmentReport, ManagementReview, ReviewOutput
from sqms.surveys.models import SurveyCampaign, SurveyInvitation, SurveyResponse
from sqms.tokens import AccessToken

__all__ = [
    "AccessToken",
    "Action",
    "ActionEvidence",
    "ActionLink",
    "AuditCycle",
    "AuditEntry",
    "AuditFinding",
    "AuditSlot",
    "Complaint",
    "Compliment",
    "Customer",
    "Department",
    "DepartmentReport",
    "GeneratedReport",
    "ImportRun",
    "ImprovementCycle",
    "Inspection",
    "InspectionItem",
    "InspectionPlanSlot",
    "KpiComputation",
    "KpiTarget",
    "KpiValue",
    "ManagementReview",
    "OutboxMessage",
    "Person",
    "ProcessLock",
    "ReminderSent",
    "ReviewOutput",
    "ServiceError",
    "ServiceRecord",
    "SignInAttempt",
    "Staff",
    "StaffGrade",
    "SurveyCampaign",
    "SurveyInvitation",
    "SurveyResponse",
]
