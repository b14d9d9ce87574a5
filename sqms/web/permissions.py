"""Who may see and do what in the staff workspace: the one place that decides it.

Roles come from `people:` in config. Out of scope is always 403 (never 404 for an item that
exists), and the attempt is logged. Routes declare their rule with `allow(rule, loader)`:
the dependency loads the object (404 when there is none), checks the rule for the signed-in
person and returns the object.
"""


# no `from __future__ import annotations`: FastAPI reads the dependency's annotations, which
# name the closure's `loader`
import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from sqms.config import Person, Settings
from sqms.web.workspace import Cfg, Forbidden, Me

log = logging.getLogger("sqms.web.access")

Rule = Callable[[Person, Any, Settings, dict[str, Any]], bool]


def has(person: Person, role: str) -> bool:
    return role in person.roles


def manages(person: Person, department: str | None) -> bool:
    return has(person, "department_manager") and person.department == department


def reads_everything(person: Person) -> bool:
    return has(person, "quality_manager") or has(person, "general_manager")


def at_counter(person: Person, department: str | None) -> bool:
    """Front-line staff (一线员工 / 窗口人员) of the department: they register the complaints received
    at its counter and read that department's complaints; nothing else."""
    return has(person, "frontline_staff") and person.department == department


# -- complaints -------------------------------------------------------------------------------------


def complaint_view(person: Person, complaint: Any, settings: Settings, params: dict[str, Any]) -> bool:
    from sqms.complaints.service import owner_of

    return (reads_everything(person) or manages(person, complaint.department)
            or at_counter(person, complaint.department) or owner_of(complaint, settings) == person.email)


def complaint_moves(person: Person, complaint: Any, settings: Settings) -> list[str]:
    """The transitions this person may make on the complaint now (the lifecycle's, filtered by role)."""
    from sqms.complaints.service import LIFECYCLE, owner_of

    approval = ("approve", "send_back")
    possible = [a for a in LIFECYCLE.allowed(complaint.status)
                if a not in approval or complaint.severity == "special"]
    approves = manages(person, complaint.department) or has(person, "general_manager")
    if has(person, "quality_manager") or manages(person, complaint.department):
        # approving a special complaint's solution is the department manager's or top management's
        return [a for a in possible if a not in approval or approves]
    moves = []
    if owner_of(complaint, settings) == person.email:
        moves += [a for a in possible if a not in approval]
    if has(person, "general_manager"):
        moves += [a for a in possible if a in approval]
    return moves


