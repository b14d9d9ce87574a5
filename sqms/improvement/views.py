"""A PDCA improvement cycle's page: plan (root cause, actions), do, standardise — the same
`plan`, `start` and `standardise` the CLI calls (check and act's decision are automatic)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from sqms.audit_trail import history
from sqms.config import Person, Settings
from sqms.db import UnitOfWork
from sqms.improvement.models import ImprovementCycle
from sqms.improvement.service import (
    ENTITY,
    ImprovementError,
    actions_of,
    get,
    plan,
    standardise,
    start,
)
from sqms.statemachine import IllegalTransition
from sqms.web import permissions as perm
from sqms.web.workspace import Cfg, Me, NotFound, Uow, page, redirect

router = APIRouter()


def load_cycle(cycle_id: str, uow: Uow) -> ImprovementCycle:
    try:
        return get(uow.session, cycle_id)
    except ImprovementError:
        raise NotFound() from None


Viewable = Annotated[ImprovementCycle, Depends(perm.allow(perm.pdca_view, load_cycle))]
Workable = Annotated[ImprovementCycle, Depends(perm.allow(perm.pdca_work, load_cycle))]


def _show(request: Request, uow: UnitOfWork, settings: Settings, me: Person, cycle: ImprovementCycle,
          status: int = 200, error: Exception | None = None, values: dict | None = None) -> Response:
    return page(request, "pdca", status=status, c=cycle, actions=actions_of(uow.session, cycle),
                works=perm.pdca_work(me, cycle, settings, {}), history=history(uow.session, ENTITY, cycle.ref),
                error=error, values=values or {})


@router.get("/pdca/{cycle_id}")
def pdca_page(request: Request, cycle: Viewable, me: Me, uow: Uow, settings: Cfg) -> Response:
    return _show(request, uow, settings, me, cycle)


@router.post("/pdca/{cycle_id}/{step}")
def pdca_step(request: Request, step: str, cycle: Workable, me: Me, uow: Uow, settings: Cfg,
              root_cause: Annotated[str, Form()] = "", action_title: Annotated[str, Form()] = "",
              action_owner: Annotated[str, Form()] = "", due_on: Annotated[str, Form()] = "",
              standard: Annotated[str, Form()] = "", version: Annotated[str, Form()] = "") -> Response:
    values = {"step": step, "root_cause": root_cause, "action_title": action_title, "action_owner": action_owner,
              "due_on": due_on, "standard": standard, "version": version}
    try:
        if step == "plan":
            try:
                due = date.fromisoformat(due_on) if due_on.strip() else None
            except ValueError:
                raise ImprovementError(f"due_on: {due_on!r} is not a date such as 2026-12-31", code="not_a_date",
                                       field="due_on", value=due_on) from None
            plan(uow.session, settings, cycle, root_cause=root_cause or None, action_title=action_title or None,
                 action_owner=action_owner or None, due_on=due, actor=me.email)
        elif step == "start":
            start(uow.session, settings, cycle, actor=me.email)
        elif step == "standardise":
            standardise(uow.session, settings, cycle, standard=standard, version=version, actor=me.email)
        else:
            raise NotFound()
    except (ImprovementError, IllegalTransition, ValueError) as exc:
        uow.rollback()
        return _show(request, uow, settings, me, get(uow.session, cycle.ref), status=422, error=exc,
                     values=values)
    uow.commit()
    return redirect(f"/app/pdca/{cycle.ref}")
