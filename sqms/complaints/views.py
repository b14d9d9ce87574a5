"""The complaint's page in the staff workspace: the item, its deadlines, its history and the
steps the signed-in person may take now (the same `advance` the CLI calls)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from sqms.audit_trail import history
from sqms.calendar import utcnow
from sqms.complaints.models import Complaint
from sqms.complaints.service import ComplaintError, Step, advance, owner_of, register
from sqms.config import Person, Settings
from sqms.db import UnitOfWork
from sqms.kpi_catalog import CHANNELS, SEVERITIES
from sqms.statemachine import IllegalTransition
from sqms.web import permissions as perm
from sqms.web.workspace import Cfg, Me, NotFound, Uow, page, redirect

router = APIRouter()


def load_complaint(complaint_id: str, uow: Uow) -> Complaint:
    complaint = uow.session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound()
    return complaint


def _show(request: Request, uow: UnitOfWork, settings: Settings, me: Person, complaint: Complaint,
          status: int = 200, error: Exception | None = None, values: dict | None = None) -> Response:
    return page(request, "complaint", status=status, c=complaint, owner=owner_of(complaint, settings),
                moves=perm.complaint_moves(me, complaint, settings),
                history=history(uow.session, "complaint", complaint.complaint_id),
                error=error, values=values or {})


@router.get("/complaints/new", dependencies=[Depends(perm.allow(perm.complaint_register, perm.nothing))])
def register_form(request: Request, me: Me, settings: Cfg) -> Response:
    return page(request, "complaint_new", channels=CHANNELS, severities=SEVERITIES, error=None,
                departments=perm.register_departments(me, settings),
                values={"department": me.department, "channel": "phone", "severity": "normal"})


@router.post("/complaints/new", dependencies=[Depends(perm.allow(perm.complaint_register, perm.nothing))])
def register_submit(request: Request, me: Me, uow: Uow, settings: Cfg,
                    department: Annotated[str, Form()] = "", channel: Annotated[str, Form()] = "",
                    severity: Annotated[str, Form()] = "", category: Annotated[str, Form()] = "",
                    description: Annotated[str, Form()] = "", customer_id: Annotated[str, Form()] = "",
                    received_at: Annotated[str, Form()] = "") -> Response:
    values = {"department": department, "channel": channel, "severity": severity, "category": category,
              "description": description, "customer_id": customer_id, "received_at": received_at}
    try:
        try:
            received = (datetime.fromisoformat(received_at).replace(tzinfo=settings.tz) if received_at.strip()
                        else utcnow())
        except ValueError:
            raise ComplaintError(f"received_at: {received_at!r} is not a date and time such as 2026-11-30T09:30",
                                 code="not_a_datetime", field="received_at", value=received_at) from None
        complaint = register(uow.session, settings, received_at=received, department=department, channel=channel,
                             severity=severity, category=category, description=description or None,
                             customer_id=customer_id.strip() or None, actor=me.email)
    except ComplaintError as exc:
        uow.rollback()
        return page(request, "complaint_new", status=422, channels=CHANNELS, severities=SEVERITIES, error=exc,
                    departments=perm.register_departments(me, settings), values=values)
    uow.commit()
    return redirect(f"/app/complaints/{complaint.complaint_id}")


@router.get("/complaints/{complaint_id}")
def complaint_page(request: Request, complaint: Annotated[Complaint, Depends(perm.allow(perm.complaint_view,
                                                                                      load_complaint))],
                   me: Me, uow: Uow, settings: Cfg) -> Response:
    return _show(request, uow, settings, me, complaint)


@router.post("/complaints/{complaint_id}/{action}")
def complaint_move(request: Request, action: str,
                   complaint: Annotated[Complaint, Depends(perm.allow(perm.complaint_move, load_complaint))],
                   me: Me, uow: Uow, settings: Cfg, solution: Annotated[str, Form()] = "",
                   answer: Annotated[str, Form()] = "", score: Annotated[str, Form()] = "",
                   comment: Annotated[str, Form()] = "") -> Response:
    step = Step(solution=solution or None, answer=answer or None, approver=me.email,
                score=int(score) if score.strip().isdigit() else None,
                feedback_comment=comment or None, feedback_channel="phone")
    try:
        advance(uow.session, settings, complaint, action, step, actor=me.email, comment=comment or None)
    except (ComplaintError, IllegalTransition) as exc:
        uow.rollback()
        return _show(request, uow, settings, me, uow.session.get(Complaint, complaint.complaint_id), status=422,
                     error=exc, values={"action": action, "solution": solution, "answer": answer,
                                             "score": score, "comment": comment})
    uow.commit()
    return redirect(f"/app/complaints/{complaint.complaint_id}")
