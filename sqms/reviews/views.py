"""The management review's page: each department's annual report (its manager submits it here),
the outputs (recorded by the quality manager as in `sqms review outputs`) and their approval by
the general manager — the same service functions the CLI calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from sqms.audit_trail import history
from sqms.config import Person, Settings
from sqms.db import UnitOfWork
from sqms.reviews.models import ManagementReview
from sqms.reviews.service import (
    LIFECYCLE,
    ReviewError,
    decide_outputs,
    get,
    open_review,
    outputs_decision,
    outputs_of,
    record_outputs,
    reports_of,
    submit_report,
)
from sqms.statemachine import IllegalTransition
from sqms.web import permissions as perm
from sqms.web.workspace import Cfg, Me, NotFound, Uow, page, redirect

router = APIRouter()


def load_review(year: str, uow: Uow) -> ManagementReview:
    try:
        return get(uow.session, year)
    except ReviewError:
        raise NotFound() from None


def _show(request: Request, uow: UnitOfWork, settings: Settings, me: Person, review: ManagementReview,
          status: int = 200, error: Exception | None = None, values: dict | None = None) -> Response:
    reports = {r.department: r for r in reports_of(uow.session, review)}
    departments = [d for d in settings.departments
                   if perm.reads_everything(me) or perm.manages(me, d.code)]
    return page(request, "review", status=status, review=review, reports=reports, departments=departments,
                may_submit={d.code for d in departments
                            if perm.review_department_report(me, review, settings, {"department": d.code})},
                outputs=outputs_of(uow.session, review), decision=outputs_decision(uow.session, review),
                may_record=perm.review_outputs_record(me, review, settings, {}),
                may_approve=perm.review_outputs_approve(me, review, settings, {}),
                history=history(uow.session, LIFECYCLE.entity, review.code), error=error, values=values or {})


def _failed(request, uow, settings, me, review, exc, values) -> Response:
    uow.rollback()
    return _show(request, uow, settings, me, get(uow.session, review.year), status=422, error=exc, values=values)


@router.post("/reviews/", dependencies=[Depends(perm.allow(perm.process_open, perm.nothing))])
def open_a_review(me: Me, uow: Uow, settings: Cfg) -> Response:
    """Open last year's review, as `sqms review open` does."""
    review, _ = open_review(uow.session, settings, actor=me.email)
    uow.commit()
    return redirect(f"/app/reviews/{review.year}")


@router.get("/reviews/{year}")
def review_page(request: Request, review: Annotated[ManagementReview, Depends(perm.allow(perm.review_view,
                                                                                         load_review))],
                me: Me, uow: Uow, settings: Cfg) -> Response:
    return _show(request, uow, settings, me, review)


@router.post("/reviews/{year}/reports/{department}")
def department_report(request: Request, department: str,
                      review: Annotated[ManagementReview, Depends(perm.allow(perm.review_department_report,
                                                                             load_review))],
                      me: Me, uow: Uow, settings: Cfg, text: Annotated[str, Form()] = "") -> Response:
    try:
        submit_report(uow.session, settings, review, department, text=text, actor=me.email)
    except ReviewError as exc:
        return _failed(request, uow, settings, me, review, exc, {"department": department, "text": text})
    uow.commit()
    return redirect(f"/app/reviews/{review.year}")


@router.post("/reviews/{year}/outputs")
def outputs(request: Request,
            review: Annotated[ManagementReview, Depends(perm.allow(perm.review_outputs_record, load_review))],
            me: Me, uow: Uow, settings: Cfg, outputs_yaml: Annotated[str, Form()] = "") -> Response:
    try:
        record_outputs(uow.session, settings, review, outputs_yaml, actor=me.email)
    except (ReviewError, IllegalTransition) as exc:
        return _failed(request, uow, settings, me, review, exc, {"outputs_yaml": outputs_yaml})
    uow.commit()
    return redirect(f"/app/reviews/{review.year}")


@router.post("/reviews/{year}/outputs/{decision}")
def outputs_decide(request: Request, decision: str,
                   review: Annotated[ManagementReview, Depends(perm.allow(perm.review_outputs_approve, load_review))],
                   me: Me, uow: Uow, settings: Cfg, reason: Annotated[str, Form()] = "") -> Response:
    if decision not in ("approve", "send_back"):
        raise NotFound()
    try:
        decide_outputs(uow.session, settings, review, by=me.email, approve=decision == "approve", reason=reason)
    except ReviewError as exc:
        return _failed(request, uow, settings, me, review, exc, {"reason": reason})
    uow.commit()
    return redirect(f"/app/reviews/{review.year}")
