"""Every table, imported once so that `Base.metadata` (and Alembic) see them all."""

from sqms.actions.models import Action, ActionEvidence, ActionLink
from sqms.audit_trail import AuditEntry, ImportRun
from sqms.audits.models import AuditCycle, AuditFinding, AuditSlot
from sqms.auth.models import SignInAttempt
from sqms.complaints.models import Complaint
from sqms.improvement.models import ImprovementCycle
from sqms.locks import ProcessLock
from sqms.meetings.models import QualityMeeting
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
from sqms.standards.models import StandardDocument, StandardReview, StandardVersion, TrainingRequirement
from sqms.suggestions.models import Suggestion
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
    "QualityMeeting",
    "ReminderSent",
    "ReviewOutput",
    "ServiceError",
    "ServiceRecord",
    "StandardDocument",
    "StandardReview",
    "StandardVersion",
    "Suggestion",
    "SignInAttempt",
    "Staff",
    "StaffGrade",
    "SurveyCampaign",
    "SurveyInvitation",
    "SurveyResponse",
    "TrainingRequirement",
]


def _stamp_update(_mapper, _connection, target) -> None:  # noqa: ANN001
    # an ORM change of an importable row moves its updated_at: the importer's "unchanged since the
    # last import of this file" shortcut relies on it (sqms.ingest._unchanged_since_last_import)
    from sqms.calendar import utcnow

    target.updated_at = utcnow()


def _listen() -> None:
    from sqlalchemy import event

    for model in (ServiceRecord, Complaint, SurveyResponse, Customer):
        if not event.contains(model, "before_update", _stamp_update):
            event.listen(model, "before_update", _stamp_update)


_listen()