def complaint_move(person: Person, complaint: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return params.get("action") in complaint_moves(person, complaint, settings)


def complaint_register(person: Person, obj: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """The quality manager for any department; a department manager or the front-line staff for their own."""
    if has(person, "quality_manager"):
        return True
    department = params.get("department", person.department)
    return manages(person, department) or at_counter(person, department)


def register_departments(person: Person, settings: Settings) -> list[str]:
    """The departments the register form offers this person."""
    return [d.code for d in settings.departments if complaint_register(person, None, settings, {"department": d.code})]


# -- service inspections (issue 15) ------------------------------------------------------------------


def inspection_record(person: Person, obj: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """An inspector (`monitoring.inspectors`) records inspections, never of their own department."""
    inspectors = {p.email for p in settings.resolve_recipients(settings.monitoring.inspectors) if not isinstance(p, str)}
    return person.email in inspectors and params.get("department") != person.department


def inspection_view(person: Person, inspection: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """Its inspector, the quality manager and top management, the inspected department's manager."""
    return reads_everything(person) or person.email == inspection.inspector or manages(person, inspection.department)


def _selected(settings: Settings, selectors: tuple[str, ...]) -> set[str]:
    """The emails a config selector list (`role:<role>` or addresses) names."""
    return {p if isinstance(p, str) else p.email for p in settings.resolve_recipients(selectors)}


def compliment_record(person: Person, obj: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """The quality manager for any department; a department manager for their own (front line)."""
    return complaint_register(person, obj, settings, params)


def inspection_evidence(person: Person, inspection: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """Evidence is added by the inspection's inspector or the quality manager."""
    return has(person, "quality_manager") or person.email == inspection.inspector


# -- quality-analysis meeting and suggestions (issue 16) ---------------------------------------------


def meeting_view(person: Person, meeting: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """Those invited or present, the quality manager and top management."""
    return (reads_everything(person) or person.email in (meeting.participants or [])
            or person.email in (meeting.attendees or []) or meeting_minutes(person, meeting, settings, params))


def meeting_list(person: Person, obj: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return (reads_everything(person) or has(person, "department_manager")
            or person.email in _selected(settings, (*settings.meeting.minutes_by, *settings.meeting.participants)))


def meeting_minutes(person: Person, meeting: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """Recording the minutes: `meeting.minutes_by` (the quality manager, or a configured secretary)."""
    return person.email in _selected(settings, settings.meeting.minutes_by)


def suggestion_submit(person: Person, obj: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """Every member of staff may make a suggestion."""
    return True


def suggestion_evaluate(person: Person, suggestion: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return person.email in _selected(settings, settings.suggestions.evaluators)


def suggestion_view(person: Person, suggestion: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """Its submitter, the evaluators and top management."""
    return (reads_everything(person) or suggestion_evaluate(person, suggestion, settings, params)
            or suggestion.created_by == person.email)


# -- corrective actions ----------------------------------------------------------------------------


def _works_on_action(person: Person, action: Any) -> bool:
    return action.owner == person.email or manages(person, action.department) or has(person, "quality_manager")


def _verifies_action(person: Person, action: Any) -> bool:
    """The named verifier; without one the quality manager, or an auditor for an audit finding's action.
    Never the owner."""
    if person.email == action.owner:
        return False
    if action.verifier:
        return action.verifier == person.email
    return has(person, "quality_manager") or (has(person, "internal_auditor") and action.source == "audit_finding")


def action_view(person: Person, action: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return (reads_everything(person) or _works_on_action(person, action) or _verifies_action(person, action)
            or action.verifier == person.email)


def action_work(person: Person, action: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """5-why, root cause, measures, progress notes, evidence."""
    return _works_on_action(person, action)


def action_moves(person: Person, action: Any, settings: Settings) -> list[str]:
    from sqms.actions.service import LIFECYCLE

    possible = LIFECYCLE.allowed(action.status)
    return [m for m in possible if (m in ("start", "complete") and _works_on_action(person, action))
            or (m in ("verify", "reject") and _verifies_action(person, action))]


def action_move(person: Person, action: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return params.get("move") in action_moves(person, action, settings)


# -- PDCA improvement cycles -----------------------------------------------------------------------


def pdca_view(person: Person, cycle: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return reads_everything(person) or pdca_work(person, cycle, settings, params)


def pdca_work(person: Person, cycle: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return cycle.owner == person.email or manages(person, cycle.department) or has(person, "quality_manager")


# -- internal audits ---------------------------------------------------------------------------------


def audit_view(person: Person, cycle: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """The cycle's page; which slots it shows is `slot_view`."""
    return reads_everything(person) or has(person, "internal_auditor") or has(person, "department_manager")


def slot_view(person: Person, slot: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return reads_everything(person) or slot.auditor == person.email or manages(person, slot.department)


def slot_record(person: Person, slot: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """The assigned auditor (never in their own department), or the quality manager."""
    return has(person, "quality_manager") or (slot.auditor == person.email and person.department != slot.department)


# -- management review, surveys, reports, dashboard --------------------------------------------------------


def review_view(person: Person, review: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return reads_everything(person) or has(person, "department_manager")


def review_department_report(person: Person, review: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return has(person, "quality_manager") or manages(person, params.get("department"))


def review_outputs_record(person: Person, review: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return has(person, "quality_manager")


def review_outputs_approve(person: Person, review: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """Top management approves what the review decided (管理评审输出由最高管理者批准)."""
    return has(person, "general_manager")


def survey_view(person: Person, campaign: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return reads_everything(person) or has(person, "department_manager")


def reports_view(person: Person, obj: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return reads_everything(person) or has(person, "department_manager") or has(person, "internal_auditor")


def report_hold(person: Person, obj: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """A draft held for analysis (`report.hold_hours`): those it is mailed to (`report.hold_to`)."""
    return person.email in _selected(settings, settings.report.hold_to)


def dashboard_view(person: Person, obj: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return reads_everything(person)


def kpi_compute(person: Person, obj: Any, settings: Settings, params: dict[str, Any]) -> bool:
    return has(person, "quality_manager")


def process_open(person: Person, obj: Any, settings: Settings, params: dict[str, Any]) -> bool:
    """Opening an audit cycle or a management review is the quality manager's."""
    return has(person, "quality_manager")


def navigation(person: Person, settings: Settings) -> dict[str, bool]:
    """Which of the workspace's sections the header links to for this person."""
    return {"dashboard": dashboard_view(person, None, settings, {}),
            "reports": reports_view(person, None, settings, {}),
            "register": complaint_register(person, None, settings, {}),
            "compliments": compliment_record(person, None, settings, {}),
            "suggestions": suggestion_submit(person, None, settings, {}),
            "meetings": meeting_list(person, None, settings, {})}


def nothing(uow: Any = None) -> None:
    """Loader for routes about no single object (lists, the dashboard)."""
    return


# -- the dependency routes declare ----------------------------------------------------------------


def allow(rule: Rule, loader: Callable[..., Any]) -> Callable[..., Any]:
    """A route dependency: the object from `loader`, if `rule` lets the signed-in person at it."""

    async def dependency(request: Request, obj: Annotated[Any, Depends(loader)], person: Me, settings: Cfg) -> Any:
        params = dict(request.path_params)
        if request.method == "POST":  # what the form asks for (e.g. the department) is part of the question
            params = {**{k: v for k, v in (await request.form()).items() if isinstance(v, str)}, **params}
        if not rule(person, obj, settings, params):
            log.warning("forbidden: %s %s %s (rule %s)", person.email, request.method, request.url.path,
                        rule.__name__)
            raise Forbidden(rule.__name__)
        return obj

    return dependency
