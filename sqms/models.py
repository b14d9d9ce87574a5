"""Every table, imported once so that `Base.metadata` (and Alembic) see them all."""

from sqms.actions.models import Action, ActionEvidence, ActionLink
from sqms.audit_trail import AuditEntry, ImportRun
from sqms.auth.models import SignInAttempt
from sqms.audits.models import AuditCycle, AuditFinding, AuditSlot
from sqms.complaints.models import Complaint
from sqms.improvement.models import ImprovementCycle
from sqms.locks import ProcessLock
from sqms.meetings.models import QualityMeeting
from sqms.notify.models import OutboxMessage
from sqms.org.models import Customer, Department, Person
from sqms.records.models import KpiComputation, KpiTarget, KpiValue, ServiceRecord
from sqms.reminders.models import ReminderSent
from sqms.reviews.models import DepartmentReport, ManagementReview, ReviewOutput
from sqms.reporting.models import GeneratedReport
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
    "AuditFinding",
    "AuditSlot",
    "AuditEntry",
    "Complaint",
    "Customer",
    "DepartmentReport",
    "Department",
    "GeneratedReport",
    "ImportRun",
    "ImprovementCycle",
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
    "SignInAttempt",
    "ServiceRecord",
    "StandardDocument",
    "StandardReview",
    "StandardVersion",
    "Suggestion",
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
